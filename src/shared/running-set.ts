// The compact form of "the addresses a node runs" that an agent publishes on
// its heartbeat Lease and the operator reads before it lets a deleted
// VirtualIP go (ADR 0017). Pure (hashing only).
//
// Text form: `v1.<salt>.<data>`. Each address is hashed with the salt to 32
// bits (sha256, first four bytes); the sorted distinct hashes are written as
// LEB128 deltas in base64url. About 2.5-4 bytes of text per address whatever
// its family (10,000 addresses: ~40 KB), where a plain list of IPv6 literals
// would take up to 40. The only error is a false "still runs it" (two
// addresses with one hash, chance n / 2^32), which makes a deletion wait, never
// end early. The salt is the agent's own random value, so no tenant can pick
// an address that collides with another's. `v1.<salt>.*` means "too many to
// list": every address counts as running.
import { createHash, randomBytes } from "node:crypto";

const VERSION = "v1";
/** Most characters a published set may take (the Lease's annotations share the API's 256 KiB limit). */
export const MAX_RUNNING_SET_CHARS = 128 * 1024;
/** Longest text parseRunningSet reads (anything longer is not one of ours). */
const MAX_PARSE_CHARS = 256 * 1024;

/** A parsed published set: answers "may the node run this address?". */
export interface RunningSet {
  /** Whether the node may still run `address` (canonical literal); true for an unlisted ("too many") set. */
  has(address: string): boolean;
  /** Number of distinct hashes listed; undefined for "too many". */
  size: number | undefined;
}

function hashAddress(salt: string, address: string): number {
  return createHash("sha256").update(salt).update("\0").update(address).digest().readUInt32BE(0);
}

/** A fresh random salt (16 hex digits). */
export function newRunningSetSalt(): string {
  return randomBytes(8).toString("hex");
}

/** Encodes `addresses` (canonical literals) with `salt` (16 hex digits). */
export function encodeRunningSet(salt: string, addresses: Iterable<string>): string {
  const hashes = [...new Set([...addresses].map((a) => hashAddress(salt, a)))].sort((a, b) => a - b);
  const bytes: number[] = [];
  let prev = 0;
  for (const h of hashes) {
    let d = h - prev;
    prev = h;
    while (d >= 0x80) {
      bytes.push((d & 0x7f) | 0x80);
      d = Math.floor(d / 128);
    }
    bytes.push(d);
  }
  const text = `${VERSION}.${salt}.${Buffer.from(bytes).toString("base64url")}`;
  return text.length <= MAX_RUNNING_SET_CHARS ? text : `${VERSION}.${salt}.*`;
}

/** Parses a published set; undefined when the text is not one (the node then counts as not having said). */
export function parseRunningSet(text: string | undefined): RunningSet | undefined {
  if (text === undefined || text.length > MAX_PARSE_CHARS) return undefined;
  const m = /^v1\.([0-9a-f]{16})\.([A-Za-z0-9_-]*|\*)$/.exec(text);
  if (!m) return undefined;
  const salt = m[1] ?? "";
  if (m[2] === "*") return { has: () => true, size: undefined };
  const bytes = Buffer.from(m[2] ?? "", "base64url");
  const hashes = new Set<number>();
  let value = 0;
  let shift = 1;
  let acc = 0;
  for (const b of bytes) {
    value += (b & 0x7f) * shift;
    if (b & 0x80) {
      shift *= 128;
      if (shift > 2 ** 35) return undefined;
      continue;
    }
    acc += value;
    if (acc > 0xffffffff) return undefined;
    hashes.add(acc);
    value = 0;
    shift = 1;
  }
  if (shift !== 1) return undefined;
  return { has: (address) => hashes.has(hashAddress(salt, address)), size: hashes.size };
}
