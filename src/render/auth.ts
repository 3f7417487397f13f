// VRRPv2 PASS authentication: reading and checking the password a VirtualIP
// references. Pure. The password never appears in a returned message.
import type { V1Secret } from "@kubernetes/client-node";

/** Longest PASS password VRRPv2 carries. */
export const MAX_AUTH_PASSWORD = 8;

/**
 * Printable ASCII without whitespace, quotes, or characters keepalived's
 * parser treats as syntax (# and ! start comments, braces open blocks, $
 * substitutes variables, backslash escapes).
 */
const PASSWORD_CHARS = /^[A-Za-z0-9%&()*+,\-./:;<=>?@[\]^_`|~]+$/;

export type AuthPasswordResult = { ok: true; password: string } | { ok: false; message: string };

/** The Secret's value for `key`: data is base64, stringData (offline manifests) is plain. */
function secretValue(secret: V1Secret, key: string): string | undefined {
  const plain = secret.stringData?.[key];
  if (typeof plain === "string") return plain;
  const encoded = secret.data?.[key];
  if (typeof encoded !== "string") return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return "\u0000";
  return Buffer.from(encoded, "base64").toString("utf8");
}

/**
 * Reads and checks the PASS password in `secret` under `key` (untrusted).
 * Messages name the Secret and key, never the value.
 */
export function parseAuthPassword(secret: V1Secret | undefined, ref: { namespace: string; name: string; key: string }): AuthPasswordResult {
  const where = `Secret ${ref.namespace}/${ref.name}`;
  if (!secret) return { ok: false, message: `${where} not found` };
  const value = secretValue(secret, ref.key);
  if (value === undefined) return { ok: false, message: `${where} has no key ${ref.key}` };
  const at = `the password in ${where} key ${ref.key}`;
  if (value.length === 0) return { ok: false, message: `${at} is empty` };
  if (value.length > MAX_AUTH_PASSWORD) return { ok: false, message: `${at} is longer than ${MAX_AUTH_PASSWORD} characters` };
  if (!PASSWORD_CHARS.test(value)) {
    return {
      ok: false,
      message: `${at} must be printable ASCII without whitespace (a trailing newline?), quotes or any of # ! { } $ \\`,
    };
  }
  return { ok: true, password: value };
}
