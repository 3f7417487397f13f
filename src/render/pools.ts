// Address pools: which pools are usable, which addresses are never allowed,
// which pool admits a VirtualIP's address and router id, and the allocation
// of addresses and router ids to VirtualIPs that name none. Pure.
//
// Decisions (docs/pools.md, ADR 0008):
// - No pool, no address: a VirtualIP whose address is in no pool that admits
//   its namespace is left out (NoPool, AddressNotAllowed, RouterIdNotAllowed).
// - Some addresses are never allowed whatever the pools say (AddressReserved).
// - An allocation is kept in the VirtualIP's status and kept for as long as it
//   is still allowed, so it survives restarts, leader changes and re-lists.
// - Pools are decided oldest first: a pool that overlaps an older one, or has
//   no usable address, is not used at all and says why in its status.
import { CONDITION_READY, ReadyReason, ipToBigInt, parseAddressRange, parseRouterIdRange } from "../api/index.js";
import type { AddressRange, Family, RouterIdRange, VirtualIP, VirtualIPPool } from "../api/index.js";
import { bigIntToIP, rangesOverlap } from "../api/index.js";
import { compareAge, compareStrings, objectKey, timestampMs } from "./order.js";
import { claimExpired, DEFAULT_CLAIM_GRACE_MS } from "./claims.js";
import { matchesLabelSelector } from "./selector.js";
import type { Problem } from "./types.js";

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

/** A named range that may never be a virtual IP. */
interface ReservedRange {
  range: AddressRange;
  what: string;
}

/** Ranges no VirtualIP may ever use, whatever the pools say. */
const SPECIAL_RANGES: readonly { cidr: string; what: string }[] = [
  { cidr: "0.0.0.0/8", what: "the unspecified IPv4 network (0.0.0.0/8)" },
  { cidr: "127.0.0.0/8", what: "loopback (127.0.0.0/8)" },
  { cidr: "169.254.0.0/16", what: "IPv4 link-local (169.254.0.0/16)" },
  { cidr: "224.0.0.0/4", what: "IPv4 multicast (224.0.0.0/4)" },
  { cidr: "255.255.255.255/32", what: "the limited broadcast address" },
  { cidr: "::/128", what: "the unspecified IPv6 address (::)" },
  { cidr: "::1/128", what: "IPv6 loopback (::1)" },
  { cidr: "::ffff:0:0/96", what: "IPv4-mapped IPv6 (::ffff:0:0/96)" },
  { cidr: "fe80::/10", what: "IPv6 link-local (fe80::/10)" },
  { cidr: "ff00::/8", what: "IPv6 multicast (ff00::/8)" },
];

function mustRange(cidr: string): AddressRange {
  const r = parseAddressRange(cidr);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const SPECIAL: readonly ReservedRange[] = SPECIAL_RANGES.map((s) => ({ range: mustRange(s.cidr), what: s.what }));

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
  return countUsable(r, SPECIAL.map((x) => x.range));
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
      problems.set(name, { reason: "Overlap", message: `spec.addresses: ${mine?.text ?? ""} overlaps ${overlap.o.text} of the older VirtualIPPool ${overlap.u.name}` });
      continue;
    }
    if (parsed.ranges.every((r) => usableCount(r) === 0n)) {
      problems.set(name, { reason: "NoUsableAddress", message: "spec.addresses: no address of the pool may be handed out (only network, broadcast or reserved addresses)" });
      continue;
    }
    usable.push({ name, ranges: parsed.ranges, routerIds, pool });
  }
  usable.sort((a, b) => compareStrings(a.name, b.name));
  return { usable, byName: new Map(usable.map((u) => [u.name, u])), problems, names };
}

/** What may never be a virtual IP in this cluster: special ranges, the nodes' own addresses, the Service ranges. */
export interface ReservedSources {
  /** Node name -> its addresses (every Node address, and what its agent published). */
  nodeAddresses: ReadonlyMap<string, readonly string[]>;
  /** ServiceCIDR name -> its CIDRs. */
  serviceCIDRs: ReadonlyMap<string, readonly string[]>;
}

/** Index of reserved addresses. */
export interface Reserved {
  /** "family:value" of a node address -> the node. */
  nodes: Map<string, string>;
  ranges: ReservedRange[];
}

function addressKey(family: Family, value: bigint): string {
  return `${family}:${value.toString(16)}`;
}

/** Builds the reserved-address index. */
export function indexReserved(sources: ReservedSources): Reserved {
  const nodes = new Map<string, string>();
  for (const [node, addrs] of [...sources.nodeAddresses].sort(([a], [b]) => compareStrings(a, b))) {
    for (const a of addrs) {
      const n = ipToBigInt(a);
      if (n && !nodes.has(addressKey(n.family, n.value))) nodes.set(addressKey(n.family, n.value), node);
    }
  }
  const ranges: ReservedRange[] = [...SPECIAL];
  for (const [name, cidrs] of [...sources.serviceCIDRs].sort(([a], [b]) => compareStrings(a, b))) {
    for (const c of cidrs) {
      const r = parseAddressRange(c);
      if (r.ok) ranges.push({ range: r.value, what: `the Service range ${c} (ServiceCIDR ${name})` });
    }
  }
  return { nodes, ranges };
}

/** What a reserved address collides with, or undefined when it may be used. */
export function reservedBy(reserved: Reserved, family: Family, value: bigint): string | undefined {
  const node = reserved.nodes.get(addressKey(family, value));
  if (node !== undefined) return `an address of Node ${node}`;
  return reserved.ranges.find((r) => r.range.family === family && r.range.first <= value && value <= r.range.last)?.what;
}

/** Whether `labels` of namespace `ns` are admitted by the pool. */
export function poolAdmits(pool: UsablePool, ns: string, labels: Readonly<Record<string, string>> | undefined): boolean {
  // The name label last: a Namespace's own labels never stand in for another namespace's name.
  return matchesLabelSelector(pool.pool.spec.namespaceSelector, { ...(labels ?? {}), [NAMESPACE_NAME_LABEL]: ns });
}

function inRange(r: PoolRange, value: bigint): boolean {
  if (value < r.first || value > r.last) return false;
  return !(r.skipFirst && value === r.first) && !(r.skipLast && value === r.last);
}

/** Whether the pool holds the address (network, broadcast and subnet-router anycast addresses of CIDRs excluded). */
export function poolHolds(pool: UsablePool, family: Family, value: bigint): boolean {
  return pool.ranges.some((r) => r.family === family && inRange(r, value));
}

function poolHasRouterId(pool: UsablePool, id: number): boolean {
  return pool.routerIds.some((r) => r.first <= id && id <= r.last);
}

/** The address, router id and pool a VirtualIP uses, or the problem that leaves it without. */
export interface AddressAssignment {
  address?: string;
  family?: Family;
  virtualRouterId?: number;
  pool?: string;
  problem?: Problem;
}

/** Everything planAddresses reads. */
export interface AddressInput {
  /** Oldest first. */
  virtualIPs: readonly VirtualIP[];
  pools: PoolIndex;
  reserved: Reserved;
  /** Namespace name -> its labels (a namespace not listed has only its name label). */
  namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** Addresses still held by VirtualIPs being deleted (not handed out until they are gone). */
  releasing: readonly string[];
  /** The time of the view (epoch ms), for claims to expire; unset: they never do. */
  now?: number;
  /** How long an unusable VirtualIP keeps its claim (ms). Default DEFAULT_CLAIM_GRACE_MS. */
  claimGraceMs?: number;
}

function problem(key: string, reason: string, field: string, text: string): Problem {
  return { virtualIP: key, condition: CONDITION_READY, reason: reason as Problem["reason"], message: `VirtualIP ${key}: ${field}: ${text}`, excluded: true };
}

function namespaceOf(vip: VirtualIP): string {
  return vip.metadata.namespace || "default";
}

/** The pools a VirtualIP may use: the named one, or every usable pool that admits its namespace. */
function admittingPools(vip: VirtualIP, input: AddressInput): UsablePool[] {
  const ns = namespaceOf(vip);
  const labels = input.namespaceLabels.get(ns);
  return input.pools.usable.filter((p) => (vip.spec.pool === undefined || p.name === vip.spec.pool) && poolAdmits(p, ns, labels));
}

/**
 * A problem with spec.pool or with there being no pool for the namespace;
 * undefined when some pool admits it. An explicit spec.address that no pool
 * admitting the namespace holds is left to explicitAddress (AddressNotAllowed).
 */
function poolProblem(key: string, vip: VirtualIP, input: AddressInput, admitting: UsablePool[]): Problem | undefined {
  const ns = namespaceOf(vip);
  const named = vip.spec.pool;
  if (named !== undefined) {
    if (!input.pools.names.has(named)) return problem(key, ReadyReason.NoPool, "spec.pool", `VirtualIPPool ${named} not found`);
    const bad = input.pools.problems.get(named);
    if (bad) return problem(key, ReadyReason.NoPool, "spec.pool", `VirtualIPPool ${named} is not in use (${bad.reason})`);
    if (admitting.length === 0) return problem(key, ReadyReason.AddressNotAllowed, "spec.pool", `VirtualIPPool ${named} does not admit namespace ${ns}`);
    return undefined;
  }
  if (input.pools.usable.length === 0) return problem(key, ReadyReason.NoPool, "spec.address", "no VirtualIPPool is in use in the cluster: nothing is rendered until the cluster admin creates one");
  if (vip.spec.address !== undefined) return undefined;
  if (admitting.length === 0) return problem(key, ReadyReason.NoPool, "spec.address", `no VirtualIPPool admits namespace ${ns}`);
  if (!admitting.some((p) => p.pool.spec.autoAssign)) {
    return problem(key, ReadyReason.NoPool, "spec.pool", `no VirtualIPPool that admits namespace ${ns} assigns addresses automatically (autoAssign); name one in spec.pool`);
  }
  return undefined;
}

/** Checks an explicit spec.address: reserved, in a pool that admits the namespace. */
function explicitAddress(vip: VirtualIP, address: string, input: AddressInput, admitting: UsablePool[]): AddressAssignment {
  const key = objectKey(vip.metadata);
  const n = ipToBigInt(address);
  if (!n) return { problem: problem(key, ReadyReason.InvalidSpec, "spec.address", "not an IP address") };
  const what = reservedBy(input.reserved, n.family, n.value);
  if (what !== undefined) return { problem: problem(key, ReadyReason.AddressReserved, "spec.address", `${address} is ${what}, which is never a virtual IP`) };
  const pp = poolProblem(key, vip, input, admitting);
  if (pp) return { problem: pp };
  if (input.releasing.includes(address)) {
    return { problem: problem(key, ReadyReason.Conflict, "spec.address", `${address} is still being removed from the nodes by a VirtualIP being deleted`) };
  }
  const pool = admitting.find((p) => poolHolds(p, n.family, n.value));
  if (!pool) {
    const where = vip.spec.pool !== undefined ? `VirtualIPPool ${vip.spec.pool}` : `any VirtualIPPool that admits namespace ${namespaceOf(vip)}`;
    return { problem: problem(key, ReadyReason.AddressNotAllowed, "spec.address", `${address} is not in ${where}`) };
  }
  return { address, family: n.family, pool: pool.name };
}

/** The allocation in the status, when it is still allowed. */
function keptAllocation(vip: VirtualIP, input: AddressInput, admitting: UsablePool[]): AddressAssignment | undefined {
  const address = vip.status?.address;
  const poolName = vip.status?.pool;
  if (address === undefined || poolName === undefined) return undefined;
  const n = ipToBigInt(address);
  if (!n || bigIntToIP(n.family, n.value) !== address) return undefined;
  if (vip.spec.ipFamily !== undefined && vip.spec.ipFamily !== (n.family === 4 ? "IPv4" : "IPv6")) return undefined;
  if (vip.spec.vrrp.version === 2 && n.family === 6) return undefined;
  if (reservedBy(input.reserved, n.family, n.value) !== undefined) return undefined;
  const pool = admitting.find((p) => p.name === poolName && poolHolds(p, n.family, n.value));
  return pool ? { address, family: n.family, pool: pool.name } : undefined;
}

/** Families to try, in order, for a VirtualIP without spec.address. */
function familiesFor(vip: VirtualIP): Family[] {
  if (vip.spec.ipFamily === "IPv4" || vip.spec.vrrp.version === 2) return [4];
  if (vip.spec.ipFamily === "IPv6") return [6];
  return [4, 6];
}

/** The first free address of the pools, in pool and range order. */
function allocateAddress(vip: VirtualIP, pools: UsablePool[], taken: Set<string>, reserved: Reserved): AddressAssignment | undefined {
  for (const family of familiesFor(vip)) {
    for (const pool of pools) {
      if (vip.spec.pool === undefined && !pool.pool.spec.autoAssign) continue;
      for (const r of pool.ranges) {
        if (r.family !== family) continue;
        for (let v = r.first; v <= r.last; v++) {
          if (!inRange(r, v) || taken.has(addressKey(family, v))) continue;
          if (reservedBy(reserved, family, v) !== undefined) continue;
          return { address: bigIntToIP(family, v), family, pool: pool.name };
        }
      }
    }
  }
  return undefined;
}

/** The VRRP-relevant spec of a VirtualIP: two with the same one may share a router id (one instance). */
function instanceShape(vip: VirtualIP): string {
  return JSON.stringify([namespaceOf(vip), vip.spec.interface ?? null, vip.spec.nodeSelector ?? null, vip.spec.vrrp]);
}

interface RouterIdState {
  /** "family:id" -> how many VirtualIPs use it. */
  used: Map<string, number>;
  /** "family|pool|shape" -> the router id of the oldest VirtualIP of that shape. */
  shapes: Map<string, number>;
}

function useRouterId(state: RouterIdState, family: Family, id: number): void {
  const k = `${family}:${id}`;
  state.used.set(k, (state.used.get(k) ?? 0) + 1);
}

/** The router id of a VirtualIP that names none: kept, else the lowest free one of the pool, else one shared with its own kind. */
function allocateRouterId(vip: VirtualIP, a: AddressAssignment, pool: UsablePool, state: RouterIdState): number | undefined {
  const family = a.family ?? 4;
  const kept = vip.status?.virtualRouterId;
  if (kept !== undefined && poolHasRouterId(pool, kept) && vip.status?.address === a.address) return kept;
  for (const r of pool.routerIds) {
    for (let id = r.first; id <= r.last; id++) if (!state.used.has(`${family}:${id}`)) return id;
  }
  return state.shapes.get(`${family}|${pool.name}|${instanceShape(vip)}`);
}

/** Whether the VirtualIP holds a live claim (status.claim, not expired) on `address`. */
function holdsClaimOn(vip: VirtualIP, address: string, input: AddressInput): boolean {
  const claim = vip.status?.claim;
  return claim !== undefined && claim.address === address && !claimExpired(vip, input.now, input.claimGraceMs ?? DEFAULT_CLAIM_GRACE_MS);
}

/**
 * Decides the address, router id and pool of every VirtualIP, or the problem
 * that leaves it out. Explicit addresses and kept allocations come first
 * (a conflict between them is decided later, by claims): an allocation whose
 * VirtualIP holds a claim on it is kept even when another VirtualIP names
 * the address explicitly, so editing a VirtualIP onto a live allocated
 * address never moves it. Kept allocations with a claim are placed before
 * those without. Then every VirtualIP without an address gets the first
 * free one, oldest first.
 */
export function planAddresses(input: AddressInput): Map<string, AddressAssignment> {
  const out = new Map<string, AddressAssignment>();
  /** Addresses not handed out: releasing, explicit and kept ones. */
  const taken = new Set<string>();
  /** Addresses of kept allocations (one VirtualIP each). */
  const kept = new Set<string>();
  const keyOf = (address: string): string | undefined => {
    const n = ipToBigInt(address);
    return n ? addressKey(n.family, n.value) : undefined;
  };
  const take = (address: string, set: Set<string> = taken): void => {
    const k = keyOf(address);
    if (k !== undefined) set.add(k);
  };
  for (const a of input.releasing) take(a);
  const ordered = [...input.virtualIPs].sort(compareAge);
  const admitting = new Map(ordered.map((v) => [objectKey(v.metadata), admittingPools(v, input)]));
  const keeping: { vip: VirtualIP; a: AddressAssignment & { address: string }; claim: boolean }[] = [];
  const pending: VirtualIP[] = [];
  for (const vip of ordered) {
    const key = objectKey(vip.metadata);
    const pools = admitting.get(key) ?? [];
    if (vip.spec.address !== undefined) {
      const a = explicitAddress(vip, vip.spec.address, input, pools);
      out.set(key, a);
      if (a.address !== undefined) take(a.address);
      continue;
    }
    const pp = poolProblem(key, vip, input, pools);
    if (pp) {
      out.set(key, { problem: pp });
      continue;
    }
    const k = keptAllocation(vip, input, pools);
    if (k?.address !== undefined) keeping.push({ vip, a: { ...k, address: k.address }, claim: holdsClaimOn(vip, k.address, input) });
    else pending.push(vip);
  }
  // Claim holders first (then by age): the one that held the address keeps it.
  keeping.sort((x, y) => Number(y.claim) - Number(x.claim));
  for (const { vip, a, claim } of keeping) {
    const k = keyOf(a.address) ?? "";
    if (kept.has(k) || (taken.has(k) && !claim)) {
      pending.push(vip);
      continue;
    }
    out.set(objectKey(vip.metadata), a);
    take(a.address);
    take(a.address, kept);
  }
  pending.sort(compareAge);
  for (const vip of pending) {
    const key = objectKey(vip.metadata);
    const a = allocateAddress(vip, admitting.get(key) ?? [], taken, input.reserved);
    if (!a?.address) {
      const fam = vip.spec.ipFamily !== undefined ? `${vip.spec.ipFamily} ` : "";
      out.set(key, { problem: problem(key, ReadyReason.PoolExhausted, "spec.address", `no free ${fam}address in the VirtualIPPools that admit namespace ${namespaceOf(vip)}`) });
      continue;
    }
    out.set(key, a);
    take(a.address);
  }
  planRouterIds(ordered, out, input.pools);
  return out;
}

/** Checks explicit router ids against their pool and allocates the others (kept ones first). */
function planRouterIds(ordered: readonly VirtualIP[], out: Map<string, AddressAssignment>, pools: PoolIndex): void {
  const state: RouterIdState = { used: new Map(), shapes: new Map() };
  const needing: VirtualIP[] = [];
  for (const vip of ordered) {
    const key = objectKey(vip.metadata);
    const a = out.get(key);
    if (!a || a.problem || a.pool === undefined) continue;
    const pool = pools.byName.get(a.pool);
    if (!pool) continue;
    const id = vip.spec.virtualRouterId;
    if (id === undefined) {
      needing.push(vip);
      continue;
    }
    if (!poolHasRouterId(pool, id)) {
      out.set(key, { ...a, problem: problem(key, ReadyReason.RouterIdNotAllowed, "spec.virtualRouterId", `${id} is not among the router ids of VirtualIPPool ${pool.name} (${pool.pool.spec.virtualRouterIds.join(", ")})`) });
      continue;
    }
    out.set(key, { ...a, virtualRouterId: id });
    useRouterId(state, a.family ?? 4, id);
  }
  // Kept allocations before new ones, so that a new VirtualIP never takes a router id someone holds.
  const keptFirst = [...needing].sort((x, y) => Number(x.status?.virtualRouterId === undefined) - Number(y.status?.virtualRouterId === undefined));
  for (const vip of keptFirst) {
    const key = objectKey(vip.metadata);
    const a = out.get(key);
    const pool = a?.pool !== undefined ? pools.byName.get(a.pool) : undefined;
    if (!a || !pool) continue;
    const id = allocateRouterId(vip, a, pool, state);
    if (id === undefined) {
      out.set(key, { ...a, problem: problem(key, ReadyReason.PoolExhausted, "spec.virtualRouterId", `VirtualIPPool ${pool.name} has no free router id; set spec.virtualRouterId to one this namespace already uses to share its VRRP instance`) });
      continue;
    }
    out.set(key, { ...a, virtualRouterId: id });
    useRouterId(state, a.family ?? 4, id);
    const shape = `${a.family ?? 4}|${pool.name}|${instanceShape(vip)}`;
    if (!state.shapes.has(shape)) state.shapes.set(shape, id);
  }
}

/** The status of one pool: counts and its Ready condition. */
export interface PoolPlan {
  name: string;
  allocated: number;
  available: number;
  ready: { status: "True" | "False"; reason: string; message: string };
}

/** Counts what each pool hands out, and says why unused pools are not used. */
export function planPoolStatuses(pools: readonly VirtualIPPool[], index: PoolIndex, assignments: ReadonlyMap<string, AddressAssignment>, reserved: Reserved): PoolPlan[] {
  const inUse = new Map<string, Set<string>>();
  for (const a of assignments.values()) {
    if (a.pool === undefined || a.address === undefined) continue;
    const set = inUse.get(a.pool) ?? new Set<string>();
    set.add(a.address);
    inUse.set(a.pool, set);
  }
  const out: PoolPlan[] = [];
  for (const name of [...new Set(pools.map((p) => p.metadata.name))].sort(compareStrings)) {
    const bad = index.problems.get(name);
    const usable = index.byName.get(name);
    if (bad || !usable) {
      out.push({ name, allocated: 0, available: 0, ready: { status: "False", reason: bad?.reason ?? "Invalid", message: `VirtualIPPool ${name}: ${bad?.message ?? "not in use"}` } });
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
    out.push({ name, allocated, available, ready: { status: "True", reason: "InUse", message: `VirtualIPPool ${name} hands out ${allocated} address${allocated === 1 ? "" : "es"}; ${available} free` } });
  }
  return out;
}
