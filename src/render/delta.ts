// The incremental pass: a plan state (plan.ts) brought up to date for a set of
// changed VirtualIPs, re-planning only what they can touch. Each step is the
// full pass's own function run on a subset that is closed under what that step
// compares, so the result is the full pass's (test/unit/render/session.property.test.ts
// holds them equal). Pure. Why and where it stops: docs/adr/0021-incremental-render.md.
import type { VirtualIP } from "../api/index.js";
import { planAddresses, type AddressAssignment, type AllocationTrace } from "./allocation.js";
import { planCandidate, type Candidate } from "./candidates.js";
import { claimExpired } from "./claims.js";
import { planConflicts, routerIdKey } from "./conflicts.js";
import { planInstances, type InstanceMembers } from "./instances.js";
import { numberedIP } from "./ipmemo.js";
import { planStandby } from "./placement.js";
import {
  addByNode,
  nodeEntry,
  nodeSetOf,
  planAllVirtualServers,
  planNode,
  planPublishedInstance,
  publishedKeys,
  rankedPriorities,
  virtualIPPlan,
} from "./publish.js";
import { addClaimant, addToSet, allocationInput, nodeContext, removeClaimant, removeFromSet, type PlanState } from "./plan.js";
import { countAssignment, poolHasRouterId } from "./pools.js";
import { addressKey } from "./reserved.js";
import type { Problem, VirtualIPPlan } from "./types.js";
import type { ViewIndex } from "./view.js";

function addressKeyOf(address: string | undefined): string | undefined {
  const n = address !== undefined ? numberedIP(address) : undefined;
  return n ? addressKey(n.family, n.value) : undefined;
}

function holdsClaim(vip: VirtualIP | undefined, address: string | undefined, index: ViewIndex): boolean {
  const claim = vip?.status?.claim;
  return claim !== undefined && claim.address === address && !claimExpired(vip as VirtualIP, index.now, index.options.claimGraceMs);
}

/**
 * Whether VirtualIPs that were given a free address or router id (the
 * dependent ones) could be given another now that a VirtualIP's allocation
 * went from `before` to `after`: only when what it takes changed and lies
 * in a pool they draw from (pools never overlap, router ids may).
 */
function dependentsUnaffected(trace: AllocationTrace, index: ViewIndex, before: AddressAssignment | undefined, after: AddressAssignment | undefined): boolean {
  if (trace.dependent.size === 0) return true;
  if (before?.address === after?.address && before?.virtualRouterId === after?.virtualRouterId) return true;
  const pools = [...trace.dependentPools].flatMap((name) => index.pools.byName.get(name) ?? []);
  for (const a of [before, after]) {
    if (a?.address !== undefined && a.pool !== undefined && trace.dependentPools.has(a.pool)) return false;
    const id = a?.virtualRouterId;
    if (id !== undefined && pools.some((p) => poolHasRouterId(p, id))) return false;
  }
  return true;
}

/**
 * Whether the full pass would give the changed VirtualIP the allocation it
 * got alone (`after`, from no other VirtualIP's addresses or router ids):
 * an explicit spec.address is judged on its own (unless a kept allocation
 * holds it); an address kept from the status must be the one it already
 * held, held the same way (with or without a live claim); a router id is
 * the spec's or the one kept. And it must not move what the dependent
 * VirtualIPs read: the instance shape behind a shared router id.
 */
function sameAlone(
  state: PlanState,
  index: ViewIndex,
  vip: VirtualIP,
  was: { old: VirtualIP | undefined; before: AddressAssignment | undefined; after: AddressAssignment | undefined },
): boolean {
  const { old, before, after } = was;
  const k = addressKeyOf(after?.address);
  if (vip.spec.address !== undefined) {
    if (k !== undefined && state.allocation.kept.has(k)) return false;
  } else if (after?.address !== undefined) {
    if (!old || old.spec.address !== undefined || before?.problem || after.problem || before?.address !== after.address) return false;
    if (!state.allocation.kept.has(k ?? "") || holdsClaim(old, after.address, index) !== holdsClaim(vip, after.address, index)) return false;
  }
  const needsId = vip.spec.virtualRouterId === undefined || old?.spec.virtualRouterId === undefined;
  return state.allocation.dependent.size === 0 || !needsId || JSON.stringify(old?.spec) === JSON.stringify(vip.spec);
}

/**
 * The allocation of the changed VirtualIPs, each planned alone, when that is
 * what the full pass would decide and changes nobody else's; false when not
 * (the full pass must run; nothing was changed then). See sameAlone and
 * dependentsUnaffected.
 */
export function reallocate(state: PlanState, index: ViewIndex, changed: ReadonlyMap<string, VirtualIP | undefined>): boolean {
  const planned = new Map<string, AddressAssignment | undefined>();
  for (const [key, vip] of changed) {
    const old = state.vips.get(key);
    const before = state.assignments.get(key);
    let after: AddressAssignment | undefined;
    if (vip) {
      const trace: AllocationTrace = { dependent: new Set(), kept: new Set(), dependentPools: new Set() };
      after = planAddresses(allocationInput(index, [vip], trace)).get(key);
      if (trace.dependent.size > 0 || !sameAlone(state, index, vip, { old, before, after })) return false;
    } else if (old && old.spec.address === undefined && before?.address !== undefined) return false;
    if (!dependentsUnaffected(state.allocation, index, before, after)) return false;
    planned.set(key, after);
  }
  for (const [key, a] of planned) {
    countAssignment(state.inUse, state.assignments.get(key), -1);
    countAssignment(state.inUse, a, 1);
    if (a) state.assignments.set(key, a);
    else state.assignments.delete(key);
  }
  return true;
}

/** The changed VirtualIPs' candidates, and every claiming candidate that can conflict with them or share an instance (transitively). */
export function recandidate(state: PlanState, index: ViewIndex, changed: ReadonlyMap<string, VirtualIP | undefined>): Set<string> {
  const ctx = { ...(index.now !== undefined ? { now: index.now } : {}), claimGraceMs: index.options.claimGraceMs, nodeSides: state.nodeSides };
  const olds: Candidate[] = [];
  for (const [key, vip] of changed) {
    const old = state.candidates.get(key);
    if (old) {
      removeClaimant(state, old);
      olds.push(old);
    }
    if (!vip) {
      state.candidates.delete(key);
      state.vips.delete(key);
      continue;
    }
    const c = planCandidate(vip, index, { ...ctx, assignment: state.assignments.get(key) });
    state.candidates.set(key, c);
    state.vips.set(key, vip);
    addClaimant(state, c);
  }
  const closed = new Set<string>(changed.keys());
  const work: Candidate[] = [...olds, ...[...changed.keys()].flatMap((k) => state.candidates.get(k) ?? [])];
  for (let c = work.pop(); c !== undefined; c = work.pop()) {
    if (!c.claims) continue;
    const alike = [...(state.claimants.byAddress.get(c.address) ?? []), ...(state.claimants.byRouterId.get(routerIdKey(c)) ?? [])];
    for (const key of alike) {
      if (closed.has(key)) continue;
      closed.add(key);
      const other = state.candidates.get(key);
      if (other) work.push(other);
    }
  }
  return closed;
}

/** Conflicts and instances of a closed set again; returns the instances it replaced and the new ones. */
export function regroup(state: PlanState, index: ViewIndex, closed: ReadonlySet<string>): { removed: Set<InstanceMembers>; added: InstanceMembers[] } {
  const removed = new Set<InstanceMembers>();
  for (const key of closed) {
    const p = state.carrier.get(key);
    if (p) removed.add(p);
  }
  const candidates = [...closed].flatMap((k) => state.candidates.get(k) ?? []);
  const conflicts = planConflicts(candidates);
  const lost = new Map<string, Problem[]>();
  for (const p of conflicts.problems) lost.set(p.virtualIP, [...(lost.get(p.virtualIP) ?? []), p]);
  for (const key of closed) {
    const problems = [...(state.candidates.get(key)?.problems ?? []), ...(lost.get(key) ?? [])];
    if (problems.length > 0) state.problems.set(key, problems);
    else state.problems.delete(key);
    state.virtualServers.delete(key);
  }
  const rendered = conflicts.accepted.filter((c) => c.problems.length === 0);
  for (const [key, servers] of planAllVirtualServers(index, rendered)) state.virtualServers.set(key, servers);
  const added = planInstances(rendered);
  for (const [p, key] of publishedKeys(added)) state.keys.set(p, key);
  return { removed, added };
}

/**
 * Ranks again the instances over every node set the change touched (only
 * instances over the same node set are balanced together); an instance
 * whose priorities move is replaced by a copy with the new ones.
 */
export function rerank(state: PlanState, change: { removed: Set<InstanceMembers>; added: InstanceMembers[] }): void {
  const sets = new Set([...change.removed, ...change.added].map(nodeSetOf));
  const added = new Set(change.added);
  const group = [...sets].flatMap((set) => [...(state.byNodeSet.get(set) ?? [])].filter((p) => !change.removed.has(p)));
  for (const [p, priorities] of rankedPriorities([...group, ...change.added], state.keys)) {
    if (added.has(p)) {
      p.instance.priorities = priorities;
      continue;
    }
    if (JSON.stringify(priorities) === JSON.stringify(p.instance.priorities)) continue;
    const copy: InstanceMembers = { instance: { ...p.instance, priorities }, members: p.members };
    state.keys.set(copy, state.keys.get(p) ?? p.instance.name);
    change.removed.add(p);
    change.added.push(copy);
  }
}

/** Node -> the entries (as JSON, sorted) that `instances` put into its node.json. */
function entriesByNode(instances: Iterable<InstanceMembers>, state: PlanState): Map<string, string[]> {
  const ctx = nodeContext(state);
  const out = new Map<string, string[]>();
  for (const p of instances) {
    for (const n of new Set(p.instance.nodes)) {
      const list = out.get(n) ?? [];
      list.push(JSON.stringify(nodeEntry(p, n, ctx)));
      out.set(n, list);
    }
  }
  for (const list of out.values()) list.sort();
  return out;
}

function sameEntries(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return (a ?? []).length === (b ?? []).length && (a ?? []).every((e, i) => e === b?.[i]);
}

/**
 * Swaps the replaced instances for the new ones in every index, publishes the
 * new ones, and plans again the nodes whose entries changed (a node whose
 * entries are the same keeps its node plan: nothing else of the instances is in it).
 */
export function republish(state: PlanState, change: { removed: Set<InstanceMembers>; added: InstanceMembers[] }): void {
  const before = entriesByNode(change.removed, state);
  for (const p of change.removed) {
    state.instances.delete(p);
    state.standby.delete(p);
    state.published.delete(p);
    removeFromSet(state.byNodeSet, nodeSetOf(p), p);
    for (const n of p.instance.nodes) removeFromSet(state.byNode, n, p);
    for (const key of p.instance.virtualIPs) if (state.carrier.get(key) === p) state.carrier.delete(key);
  }
  for (const p of change.removed) if (!change.added.includes(p)) state.keys.delete(p);
  for (const p of change.added) {
    state.instances.add(p);
    state.standby.set(p, planStandby(p, state.index));
    addToSet(state.byNodeSet, nodeSetOf(p), p);
    addByNode(state.byNode, p);
    for (const key of p.instance.virtualIPs) if (!state.carrier.has(key)) state.carrier.set(key, p);
  }
  const ctx = nodeContext(state);
  for (const p of change.added) state.published.set(p, planPublishedInstance(p, ctx));
  const after = entriesByNode(change.added, state);
  for (const n of new Set([...before.keys(), ...after.keys()])) {
    const node = state.nodeObjects.get(n);
    if (node && !sameEntries(before.get(n), after.get(n))) state.nodePlans.set(n, planNode(node, ctx));
  }
}

/** The plan entries of the VirtualIPs in `keys`, planned again (undefined: the VirtualIP is gone). */
export function replanEntries(state: PlanState, keys: Iterable<string>): Map<string, VirtualIPPlan | undefined> {
  const out = new Map<string, VirtualIPPlan | undefined>();
  for (const key of keys) {
    const vip = state.vips.get(key);
    out.set(key, vip ? virtualIPPlan(vip, state.carrier, state.candidates.get(key), state.index) : undefined);
  }
  return out;
}
