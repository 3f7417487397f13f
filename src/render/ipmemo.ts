// Parsed IP literals, remembered: the renderer compares and re-checks the same
// few node and VIP addresses many thousands of times per plan. Pure in effect
// (a bounded memo of a pure function; results never depend on it).
import { canonicalIP, ipFamily, ipToBigInt, parseIPv4, parseIPv6 } from "../api/index.js";
import type { Family } from "../api/index.js";

/** What the renderer needs to know about one IP literal. */
export interface ParsedIP {
  /** [4, a, b, c, d] or [6, g0..g7]; empty when not an IP. */
  numbers: number[];
  /** Canonical text, or undefined when not an IP. */
  canonical: string | undefined;
  family: Family | undefined;
}

/** Entries kept before the memo starts over, so it cannot grow without bound in a long-lived process. */
const MAX_ENTRIES = 100_000;
const memo = new Map<string, ParsedIP>();

function parse(s: string): ParsedIP {
  const v4 = parseIPv4(s);
  const v6 = v4 ? undefined : parseIPv6(s);
  const numbers = v4 ? [4, ...v4] : v6 ? [6, ...v6] : [];
  return { numbers, canonical: canonicalIP(s), family: ipFamily(s) };
}

/** `s` parsed once and remembered. */
export function parsedIP(s: string): ParsedIP {
  let p = memo.get(s);
  if (p === undefined) {
    if (memo.size >= MAX_ENTRIES) memo.clear();
    p = parse(s);
    memo.set(s, p);
  }
  return p;
}

/** An IP literal as family and number (ipToBigInt), or undefined when not an IP. */
export type NumberedIP = { family: Family; value: bigint } | undefined;

const numbered = new Map<string, NumberedIP>();

/** `ipToBigInt(s)`, parsed once and remembered (the result is immutable). */
export function numberedIP(s: string): NumberedIP {
  if (numbered.has(s)) return numbered.get(s);
  if (numbered.size >= MAX_ENTRIES) numbered.clear();
  const n = ipToBigInt(s);
  numbered.set(s, n);
  return n;
}
