// The whole renderer decision: cluster view in, VRRP instances, problems and
// one keepalived.conf per node out. Pure and deterministic (same view in any
// order, same bytes out).
import { createHash } from "node:crypto";
import type { V1Node } from "@kubernetes/client-node";
import { CONDITION_CONFLICT, ReadyReason, parseDurationMs } from "../api/index.js";
import type { Family, NodeInstance, VirtualIP } from "../api/index.js";
import { planCandidates } from "./candidates.js";
import type { Candidate } from "./candidates.js";
import { planConflicts } from "./conflicts.js";
import { planInstances } from "./instances.js";
import type { PlannedInstance } from "./instances.js";
import { planVirtualServers } from "./ipvs.js";
import type { VirtualServer } from "./ipvs.js";
import { renderKeepalivedConf } from "./keepalived.js";
import type { KeepalivedInstance } from "./keepalived.js";
import { nodeInternalIP } from "./nodes.js";
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
  instances: PlannedInstance[];
  virtualServers: Map<string, VirtualServer[]>;
  /** Node name -> InternalIP per family. */
  addresses: Map<string, Partial<Record<Family, string>>>;
}

function unicastFor(planned: PlannedInstance, node: string, ctx: NodeContext): KeepalivedInstance["unicast"] {
  const { instance } = planned;
  if (!instance.unicast) return undefined;
  const sourceIP = ctx.addresses.get(node)?.[instance.family];
  if (sourceIP === undefined) return undefined;
  const peers = instance.nodes.filter((n) => n !== node).flatMap((n) => ctx.addresses.get(n)?.[instance.family] ?? []);
  return { sourceIP, peers };
}

function keepalivedInstance(planned: PlannedInstance, node: string, ctx: NodeContext): KeepalivedInstance {
  const { instance, members } = planned;
  const auth = members[0]?.auth;
  const primary = instance.primaryAddress ?? instance.addresses[0] ?? "";
  const unicast = unicastFor(planned, node, ctx);
  return {
    name: instance.name,
    interface: instance.interfaces[node] ?? "",
    virtualRouterId: instance.virtualRouterId,
    family: instance.family,
    priority: instance.priorities[node] ?? 0,
    version: instance.version,
    advertIntervalMs: instance.advertIntervalMs,
    preempt: instance.preempt,
    ...(unicast ? { unicast } : {}),
    ...(auth?.kind === "pass" ? { authPassword: auth.password } : {}),
    primaryAddress: primary,
    excludedAddresses: instance.addresses.filter((a) => a !== primary),
    virtualIPs: instance.virtualIPs,
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

/** Plans one node: the instances it takes part in, their virtual servers, the config text and its hash. */
function planNode(node: string, ctx: NodeContext): NodePlan {
  const mine = ctx.instances.filter((p) => p.instance.nodes.includes(node));
  const names = new Set<string>();
  for (const p of mine) {
    if (names.has(p.instance.name)) throw new Error(`Two VRRP instances named ${p.instance.name} on node ${node}: conflict detection missed a clash`);
    names.add(p.instance.name);
  }
  const virtualServers = mine.flatMap((p) => p.instance.virtualIPs.flatMap((key) => ctx.virtualServers.get(key) ?? []));
  const config = renderKeepalivedConf({
    node,
    runtimeDir: ctx.index.options.runtimeDir,
    instances: mine.map((p) => keepalivedInstance(p, node, ctx)),
    virtualServers,
  });
  const instances = mine.map((p) => nodeInstance(p, node)).sort((a, b) => compareStrings(a.instance, b.instance));
  return { node, config, hash: configHash(config), instances: { node, instances } };
}

function nodeAddresses(nodes: V1Node[]): Map<string, Partial<Record<Family, string>>> {
  const out = new Map<string, Partial<Record<Family, string>>>();
  for (const n of nodes) {
    const v4 = nodeInternalIP(n, 4);
    const v6 = nodeInternalIP(n, 6);
    out.set(n.metadata?.name ?? "", { ...(v4 ? { 4: v4 } : {}), ...(v6 ? { 6: v6 } : {}) });
  }
  return out;
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

function virtualIPPlan(vip: VirtualIP, instances: PlannedInstance[]): VirtualIPPlan {
  const key = objectKey(vip.metadata);
  const carrier = instances.find((p) => p.instance.virtualIPs.includes(key));
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
    instances,
    virtualServers: planAllVirtualServers(index, rendered),
    addresses: nodeAddresses(index.nodes),
  };
  const virtualIPs: Record<string, VirtualIPPlan> = {};
  for (const vip of [...index.virtualIPs].sort((a, b) => compareStrings(objectKey(a.metadata), objectKey(b.metadata)))) {
    virtualIPs[objectKey(vip.metadata)] = virtualIPPlan(vip, instances);
  }
  return {
    instances: instances.map((p) => p.instance),
    problems: sortProblems([...candidates.flatMap((c) => c.problems), ...conflicts.problems]),
    nodes: index.nodes.map((n) => planNode(n.metadata?.name ?? "", ctx)),
    virtualIPs,
  };
}
