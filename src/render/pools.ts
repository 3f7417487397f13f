// Address pools: which pools are in use (decided oldest first: a pool that
// overlaps an older one, or has no usable address, is not used at all and
// says why in its status), which namespaces a pool admits, which addresses
// and router ids it holds, and what it hands out. Pure.
import { compareStrings, timestampMs } from "./order.js";
import { parseAddressRange, parseRouterIdRange, rangesOverlap } from "../api/index.js";
import type { AddressRange, Family, RouterIdRange, VirtualIPPool } from "../api/index.js";
import type { AddressAssignment } from "./allocation.js";
import { SPECIAL, type Reserved } from "./reserved.js";
import { matchesLabelSelector } from "./selector.js";

/** The label every Namespace carries with its own name (set by the API server). */
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
/** Largest count a pool status reports. */
const MAX_COUNT = BigInt(Number.MAX_SAFE_INTEGER);

/** One address range of a usable pool. */
interface PoolRange extends AddressRange {
  /** The first address is never handed out: the network address of an IPv4 CIDR shorter than /31, the subnet-router anycast address of an IPv6 CIDR shorter than /127. */
  skipFirst: boolean;
  /** The last address is never handed out: the broadcast address of an IPv4 CIDR shorter than /31. */
  skipLast: boolean;
}

/** A pool that is in use. */
export interface UsablePool {
  name: string;
  ranges: PoolRange[];
  routerIds: RouterIdRange[];
  pool: VirtualIPPool;
}

/** Why a pool is not used, for its Ready condition. */
export interface PoolProblem {
  reason: "InvalidAddresses" | "InvalidRouterIds" | "Overlap" | "NoUsableAddress";
  message: string;
}

/** The pools of the cluster, decided oldest first. */
export interface PoolIndex {
  /** Usable pools by name order. */
  usable: UsablePool[];
  byName: Map<string, UsablePool>;
  /** Pools that are not used, by name. */
  problems: Map<string, PoolProblem>;
  /** Every pool name (usable or not). */
  names: Set<string>;
}

function poolRanges(pool: VirtualIPPool): { ranges: PoolRange[] } | { problem: PoolProblem } {
  const ranges: PoolRange[] = [];
  for (const [i, text] of pool.spec.addresses.entries()) {
    const r = parseAddressRange(text);
    if (!r.ok) return { problem: { reason: "InvalidAddresses", message: `spec.addresses[${i}]: ${r.error}` } };
    const prefix = text.includes("/") ? Number(text.split("/")[1]) : undefined;
    const shortCidr = prefix !== undefined && prefix < (r.value.family === 4 ? 31 : 127);
    const range: PoolRange = { ...r.value, skipFirst: shortCidr, skipLast: shortCidr && r.value.family === 4 };
    const clash = ranges.find((o) => rangesOverlap(o, range));
    if (clash) return { problem: { reason: "InvalidAddresses", message: `spec.addresses[${i}]: ${text} overlaps ${clash.text} of the same pool` } };
    ranges.push(range);
  }
  return { ranges };
}

/** Number of addresses of a range that may be handed out: edges of a short IPv4 CIDR and every address of `excluded` left out. */
function countUsable(r: PoolRange, excluded: readonly AddressRange[]): bigint {
  const lo = r.skipFirst ? r.first + 1n : r.first;
  const hi = r.skipLast ? r.last - 1n : r.last;
  if (hi < lo) return 0n;
  const cuts = excluded
    .filter((x) => x.family === r.family && x.first <= hi && lo <= x.last)
    .map((x) => ({ first: x.first > lo ? x.first : lo, last: x.last < hi ? x.last : hi }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  let n = hi - lo + 1n;
  // Excluded ranges may overlap each other: count each address once.
  let end = lo - 1n;
  for (const c of cuts) {
    const from = c.first > end ? c.first : end + 1n;
    if (c.last >= from) n -= c.last - from + 1n;
    if (c.last > end) end = c.last;
  }
  return n;
}

/** Number of addresses of a range that may be handed out whatever the cluster (edges and special ranges left out). */
function usableCount(r: PoolRange): bigint {
  return countUsable(
    r,
    SPECIAL.map((x) => x.range),
  );
}

/** Decides which pools are used: oldest first, so that a new pool never takes addresses from an older one. */
export function indexPools(pools: readonly VirtualIPPool[]): PoolIndex {
  const ordered = [...pools].sort(
    (a, b) => timestampMs(a.metadata.creationTimestamp) - timestampMs(b.metadata.creationTimestamp) || compareStrings(a.metadata.name, b.metadata.name),
  );
  const usable: UsablePool[] = [];
  const problems = new Map<string, PoolProblem>();
  const names = new Set<string>();
  for (const pool of ordered) {
    const name = pool.metadata.name;
    if (names.has(name)) continue;
    names.add(name);
    const parsed = poolRanges(pool);
    if ("problem" in parsed) {
      problems.set(name, parsed.problem);
      continue;
    }
    const routerIds: RouterIdRange[] = [];
    const badId = pool.spec.virtualRouterIds.map((t, i) => ({ r: parseRouterIdRange(t), i })).find(({ r }) => !r.ok);
    if (badId && !badId.r.ok) {
      problems.set(name, { reason: "InvalidRouterIds", message: `spec.virtualRouterIds[${badId.i}]: ${badId.r.error}` });
      continue;
    }
    for (const t of pool.spec.virtualRouterIds) {
      const r = parseRouterIdRange(t);
      if (r.ok) routerIds.push(r.value);
    }
    const overlap = usable.flatMap((u) => u.ranges.filter((o) => parsed.ranges.some((r) => rangesOverlap(o, r))).map((o) => ({ u, o })))[0];
    if (overlap) {
      const mine = parsed.ranges.find((r) => rangesOverlap(r, overlap.o));
      problems.set(name, {
        reason: "Overlap",
        message: `spec.addresses: ${mine?.text ?? ""} overlaps ${overlap.o.text} of the older VirtualIPPool ${overlap.u.name}`,
      });
      continue;
    }
    if (parsed.ranges.every((r) => usableCount(r) === 0n)) {
      problems.set(name, {
        reason: "NoUsableAddress",
        message: "spec.addresses: no address of the pool may be handed out (only network, broadcast or reserved addresses)",
      });
      continue;
    }
    usable.push({ name, ranges: parsed.ranges, routerIds, pool });
  }
  usable.sort((a, b) => compareStrings(a.name, b.name));
  return { usable, byName: new Map(usable.map((u) => [u.name, u])), problems, names };
}

/** Whether `labels` of namespace `ns` are admitted by the pool. */
export function poolAdmits(pool: UsablePool, ns: string, labels: Readonly<Record<string, string>> | undefined): boolean {
  // The name label last: a Namespace's own labels never stand in for another namespace's name.
  return matchesLabelSelector(pool.pool.spec.namespaceSelector, { ...(labels ?? {}), [NAMESPACE_NAME_LABEL]: ns });
}

export function inRange(r: PoolRange, value: bigint): boolean {
  if (value < r.first || value > r.last) return false;
  return !(r.skipFirst && value === r.first) && !(r.skipLast && value === r.last);
}

/** Whether the pool holds the address (network, broadcast and subnet-router anycast addresses of CIDRs excluded). */
export function poolHolds(pool: UsablePool, family: Family, value: bigint): boolean {
  return pool.ranges.some((r) => r.family === family && inRange(r, value));
}

export function poolHasRouterId(pool: UsablePool, id: number): boolean {
  return pool.routerIds.some((r) => r.first <= id && id <= r.last);
}

/** The status of one pool: counts and its Ready condition. */
export interface PoolPlan {
  name: string;
  allocated: number;
  available: number;
  ready: { status: "True" | "False"; reason: string; message: string };
}

/** Pool name -> address -> how many VirtualIPs were assigned it (the distinct addresses a pool hands out are the keys). */
export type AddressesInUse = Map<string, Map<string, number>>;

/** Counts one assignment in (`by` 1) or out (`by` -1) of `inUse`. */
export function countAssignment(inUse: AddressesInUse, a: AddressAssignment | undefined, by: 1 | -1): void {
  if (a?.pool === undefined || a.address === undefined) return;
  const pool = inUse.get(a.pool) ?? new Map<string, number>();
  const n = (pool.get(a.address) ?? 0) + by;
  if (n > 0) pool.set(a.address, n);
  else pool.delete(a.address);
  inUse.set(a.pool, pool);
}

/** The addresses each pool hands out, from every assignment. */
export function addressesInUse(assignments: ReadonlyMap<string, AddressAssignment>): AddressesInUse {
  const inUse: AddressesInUse = new Map();
  for (const a of assignments.values()) countAssignment(inUse, a, 1);
  return inUse;
}

/** Counts what each pool hands out, and says why unused pools are not used. */
export function planPoolStatuses(pools: readonly VirtualIPPool[], index: PoolIndex, inUse: AddressesInUse, reserved: Reserved): PoolPlan[] {
  const out: PoolPlan[] = [];
  for (const name of [...new Set(pools.map((p) => p.metadata.name))].sort(compareStrings)) {
    const bad = index.problems.get(name);
    const usable = index.byName.get(name);
    if (bad || !usable) {
      out.push({
        name,
        allocated: 0,
        available: 0,
        ready: { status: "False", reason: bad?.reason ?? "Invalid", message: `VirtualIPPool ${name}: ${bad?.message ?? "not in use"}` },
      });
      continue;
    }
    const excluded = reserved.ranges.map((x) => x.range);
    let total = 0n;
    for (const r of usable.ranges) total += countUsable(r, excluded);
    for (const node of reserved.nodes.keys()) {
      const [fam, hex] = node.split(":");
      const family = Number(fam) as Family;
      const value = BigInt(`0x${hex ?? "0"}`);
      const counted = !excluded.some((x) => x.family === family && x.first <= value && value <= x.last);
      if (counted && poolHolds(usable, family, value)) total -= 1n;
    }
    const allocated = inUse.get(name)?.size ?? 0;
    const free = total - BigInt(allocated);
    const available = Number(free < 0n ? 0n : free > MAX_COUNT ? MAX_COUNT : free);
    out.push({
      name,
      allocated,
      available,
      ready: {
        status: "True",
        reason: "InUse",
        message: `VirtualIPPool ${name} hands out ${allocated} address${allocated === 1 ? "" : "es"}; ${available} free`,
      },
    });
  }
  return out;
}
