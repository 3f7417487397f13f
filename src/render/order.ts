// Ordering helpers that make every output of the renderer deterministic:
// object keys, ages, IP addresses, plain string order. Pure.
import type { VirtualIP } from "../api/index.js";
import { parsedIP } from "./ipmemo.js";
import { objectKey } from "../shared/keys.js";

/** Byte-wise string order (never locale-dependent). */
export function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/** Timestamps parsed once (sorting compares the same creationTimestamps many times); a bounded memo of a pure function. */
const parsedTimes = new Map<string, number>();
const MAX_PARSED_TIMES = 100_000;

/** Milliseconds since the epoch of a creationTimestamp; a missing or unreadable one counts as newest. */
export function timestampMs(t: string | Date | undefined): number {
  if (t instanceof Date) return Number.isNaN(t.getTime()) ? Infinity : t.getTime();
  if (typeof t !== "string") return Infinity;
  let ms = parsedTimes.get(t);
  if (ms === undefined) {
    if (parsedTimes.size >= MAX_PARSED_TIMES) parsedTimes.clear();
    const parsed = Date.parse(t);
    ms = Number.isNaN(parsed) ? Infinity : parsed;
    parsedTimes.set(t, ms);
  }
  return ms;
}

/**
 * Age order of VirtualIPs: the older (earlier creationTimestamp) first, then
 * namespace/name. The first of two conflicting VirtualIPs wins.
 */
export function compareAge(a: VirtualIP, b: VirtualIP): number {
  const ta = timestampMs(a.metadata.creationTimestamp);
  const tb = timestampMs(b.metadata.creationTimestamp);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareStrings(objectKey(a.metadata), objectKey(b.metadata));
}

/** Numeric order of IP literals: IPv4 before IPv6, then by value; non-IPs last, by text. */
export function compareIP(a: string, b: string): number {
  if (a === b) return 0;
  const na = parsedIP(a).numbers;
  const nb = parsedIP(b).numbers;
  if (na.length === 0 || nb.length === 0) {
    if (na.length !== nb.length) return na.length === 0 ? 1 : -1;
    return compareStrings(a, b);
  }
  for (let i = 0; i < Math.min(na.length, nb.length); i++) {
    const d = (na[i] ?? 0) - (nb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return na.length - nb.length;
}

/** Sorted, de-duplicated copy of a string list. */
export function sortedUnique(items: Iterable<string>, compare: (a: string, b: string) => number = compareStrings): string[] {
  return [...new Set(items)].sort(compare);
}
