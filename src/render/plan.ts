// The whole renderer decision: cluster view in, VRRP instances, problems and
// one keepalived.conf per node out. Pure and deterministic (same view in any
// order, same bytes out).
import { createHash } from "node:crypto";
import { CONDITION_CONFLICT, ReadyReason, parseDurationMs } from "../api/index.js";
import type { Family, NodeInstance, VirtualIP } from "../api/index.js";
import { planCandidates } from "./candidates.js";
import type { Candidate } from "./candidates.js";
import { planConflicts } from "./conflicts.js";
import { planInstances } from "./instances.js";
import type { PlannedInstance } from "./instances.js";
import { planVirtualServers } from "./ipvs.js";
import type { VirtualServer } from "./ipvs.js";
import { prepareInstance, renderNodeConf } from "./keepalived.js";
import type { InstanceOnNode, InstanceTemplate, SharedInstance } from "./keepalived.js";
import { compareStrings, objectKey } from "./order.js";
import type { ClusterPlan, ClusterView, NodePlan, Problem, RenderOptions, VirtualIPPlan } from "./types.js";
import { indexView } from "./view.js";
import type { ViewIndex } from "./view.js";

/** sha256 hex of a config text. */
export function configHash(config: string): string {
  return createHash("sha256").update(config, "utf8").digest("hex");
}

/** Order of Ready reasons within one VirtualIP: the first is the one to show. */
const READY_RANK: string[] = [
  ReadyReason.InvalidSpec,
  ReadyReason.Conflict,
  ReadyReason.ServiceNotFound,
  ReadyReason.ServiceNotLoadBalancer,
  ReadyReason.InvalidAuthSecret,
  ReadyReason.NoEligibleNodes,
];

/** Sorts problems by VirtualIP, then Ready before Conflict, then the reason's rank. */
export function sortProblems(problems: Problem[]): Problem[] {
  const rank = (p: Problem): number => (p.condition === CONDITION_CONFLICT ? 100 : READY_RANK.indexOf(p.reason));
  return [...problems].sort((a, b) => compareStrings(a.virtualIP, b.virtualIP) || rank(a) - rank(b) || compareStrings(a.message, b.message));
}

/** Context for planning one node. */
interface NodeContext {
  index: ViewIndex;
  /** Node name -> the instances it takes part in, in plan order. */
  byNode: Map<string, PlannedInstance[]>;
  /** The shared text of each instance, rendered once for all its nodes. */
  templates: Map<PlannedInstance, InstanceTemplate>;
  virtualServers: Map<string, VirtualServer[]>;
  /** virtual_server texts, rendered once for all nodes. */
  serverTexts: Map<VirtualServer, string>;
  /** Node name -> InternalIP per family. */
  addresses: Map<string, Partial<Record<Family, string>>>;
}

/** The parts of an instance that every node taking part renders alike. */
function sharedInstance(planned: PlannedInstance, addresses: NodeContext["addresses"]): SharedInstance {
  const { instance, members } = planned;
  const auth = members[0]?.auth;
  const primary = instance.primaryAddress ?? instance.addresses[0] ?? "";
  return {
    name: instance.name,
    virtualRouterId: instance.virtualRouterId,
    family: instance.family,
    version: instance.version,
    advertIntervalMs: instance.advertIntervalMs,
    preempt: instance.preempt,
    unicast: instance.unicast,
    // Every node's address: each node drops its own when rendered.
    peers: instance.unicast ? instance.nodes.flatMap((n) => addresses.get(n)?.[instance.family] ?? []) : [],
    ...(auth?.kind === "pass" ? { authPassword: auth.password } : {}),
    primaryAddress: primary,
    excludedAddresses: instance.addresses.filter((a) => a !== primary),
    virtualIPs: instance.virtualIPs,
  };
}

/** What `node` puts into an instance: its interface, priority and unicast source. */
function instanceOnNode(planned: PlannedInstance, node: string, ctx: NodeContext): InstanceOnNode {
  const { instance } = planned;
  const sourceIP = ctx.addresses.get(node)?.[instance.family];
  return {
    interface: instance.interfaces[node] ?? "",
    priority: instance.priorities[node] ?? 0,
    ...(sourceIP !== undefined ? { sourceIP } : {}),
  };
}

function nodeInstance(planned: PlannedInstance, node: string): NodeInstance {
  const { instance } = planned;
  return {
    instance: instance.name,
    virtualRouterId: instance.virtualRouterId,
    interface: instance.interfaces[node] ?? "",
    family: instance.family,
    priority: instance.priorities[node] ?? 0,
    addresses: [...instance.addresses],
    virtualIPs: [...instance.virtualIPs],
  };
}

/** The template of an instance, rendered on first use and then reused by every other node. */
function templateOf(planned: PlannedInstance, ctx: NodeContext): InstanceTemplate {
  let t = ctx.templates.get(planned);
  if (!t) {
    t = prepareInstance(sharedInstance(planned, ctx.addresses));
    ctx.templates.set(planned, t);
  }
  return t;
}

/** Plans one node: the instances it takes part in, their virtual servers, the config text and its hash. */
function planNode(node: string, ctx: NodeContext): NodePlan {
  const mine = ctx.byNode.get(node) ?? [];
  const names = new Set<string>();
  for (const p of mine) {
    if (names.has(p.instance.name)) throw new Error(`Two VRRP instances named ${p.instance.name} on node ${node}: conflict detection missed a clash`);
    names.add(p.instance.name);
  }
  const virtualServers = mine.flatMap((p) => p.instance.virtualIPs.flatMap((key) => ctx.virtualServers.get(key) ?? []));
  const config = renderNodeConf({
    node,
    runtimeDir: ctx.index.options.runtimeDir,
    instances: mine.map((p) => ({ template: templateOf(p, ctx), values: instanceOnNode(p, node, ctx) })),
    virtualServers,
    serverCache: ctx.serverTexts,
  });
  const instances = mine.map((p) => nodeInstance(p, node)).sort((a, b) => compareStrings(a.instance, b.instance));
  return { node, config, hash: configHash(config), instances: { node, instances } };
}

function planAllVirtualServers(index: ViewIndex, rendered: Candidate[]): Map<string, VirtualServer[]> {
  const out = new Map<string, VirtualServer[]>();
  for (const c of rendered) {
    if (c.vip.spec.forwarding !== "ipvs") continue;
    const serviceKey = `${c.vip.metadata.namespace || "default"}/${c.vip.spec.serviceRef.name}`;
    const service = index.services.get(serviceKey);
    if (!service) continue;
    out.set(c.key, planVirtualServers({ vip: c.vip, service, endpointSlices: index.endpointSlicesByService.get(serviceKey) ?? [] }));
  }
  return out;
}

/** The instances each node takes part in, in plan order. */
function instancesByNode(instances: PlannedInstance[]): Map<string, PlannedInstance[]> {
  const out = new Map<string, PlannedInstance[]>();
  for (const p of instances) {
    for (const node of new Set(p.instance.nodes)) {
      const list = out.get(node);
      if (list) list.push(p);
      else out.set(node, [p]);
    }
  }
  return out;
}

/** VirtualIP key -> the first instance (in plan order) that carries it. */
function carriers(instances: PlannedInstance[]): Map<string, PlannedInstance> {
  const out = new Map<string, PlannedInstance>();
  for (const p of instances) for (const key of p.instance.virtualIPs) if (!out.has(key)) out.set(key, p);
  return out;
}

function virtualIPPlan(vip: VirtualIP, carrierOf: Map<string, PlannedInstance>): VirtualIPPlan {
  const key = objectKey(vip.metadata);
  const carrier = carrierOf.get(key);
  return {
    key,
    ...(carrier ? { instance: carrier.instance.name } : {}),
    nodes: carrier ? [...carrier.instance.nodes] : [],
    advertIntervalMs: carrier?.instance.advertIntervalMs ?? parseDurationMs(vip.spec.vrrp.advertisementInterval) ?? 0,
  };
}

/**
 * Plans the whole cluster: which VirtualIPs are left out and why (problems),
 * the VRRP instances the others form, and every Node's keepalived.conf (a
 * Node without any instance gets global_defs only). `virtualIPs` has an entry
 * for every VirtualIP in the view; one left out has no instance and no nodes.
 *
 * Problems are sorted by VirtualIP, then the Ready ones first, most important
 * first (InvalidSpec, Conflict, ServiceNotFound, ServiceNotLoadBalancer,
 * InvalidAuthSecret, NoEligibleNodes), then the Conflict condition ones. A
 * VirtualIP that loses a conflict gets both a Conflict problem
 * (DuplicateAddress or RouterIdClash) and a Ready problem with reason Conflict.
 */
export function planCluster(view: ClusterView, options: RenderOptions = {}): ClusterPlan {
  const index = indexView(view, options);
  const candidates = planCandidates(index);
  const conflicts = planConflicts(candidates);
  const rendered = conflicts.accepted.filter((c) => c.problems.length === 0);
  const instances = planInstances(rendered);
  const ctx: NodeContext = {
    index,
    byNode: instancesByNode(instances),
    templates: new Map(),
    virtualServers: planAllVirtualServers(index, rendered),
    serverTexts: new Map(),
    addresses: index.nodeAddresses,
  };
  const carrierOf = carriers(instances);
  const virtualIPs: Record<string, VirtualIPPlan> = {};
  for (const vip of [...index.virtualIPs].sort((a, b) => compareStrings(objectKey(a.metadata), objectKey(b.metadata)))) {
    virtualIPs[objectKey(vip.metadata)] = virtualIPPlan(vip, carrierOf);
  }
  return {
    instances: instances.map((p) => p.instance),
    problems: sortProblems([...candidates.flatMap((c) => c.problems), ...conflicts.problems]),
    nodes: index.nodes.map((n) => planNode(n.metadata?.name ?? "", ctx)),
    virtualIPs,
  };
}
