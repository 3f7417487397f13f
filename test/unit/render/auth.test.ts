// VRRPv2 PASS password: read from a Secret, checked, never echoed.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1Secret } from "@kubernetes/client-node";
import { parseAuthPassword } from "../../../src/render/index.js";

const ref = { namespace: "default", name: "vrrp", key: "password" };

function b64(s: string): string {
  return Buffer.from(s).toString("base64");
}

function withData(value: string): V1Secret {
  return { metadata: { name: "vrrp", namespace: "default" }, data: { password: b64(value) } };
}

const rejected: { name: string; secret: V1Secret | undefined; password?: string; want: RegExp }[] = [
  { name: "missing Secret", secret: undefined, want: /Secret default\/vrrp not found/ },
  { name: "missing key", secret: { metadata: { name: "vrrp" }, data: { other: b64("abc") } }, want: /has no key password/ },
  { name: "empty password", secret: withData(""), password: "", want: /is empty/ },
  { name: "nine characters", secret: withData("Secret999"), password: "Secret999", want: /longer than 8 characters/ },
  { name: "a trailing newline", secret: withData("hunter2\n"), password: "hunter2\n", want: /whitespace/ },
  { name: "a space", secret: withData("pa ss"), password: "pa ss", want: /whitespace/ },
  { name: "a double quote", secret: withData('pa"ss'), password: 'pa"ss', want: /quotes/ },
  { name: "a single quote", secret: withData("pa'ss"), password: "pa'ss", want: /quotes/ },
  { name: "a comment character", secret: withData("pa#ss"), password: "pa#ss", want: /printable ASCII/ },
  { name: "a closing brace", secret: withData("pa}ss"), password: "pa}ss", want: /printable ASCII/ },
  { name: "a dollar", secret: withData("pa$ss"), password: "pa$ss", want: /printable ASCII/ },
  { name: "non-ASCII", secret: withData("pässwd"), password: "pässwd", want: /printable ASCII/ },
  { name: "data that is not base64", secret: { metadata: { name: "vrrp" }, data: { password: "!!!not-base64" } }, want: /printable ASCII/ },
];

void describe("parseAuthPassword", () => {
  void test("accepts up to 8 printable characters from data (base64)", () => {
    assert.deepEqual(parseAuthPassword(withData("K8s.vip1"), ref), { ok: true, password: "K8s.vip1" });
  });
  void test("accepts stringData as written in a manifest", () => {
    assert.deepEqual(parseAuthPassword({ metadata: { name: "vrrp" }, stringData: { password: "a-b_c" } }, ref), { ok: true, password: "a-b_c" });
  });
  for (const c of rejected) {
    void test(`rejects ${c.name} without showing the password`, () => {
      const res = parseAuthPassword(c.secret, ref);
      assert.equal(res.ok, false);
      if (res.ok) return;
      assert.match(res.message, c.want);
      if (c.password) assert.ok(!res.message.includes(c.password), `message shows the password: ${res.message}`);
    });
  }
});
