// Which address, router id and pool each VirtualIP uses: explicit ones are
// checked against the pools and the reserved addresses, the others are
// allocated (kept from the status while still allowed, else the first free
// ones). Pure.
//
// Decisions (docs/pools.md, ADR 0008):
// - No pool, no address: a VirtualIP whose address is in no pool that admits
//   its namespace is left out (NoPool, AddressNotAllowed, RouterIdNotAllowed).
// - Some addresses are never allowed whatever the pools say (AddressReserved).
// - An allocation is kept in the VirtualIP's status and kept for as long as it
//   is still allowed, so it survives restarts, leader changes and re-lists.
import { CONDITION_READY, ReadyReason, bigIntToIP } from "../api/index.js";
import type { Family, VirtualIP } from "../api/index.js";
import { claimExpired, DEFAULT_CLAIM_GRACE_MS } from "./claims.js";
import { numberedIP } from "./ipmemo.js";
import { compareAge } from "./order.js";
import { inRange, poolAdmits, poolHasRouterId, poolHolds, type PoolIndex, type UsablePool } from "./pools.js";
import { addressKey, reservedBy, type Reserved } from "./reserved.js";
import type { Problem } from "./types.js";
import { objectKey } from "../shared/keys.js";
import { traceDecisions, type AllocationTrace } from "./allocation-trace.js";

export type { AllocationTrace } from "./allocation-trace.js";

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
  /** Router ids ("family:id") still held by VirtualIPs being deleted: only those that already use one keep it. */
  releasingRouterIds?: readonly string[];
  /** The time of the view (epoch ms), for claims to expire; unset: they never do. */
  now?: number;
  /** How long an unusable VirtualIP keeps its claim (ms). Default DEFAULT_CLAIM_GRACE_MS. */
  claimGraceMs?: number;
  /** When given, filled with how each decision was reached (for the incremental planner, session.ts). */
  trace?: AllocationTrace;
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
  if (input.pools.usable.length === 0)
    return problem(
      key,
      ReadyReason.NoPool,
      "spec.address",
      "no VirtualIPPool is in use in the cluster: nothing is rendered until the cluster admin creates one",
    );
  if (vip.spec.address !== undefined) return undefined;
  if (admitting.length === 0) return problem(key, ReadyReason.NoPool, "spec.address", `no VirtualIPPool admits namespace ${ns}`);
  if (!admitting.some((p) => p.pool.spec.autoAssign)) {
    return problem(
      key,
      ReadyReason.NoPool,
      "spec.pool",
      `no VirtualIPPool that admits namespace ${ns} assigns addresses automatically (autoAssign); name one in spec.pool`,
    );
  }
  return undefined;
}

/** Checks an explicit spec.address: reserved, in a pool that admits the namespace. */
function explicitAddress(vip: VirtualIP, address: string, input: AddressInput, admitting: UsablePool[]): AddressAssignment {
  const key = objectKey(vip.metadata);
  const n = numberedIP(address);
  if (!n) return { problem: problem(key, ReadyReason.InvalidSpec, "spec.address", "not an IP address") };
  const what = reservedBy(input.reserved, n.family, n.value);
  if (what !== undefined) return { problem: problem(key, ReadyReason.AddressReserved, "spec.address", `${address} is ${what}, which is never a virtual IP`) };
  const pp = poolProblem(key, vip, input, admitting);
  if (pp) return { problem: pp };
  if (input.releasing.includes(address)) {
    return { problem: problem(key, ReadyReason.Conflict, "spec.address", `${address} is still held by a VirtualIP being deleted or left out of the plan`) };
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
  const n = numberedIP(address);
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
    const n = numberedIP(address);
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
  allocateFree(pending, admitting, { taken, take, reserved: input.reserved }, out);
  const freshRouterIds = planRouterIds(ordered, out, input.pools, new Set(input.releasingRouterIds ?? []));
  if (input.trace) traceDecisions(input.trace, [...pending, ...freshRouterIds], admitting, kept);
  return out;
}

/** Gives every VirtualIP still without an address the first free one of its pools, oldest first (or PoolExhausted). */
function allocateFree(
  pending: VirtualIP[],
  admitting: ReadonlyMap<string, UsablePool[]>,
  free: { taken: Set<string>; take: (address: string) => void; reserved: Reserved },
  out: Map<string, AddressAssignment>,
): void {
  const { taken, take, reserved } = free;
  pending.sort(compareAge);
  for (const vip of pending) {
    const key = objectKey(vip.metadata);
    const a = allocateAddress(vip, admitting.get(key) ?? [], taken, reserved);
    if (!a?.address) {
      const fam = vip.spec.ipFamily !== undefined ? `${vip.spec.ipFamily} ` : "";
      out.set(key, {
        problem: problem(
          key,
          ReadyReason.PoolExhausted,
          "spec.address",
          `no free ${fam}address in the VirtualIPPools that admit namespace ${namespaceOf(vip)}`,
        ),
      });
      continue;
    }
    out.set(key, a);
    take(a.address);
  }
}

/** Checks explicit router ids against their pool and allocates the others (kept ones first); returns those not given their kept one. */
function planRouterIds(ordered: readonly VirtualIP[], out: Map<string, AddressAssignment>, pools: PoolIndex, releasing: ReadonlySet<string>): VirtualIP[] {
  const state: RouterIdState = { used: new Map(), shapes: new Map() };
  for (const k of releasing) state.used.set(k, 1);
  const needing: VirtualIP[] = [];
  for (const vip of ordered) {
    const key = objectKey(vip.metadata);
    const a = out.get(key);
    if (!a || a.problem || a.pool === undefined) continue;
    const pool = pools.byName.get(a.pool);
    if (!pool) continue;
    if (vip.spec.virtualRouterId === undefined) needing.push(vip);
    else checkExplicitRouterId(vip, a, pool, { out, state, releasing });
  }
  // Kept allocations before new ones, so that a new VirtualIP never takes a router id someone holds.
  const keptFirst = [...needing].sort((x, y) => Number(x.status?.virtualRouterId === undefined) - Number(y.status?.virtualRouterId === undefined));
  const fresh: VirtualIP[] = [];
  for (const vip of keptFirst) {
    const key = objectKey(vip.metadata);
    const a = out.get(key);
    const pool = a?.pool !== undefined ? pools.byName.get(a.pool) : undefined;
    if (!a || !pool) continue;
    const id = allocateRouterId(vip, a, pool, state);
    if (id !== vip.status?.virtualRouterId || vip.status?.address !== a.address) fresh.push(vip);
    if (id === undefined) {
      out.set(key, {
        ...a,
        problem: problem(
          key,
          ReadyReason.PoolExhausted,
          "spec.virtualRouterId",
          `VirtualIPPool ${pool.name} has no free router id; set spec.virtualRouterId to one this namespace already uses to share its VRRP instance`,
        ),
      });
      continue;
    }
    out.set(key, { ...a, virtualRouterId: id });
    useRouterId(state, a.family ?? 4, id);
    const shape = `${a.family ?? 4}|${pool.name}|${instanceShape(vip)}`;
    if (!state.shapes.has(shape)) state.shapes.set(shape, id);
  }
  return fresh;
}

/** An explicit router id: taken when its pool has it and no VirtualIP being deleted still holds it (else the problem). */
function checkExplicitRouterId(
  vip: VirtualIP,
  a: AddressAssignment,
  pool: UsablePool,
  ctx: { out: Map<string, AddressAssignment>; state: RouterIdState; releasing: ReadonlySet<string> },
): void {
  const key = objectKey(vip.metadata);
  const id = vip.spec.virtualRouterId as number;
  if (!poolHasRouterId(pool, id)) {
    const allowed = pool.pool.spec.virtualRouterIds.join(", ");
    ctx.out.set(key, {
      ...a,
      problem: problem(
        key,
        ReadyReason.RouterIdNotAllowed,
        "spec.virtualRouterId",
        `${id} is not among the router ids of VirtualIPPool ${pool.name} (${allowed})`,
      ),
    });
    return;
  }
  // A router id a deleted VirtualIP still holds is joined only by those already using it (ADR 0017).
  if (ctx.releasing.has(`${a.family ?? 4}:${id}`) && vip.status?.virtualRouterId !== id) {
    const message = `${id} is still held by a VirtualIP being deleted, until every node confirmed its address is gone`;
    ctx.out.set(key, { ...a, problem: problem(key, ReadyReason.Conflict, "spec.virtualRouterId", message) });
    return;
  }
  ctx.out.set(key, { ...a, virtualRouterId: id });
  useRouterId(ctx.state, a.family ?? 4, id);
}
