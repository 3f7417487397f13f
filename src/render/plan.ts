// The whole renderer decision: cluster view in, VRRP instances, problems and
// the published plan out (each instance's shared part, each node's own
// values; assemble.ts turns them into a node's keepalived.conf). Pure and deterministic (same view in any
// order, same bytes out). The full pass; session.ts re-plans only what a change touches, from the state kept here.
import type { V1Node } from "@kubernetes/client-node";
import { planAddresses, type AddressAssignment, type AddressInput, type AllocationTrace } from "./allocation.js";
import { planCandidates, type Candidate, type NodeSideMemo } from "./candidates.js";
import { planConflicts, routerIdKey } from "./conflicts.js";
import { planInstances, type InstanceMembers } from "./instances.js";
import type { VirtualServer } from "./ipvs.js";
import { compareStrings } from "./order.js";
import { planStandby } from "./placement.js";
import { addressesInUse, planPoolStatuses, type AddressesInUse } from "./pools.js";
import {
  carriers,
  instancesByNode,
  nodeSetOf,
  planAllVirtualServers,
  planNode,
  planPublishedInstance,
  publishedKeys,
  rankedPriorities,
  sortProblems,
  virtualIPPlan,
  type NodeContext,
} from "./publish.js";
import type { ClusterPlan, ClusterView, InstancePlan, NodePlan, Problem, RenderOptions, VirtualIPPlan } from "./types.js";
import { indexView, type ViewIndex } from "./view.js";
import { objectKey } from "../shared/keys.js";

export { sortProblems } from "./publish.js";

/** Every decision of a pass, kept so that the next one can re-plan only what a change touches (session.ts). */
export interface PlanState {
  index: ViewIndex;
  /** VirtualIP key -> the VirtualIP planned (the view's object). */
  vips: Map<string, VirtualIP>;
  assignments: Map<string, AddressAssignment>;
  allocation: AllocationTrace;
  candidates: Map<string, Candidate>;
  nodeSides: NodeSideMemo;
  /** The claiming candidates by address and by family and router id: only candidates alike in one of them can conflict. */
  claimants: { byAddress: Map<string, Set<string>>; byRouterId: Map<string, Set<string>> };
  /** VirtualIP key -> its problems: its candidate's, then its conflicts'. */
  problems: Map<string, Problem[]>;
  instances: Set<InstanceMembers>;
  /** VirtualIP key -> the instance that carries it. */
  carrier: Map<string, InstanceMembers>;
  keys: Map<InstanceMembers, string>;
  standby: Map<InstanceMembers, Set<string>>;
  virtualServers: Map<string, VirtualServer[]>;
  byNode: Map<string, Set<InstanceMembers>>;
  /** Node set (nodeSetOf) -> its instances: priorities are balanced within one. */
  byNodeSet: Map<string, Set<InstanceMembers>>;
  /** Node name -> its Node. */
  nodeObjects: Map<string, V1Node>;
  published: Map<InstanceMembers, InstancePlan>;
  nodePlans: Map<string, NodePlan>;
  virtualIPs: Record<string, VirtualIPPlan>;
  /** The addresses each pool hands out (pool statuses count them). */
  inUse: AddressesInUse;
}

type VirtualIP = ClusterView["virtualIPs"][number];

/** What planAddresses reads besides the VirtualIPs. */
export function allocationInput(index: ViewIndex, virtualIPs: readonly VirtualIP[], trace?: AllocationTrace): AddressInput {
  return {
    virtualIPs,
    pools: index.pools,
    reserved: index.reserved,
    namespaceLabels: index.namespaceLabels,
    releasing: index.releasing,
    releasingRouterIds: index.releasingRouterIds,
    ...(index.now !== undefined ? { now: index.now } : {}),
    claimGraceMs: index.options.claimGraceMs,
    ...(trace ? { trace } : {}),
  };
}

/** Adds `value` to the set at `key`. */
export function addToSet<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

/** Removes `value` from the set at `key` (and the set once empty). */
export function removeFromSet<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** Indexes a candidate that claims its address (planConflicts looks at no other). */
export function addClaimant(state: PlanState, c: Candidate): void {
  if (!c.claims) return;
  addToSet(state.claimants.byAddress, c.address, c.key);
  addToSet(state.claimants.byRouterId, routerIdKey(c), c.key);
}

export function removeClaimant(state: PlanState, c: Candidate): void {
  removeFromSet(state.claimants.byAddress, c.address, c.key);
  removeFromSet(state.claimants.byRouterId, routerIdKey(c), c.key);
}

/** The context planPublishedInstance and planNode read, from a state. */
export function nodeContext(state: PlanState): NodeContext {
  const { index, byNode, virtualServers, keys, standby } = state;
  return { index, byNode, virtualServers, addresses: index.nodeAddresses, keys, standby };
}

/** Plans every decision from scratch. */
export function fullPlanState(view: ClusterView, options: RenderOptions = {}): PlanState {
  const index = indexView(view, options);
  const allocation: AllocationTrace = { dependent: new Set(), kept: new Set(), dependentPools: new Set() };
  const assignments = planAddresses(allocationInput(index, index.virtualIPs, allocation));
  const nodeSides: NodeSideMemo = new Map();
  const candidateList = planCandidates(index, assignments, nodeSides);
  const conflicts = planConflicts(candidateList);
  const problems = new Map<string, Problem[]>();
  for (const p of [...candidateList.flatMap((c) => c.problems), ...conflicts.problems]) problems.set(p.virtualIP, [...(problems.get(p.virtualIP) ?? []), p]);
  const rendered = conflicts.accepted.filter((c) => c.problems.length === 0);
  const instances = planInstances(rendered);
  const keys = publishedKeys(instances);
  for (const [p, priorities] of rankedPriorities(instances, keys)) p.instance.priorities = priorities;
  const state: PlanState = {
    index,
    vips: new Map(index.virtualIPs.map((v) => [objectKey(v.metadata), v])),
    assignments,
    allocation,
    inUse: addressesInUse(assignments),
    candidates: new Map(candidateList.map((c) => [c.key, c])),
    nodeSides,
    claimants: { byAddress: new Map(), byRouterId: new Map() },
    problems,
    instances: new Set(instances),
    carrier: carriers(instances),
    keys,
    standby: new Map(instances.map((p) => [p, planStandby(p, index)])),
    virtualServers: planAllVirtualServers(index, rendered),
    byNode: instancesByNode(instances),
    byNodeSet: new Map(),
    nodeObjects: new Map(index.nodes.map((n) => [n.metadata?.name ?? "", n])),
    published: new Map(),
    nodePlans: new Map(),
    virtualIPs: {},
  };
  for (const c of candidateList) addClaimant(state, c);
  for (const p of instances) addToSet(state.byNodeSet, nodeSetOf(p), p);
  const ctx = nodeContext(state);
  for (const p of instances) state.published.set(p, planPublishedInstance(p, ctx));
  for (const n of index.nodes) state.nodePlans.set(n.metadata?.name ?? "", planNode(n, ctx));
  for (const key of [...state.vips.keys()].sort(compareStrings)) {
    state.virtualIPs[key] = virtualIPPlan(state.vips.get(key) as VirtualIP, state.carrier, state.candidates.get(key), index);
  }
  return state;
}

/** The plan a state stands for. */
export function planOf(state: PlanState, view: ClusterView): ClusterPlan {
  const { index } = state;
  const instances = [...state.instances].sort(
    (a, b) => compareStrings(a.instance.name, b.instance.name) || compareStrings(a.instance.nodes.join(","), b.instance.nodes.join(",")),
  );
  return {
    instances: instances.map((p) => p.instance),
    problems: sortProblems([...state.problems.values()].flat()),
    published: [...state.published.values()].sort((a, b) => compareStrings(a.name, b.name)),
    nodes: index.nodes.map((n: V1Node) => state.nodePlans.get(n.metadata?.name ?? "") as NodePlan),
    virtualIPs: state.virtualIPs,
    pools: planPoolStatuses(view.pools, index.pools, state.inUse, index.reserved),
  };
}

/**
 * Plans the whole cluster: which VirtualIPs are left out and why (problems),
 * the VRRP instances the others form, and the published plan: each
 * instance's shared part and every Node's own values (a Node without any
 * instance gets an empty list, which assembles to global_defs only). `virtualIPs` has an entry
 * for every VirtualIP in the view; one left out has no instance and no nodes.
 *
 * Problems are sorted by VirtualIP, then the Ready ones first, most important
 * first (InvalidSpec, Conflict, ServiceNotFound, ServiceNotLoadBalancer,
 * InvalidAuthSecret, NoEligibleNodes), then the Conflict condition ones. A
 * VirtualIP that loses a conflict gets both a Conflict problem
 * (DuplicateAddress or RouterIdClash) and a Ready problem with reason Conflict.
 */
export function planCluster(view: ClusterView, options: RenderOptions = {}): ClusterPlan {
  return planOf(fullPlanState(view, options), view);
}
