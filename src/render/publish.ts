// Publishing the planned instances: each instance's shared part and each
// node's own values (plan.ts decides which instances there are), the keys and
// ranked priorities they are published under, and each VirtualIP's plan entry.
// Used by the full pass (plan.ts) and the incremental one (session.ts) alike. Pure.
import type { V1Node } from "@kubernetes/client-node";
import { CONDITION_CONFLICT, ReadyReason, parseDurationMs } from "../api/index.js";
import type { NodeInstanceEntry, PublishedInstance, PublishedNode, VirtualIP, Family } from "../api/index.js";
import { sha256Hex } from "./assemble.js";
import type { Candidate } from "./candidates.js";
import { claimExpired } from "./claims.js";
import type { InstanceMembers } from "./instances.js";
import { planVirtualServers, type VirtualServer } from "./ipvs.js";
import { checkInstanceOnNode, checkVirtualServer, prepareInstance, renderInstanceOnNode } from "./keepalived.js";
import { compareIP, compareStrings, sortedUnique } from "./order.js";
import { planHandover } from "./placement.js";
import { planPriorities } from "./priorities.js";
import type { InstancePlan, NodePlan, Problem, VirtualIPPlan } from "./types.js";
import type { ViewIndex } from "./view.js";
import { objectKey } from "../shared/keys.js";

/** Order of Ready reasons within one VirtualIP: the first is the one to show. */
const READY_RANK: string[] = [
  ReadyReason.InvalidSpec,
  ReadyReason.NoPool,
  ReadyReason.AddressReserved,
  ReadyReason.AddressNotAllowed,
  ReadyReason.RouterIdNotAllowed,
  ReadyReason.PoolExhausted,
  ReadyReason.AdvertIntervalTooShort,
  ReadyReason.Conflict,
  ReadyReason.ServiceNotFound,
  ReadyReason.ServiceNotLoadBalancer,
  ReadyReason.InvalidAuthSecret,
  ReadyReason.NoEligibleNodes,
  ReadyReason.InterfaceNotFound,
  ReadyReason.IPVSUnavailable,
];

/** Sorts problems by VirtualIP, then Ready before Conflict, then the reason's rank. */
export function sortProblems(problems: Problem[]): Problem[] {
  const rank = (p: Problem): number => (p.condition === CONDITION_CONFLICT ? 100 : READY_RANK.indexOf(p.reason));
  return [...problems].sort((a, b) => compareStrings(a.virtualIP, b.virtualIP) || rank(a) - rank(b) || compareStrings(a.message, b.message));
}

/** Context for planning one node. */
export interface NodeContext {
  index: ViewIndex;
  /** Node name -> the instances it takes part in (any order: a node's entries are sorted by key). */
  byNode: ReadonlyMap<string, Iterable<InstanceMembers>>;
  virtualServers: ReadonlyMap<string, VirtualServer[]>;
  /** Node name -> InternalIP per family. */
  addresses: ReadonlyMap<string, Partial<Record<Family, string>>>;
  /** Each instance's key in the published plan (see {@link publishedKeys}). */
  keys: ReadonlyMap<InstanceMembers, string>;
  /** The nodes of each instance that stand by (placement.ts). */
  standby: ReadonlyMap<InstanceMembers, Set<string>>;
}

/**
 * The key of each instance in the published plan (the name node entries
 * refer to it by): its vrrp_instance name, which is unique but for instances
 * with the same router id, family and interface on disjoint node sets. Those
 * are each keyed by their name, "#" and a hash of their node list ("#" is in
 * no instance name), so that no node ever assembles another's instance.
 */
export function publishedKeys(instances: readonly InstanceMembers[]): Map<InstanceMembers, string> {
  const count = new Map<string, number>();
  for (const p of instances) count.set(p.instance.name, (count.get(p.instance.name) ?? 0) + 1);
  const out = new Map<InstanceMembers, string>();
  for (const p of instances) {
    const { name, nodes } = p.instance;
    out.set(p, (count.get(name) ?? 0) > 1 ? `${name}#${sha256Hex(JSON.stringify(nodes)).slice(0, 16)}` : name);
  }
  return out;
}

/**
 * The ranked priorities of every instance (priorities.ts): distinct per
 * node, MASTERs balanced, explicit spec.vrrp.priorities kept. Members of one
 * instance agree on every listed priority (conflicts.ts), so their lists
 * merge. Balancing is among the instances over the same node set only, so
 * the instances of some node sets can be ranked apart from the rest.
 */
export function rankedPriorities(
  instances: readonly InstanceMembers[],
  keys: ReadonlyMap<InstanceMembers, string>,
): Map<InstanceMembers, Record<string, number>> {
  const keyOf = (p: InstanceMembers): string => keys.get(p) ?? p.instance.name;
  const ranked = planPriorities(
    instances.map((p) => ({
      key: keyOf(p),
      nodes: p.instance.nodes,
      explicit: Object.assign({}, ...p.members.map((m) => m.vip.spec.vrrp.priorities ?? {})) as Record<string, number>,
    })),
  );
  return new Map(instances.map((p) => [p, ranked.get(keyOf(p)) ?? p.instance.priorities]));
}

/** The node set an instance is balanced within (priorities.ts). */
export function nodeSetOf(p: InstanceMembers): string {
  return [...new Set(p.instance.nodes)].sort().join("\n");
}

/** The published, shared part of an instance: what every node taking part renders alike. */
function publishedInstance(planned: InstanceMembers, ctx: NodeContext): PublishedInstance {
  const { instance, members } = planned;
  const auth = members[0]?.auth;
  const primary = instance.primaryAddress ?? instance.addresses[0] ?? "";
  const peers = instance.unicast
    ? sortedUnique(
        instance.nodes.flatMap((n) => ctx.addresses.get(n)?.[instance.family] ?? []),
        compareIP,
      )
    : [];
  const virtualServers = instance.virtualIPs.flatMap((key) => ctx.virtualServers.get(key) ?? []);
  return {
    name: instance.name,
    virtualRouterId: instance.virtualRouterId,
    family: instance.family,
    version: instance.version,
    advertIntervalMs: instance.advertIntervalMs,
    preempt: instance.preempt,
    ...(instance.preemptDelayMs !== undefined ? { preemptDelayMs: instance.preemptDelayMs } : {}),
    unicast: instance.unicast,
    // Every node's address: each node drops its own when its config is assembled.
    peers,
    ...(auth?.kind === "pass" ? { authPassword: auth.password } : {}),
    primaryAddress: primary,
    excludedAddresses: instance.addresses.filter((a) => a !== primary),
    virtualIPs: [...instance.virtualIPs],
    virtualServers,
  };
}

/** What `node` puts into an instance: its interface, priority and unicast source. */
export function nodeEntry(planned: InstanceMembers, node: string, ctx: NodeContext): NodeInstanceEntry {
  const { instance } = planned;
  const sourceIP = instance.unicast ? ctx.addresses.get(node)?.[instance.family] : undefined;
  return {
    instance: ctx.keys.get(planned) ?? instance.name,
    interface: instance.interfaces[node] ?? "",
    priority: instance.priorities[node] ?? 0,
    ...(sourceIP !== undefined ? { sourceIP } : {}),
    ...(ctx.standby.get(planned)?.has(node) ? { standby: true as const } : {}),
  };
}

/** Publishes one instance: its JSON and hash, after checking that every value in it is safe to render. */
export function planPublishedInstance(planned: InstanceMembers, ctx: NodeContext): InstancePlan {
  const published = publishedInstance(planned, ctx);
  const template = prepareInstance(published);
  for (const vs of published.virtualServers) checkVirtualServer(vs);
  const entries = [...new Set(planned.instance.nodes)].map((node) => nodeEntry(planned, node, ctx));
  for (const e of entries) checkInstanceOnNode(template, e);
  // The addresses are checked as they are rendered, the same on every interface: one node's text checks them.
  if (entries[0]) renderInstanceOnNode(template, entries[0]);
  const json = JSON.stringify(published);
  return { name: ctx.keys.get(planned) ?? published.name, published, json, hash: sha256Hex(json) };
}

/** Plans one node: the instances it takes part in, with its own values, as node.json. */
export function planNode(nodeObject: V1Node, ctx: NodeContext): NodePlan {
  const node = nodeObject.metadata?.name ?? "";
  const handover = planHandover(nodeObject);
  const mine = [...(ctx.byNode.get(node) ?? [])];
  const names = new Set<string>();
  for (const p of mine) {
    if (names.has(p.instance.name)) throw new Error(`Two VRRP instances named ${p.instance.name} on node ${node}: conflict detection missed a clash`);
    names.add(p.instance.name);
  }
  const published: PublishedNode = {
    node,
    runtimeDir: ctx.index.options.runtimeDir,
    instances: mine.map((p) => nodeEntry(p, node, ctx)).sort((a, b) => compareStrings(a.instance, b.instance)),
    ...(handover !== undefined ? { handover } : {}),
  };
  const json = JSON.stringify(published);
  return { node, published, json, hash: sha256Hex(json) };
}

export function planAllVirtualServers(index: ViewIndex, rendered: readonly Candidate[]): Map<string, VirtualServer[]> {
  const out = new Map<string, VirtualServer[]>();
  for (const c of rendered) {
    if (c.vip.spec.forwarding !== "ipvs") continue;
    const serviceKey = `${c.vip.metadata.namespace || "default"}/${c.vip.spec.serviceRef.name}`;
    const service = index.services.get(serviceKey);
    if (!service) continue;
    out.set(c.key, planVirtualServers({ vip: c.vip, address: c.address, service, endpointSlices: index.endpointSlicesByService.get(serviceKey) ?? [] }));
  }
  return out;
}

/** The instances each node takes part in. */
export function instancesByNode(instances: Iterable<InstanceMembers>): Map<string, Set<InstanceMembers>> {
  const out = new Map<string, Set<InstanceMembers>>();
  for (const p of instances) addByNode(out, p);
  return out;
}

/** Adds `p` to the instances of each of its nodes. */
export function addByNode(byNode: Map<string, Set<InstanceMembers>>, p: InstanceMembers): void {
  for (const node of p.instance.nodes) {
    const set = byNode.get(node);
    if (set) set.add(p);
    else byNode.set(node, new Set([p]));
  }
}

/** VirtualIP key -> the first instance (in plan order) that carries it. */
export function carriers(instances: readonly InstanceMembers[]): Map<string, InstanceMembers> {
  const out = new Map<string, InstanceMembers>();
  for (const p of instances) for (const key of p.instance.virtualIPs) if (!out.has(key)) out.set(key, p);
  return out;
}

/**
 * Whether a VirtualIP that is not rendered holds no claim any more: it has
 * been unusable for longer than the grace period (whatever made it unusable:
 * its Service, its auth Secret, or its pool refusing it), or it now wants
 * another address or router id than it claimed.
 */
function claimIsVoid(vip: VirtualIP, candidate: Candidate | undefined, index: ViewIndex): boolean {
  const claim = vip.status?.claim;
  if (!claim) return false;
  if (claimExpired(vip, index.now, index.options.claimGraceMs)) return true;
  const address = candidate?.address || vip.spec.address;
  const virtualRouterId = candidate?.virtualRouterId || vip.spec.virtualRouterId;
  return (address !== undefined && address !== claim.address) || (virtualRouterId !== undefined && virtualRouterId !== claim.virtualRouterId);
}

export function virtualIPPlan(
  vip: VirtualIP,
  carrierOf: ReadonlyMap<string, InstanceMembers>,
  candidate: Candidate | undefined,
  index: ViewIndex,
): VirtualIPPlan {
  const key = objectKey(vip.metadata);
  const carrier = carrierOf.get(key);
  const assigned = candidate && candidate.address !== "" && candidate.virtualRouterId > 0;
  return {
    key,
    ...(assigned ? { address: candidate.address, virtualRouterId: candidate.virtualRouterId } : {}),
    ...(assigned && candidate.pool !== undefined ? { pool: candidate.pool } : {}),
    claimed: carrier !== undefined,
    claimVoid: carrier === undefined && claimIsVoid(vip, candidate, index),
    ...(carrier ? { instance: carrier.instance.name } : {}),
    nodes: carrier ? [...carrier.instance.nodes] : [],
    advertIntervalMs: carrier?.instance.advertIntervalMs ?? parseDurationMs(vip.spec.vrrp.advertisementInterval) ?? 0,
  };
}
