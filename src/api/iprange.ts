// Address ranges of a VirtualIPPool ("192.0.2.64/27", "192.0.2.100-192.0.2.110",
// "2001:db8::100/120", "192.0.2.7") and router id ranges ("50-99", "7"), as
// numbers that can be compared and counted. Pure.
import { canonicalIP, parseIPv4, parseIPv6, type Family } from "./ip.js";

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  family: Family;
  first: bigint;
  last: bigint;
  /** The entry as written. */
  text: string;
}

/** An inclusive range of VRRP router ids. */
export interface RouterIdRange {
  first: number;
  last: number;
}

/** Result of a parse: the value or a sentence saying what is wrong. */
export type RangeResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** The number of an IP literal, or undefined when it is not one. */
export function ipToBigInt(s: string): { family: Family; value: bigint } | undefined {
  const v4 = parseIPv4(s);
  if (v4) return { family: 4, value: v4.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n) };
  const v6 = parseIPv6(s);
  if (v6) return { family: 6, value: v6.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n) };
  return undefined;
}

/** The canonical literal of an address number. */
export function bigIntToIP(family: Family, value: bigint): string {
  if (family === 4) {
    const o = [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 0xffn));
    return o.join(".");
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return canonicalIP(groups.join(":")) ?? groups.join(":");
}

function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** Parses one pool address entry: a CIDR (host bits zero), a range "first-last" of one family, or one address. */
export function parseAddressRange(text: string): RangeResult<AddressRange> {
  if (text.includes("/")) {
    const [ip = "", len = ""] = text.split("/");
    const addr = ipToBigInt(ip);
    if (!addr || !/^[0-9]{1,3}$/.test(len)) return { ok: false, error: `${JSON.stringify(text)} is not a CIDR` };
    const prefix = Number(len);
    const width = bits(addr.family);
    if (prefix > width) return { ok: false, error: `${JSON.stringify(text)}: prefix length ${prefix} is over ${width}` };
    const hostBits = BigInt(width - prefix);
    const mask = (1n << hostBits) - 1n;
    if ((addr.value & mask) !== 0n)
      return { ok: false, error: `${JSON.stringify(text)} has host bits set (the network is ${bigIntToIP(addr.family, addr.value & ~mask)}/${prefix})` };
    return { ok: true, value: { family: addr.family, first: addr.value, last: addr.value | mask, text } };
  }
  if (text.includes("-")) {
    const parts = text.split("-");
    const a = ipToBigInt(parts[0] ?? "");
    const b = ipToBigInt(parts[1] ?? "");
    if (parts.length !== 2 || !a || !b) return { ok: false, error: `${JSON.stringify(text)} is not a range of two addresses` };
    if (a.family !== b.family) return { ok: false, error: `${JSON.stringify(text)} mixes IPv4 and IPv6` };
    if (a.value > b.value) return { ok: false, error: `${JSON.stringify(text)} ends before it starts` };
    return { ok: true, value: { family: a.family, first: a.value, last: b.value, text } };
  }
  const one = ipToBigInt(text);
  if (!one) return { ok: false, error: `${JSON.stringify(text)} is not an address, a CIDR or a range` };
  return { ok: true, value: { family: one.family, first: one.value, last: one.value, text } };
}

/** Parses one router id entry: "N" or "N-M", 1..255. */
export function parseRouterIdRange(text: string): RangeResult<RouterIdRange> {
  const m = /^([0-9]{1,3})(?:-([0-9]{1,3}))?$/.exec(text);
  if (!m) return { ok: false, error: `${JSON.stringify(text)} is not a router id or a range "first-last"` };
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (first < 1 || last > 255) return { ok: false, error: `${JSON.stringify(text)}: router ids are 1..255` };
  if (first > last) return { ok: false, error: `${JSON.stringify(text)} ends before it starts` };
  return { ok: true, value: { first, last } };
}

/** Whether two ranges share an address. */
export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last;
}

/** Number of addresses in a range. */
export function rangeSize(r: AddressRange): bigint {
  return r.last - r.first + 1n;
}
