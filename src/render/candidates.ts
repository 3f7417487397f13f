// Per-VirtualIP facts the later steps decide on: address family, taking-part
// nodes and their interfaces, effective VRRP settings, and the problems that
// keep it out of the config (Service, nodes, auth Secret). Pure.
//
// Decisions:
// - A VirtualIP whose Service is missing (ServiceNotFound) or, with
//   forwarding kube-proxy, is not a LoadBalancer of ours (ServiceNotLoadBalancer)
//   is left out of every config: an address with nothing behind it would expose
//   whatever listens on the node's host network. It keeps its claim on its
//   address and router id for a grace period (claims.ts), so a Service being
//   re-created does not hand the address to someone else; without a claim it
//   blocks no one.
// - The address and router id come from planAddresses (allocation.ts).
// - Nodes being deleted still take part; keepalived sees them go.
// - VRRP version 2 with an IPv6 address is InvalidSpec (VRRPv2 has no IPv6).
import type { V1Node, V1Service } from "@kubernetes/client-node";
import { CONDITION_READY, DEFAULT_PRIORITY, LOAD_BALANCER_CLASS, OPERATOR_FIELD_MANAGER, ReadyReason, parseDurationMs } from "../api/index.js";
import type { Family, VirtualIP } from "../api/index.js";
import { parseAuthPassword } from "./auth.js";
import { capabilityProblem } from "./capabilities.js";
import { claimRank, type ClaimRank } from "./claims.js";
import type { AddressAssignment } from "./allocation.js";
import { parsedIP } from "./ipmemo.js";
import { nodeDefaultInterface } from "./nodes.js";
import { matchesLabelSelector } from "./selector.js";
import type { Problem } from "./types.js";
import type { ViewIndex } from "./view.js";
import { objectKey } from "../shared/keys.js";

/** VRRP authentication of a candidate. The password is secret: never log a Candidate. */
export type AuthState = { kind: "none" } | { kind: "invalid" } | { kind: "pass"; password: string };

/** One VirtualIP with everything planning needs, resolved against the view. */
export interface Candidate {
  key: string;
  vip: VirtualIP;
  namespace: string;
  /** Canonical address in effect (spec.address or the allocated one). */
  address: string;
  /** Router id in effect (spec.virtualRouterId or the allocated one). */
  virtualRouterId: number;
  /** The pool the address belongs to. */
  pool?: string;
  /** How strong its hold on the address is (see claims.ts). */
  rank: ClaimRank;
  family: Family;
  /** spec.interface; undefined when each node uses its default interface. */
  interfaceSpec: string | undefined;
  /** Taking-part nodes: matching the selector and having an InternalIP of the family; sorted. */
  nodes: string[];
  /** Interface per taking-part node. */
  interfaces: Record<string, string>;
  /** Priority per taking-part node. */
  priorities: Record<string, number>;
  version: 2 | 3;
  advertIntervalMs: number;
  preempt: boolean;
  /** keepalived preempt_delay in ms (spec.vrrp.preemptDelay); 0 without one or without preemption. */
  preemptDelayMs: number;
  unicast: boolean;
  auth: AuthState;
  /** Ready problems; the candidate is rendered only when there are none (and it wins its conflicts). */
  problems: Problem[];
  /**
   * Whether it takes part in conflicts: its spec and address are allowed, and it
   * is either usable or still holds an unexpired claim. An unusable VirtualIP
   * without a claim blocks no one, so an address cannot be squatted.
   */
  claims: boolean;
}

/** Effective priority of `node` in a VirtualIP. */
export function priorityOf(vip: VirtualIP, node: string): number {
  const p = vip.spec.vrrp.priorities;
  return p && Object.prototype.hasOwnProperty.call(p, node) ? (p[node] ?? DEFAULT_PRIORITY) : DEFAULT_PRIORITY;
}

/** A Ready problem that leaves the VirtualIP out, with a message naming object and field. */
function readyProblem(key: string, reason: ReadyReason, field: string, text: string): Problem {
  return { virtualIP: key, condition: CONDITION_READY, reason, message: `VirtualIP ${key}: ${field}: ${text}`, excluded: true };
}

/** Whether another controller than this operator wrote the Service's load-balancer ingress (from managedFields). */
export function ingressOwnedElsewhere(service: V1Service): boolean {
  if ((service.status?.loadBalancer?.ingress ?? []).length === 0) return false;
  const owners = (service.metadata?.managedFields ?? []).filter((e) => {
    const f = e.fieldsV1 as Record<string, Record<string, Record<string, unknown>>> | undefined;
    return f?.["f:status"]?.["f:loadBalancer"]?.["f:ingress"] !== undefined;
  });
  return owners.length > 0 && owners.every((e) => e.manager !== OPERATOR_FIELD_MANAGER);
}

function serviceProblem(key: string, vip: VirtualIP, service: V1Service | undefined): Problem | undefined {
  const ns = vip.metadata.namespace || "default";
  const svc = `Service ${ns}/${vip.spec.serviceRef.name}`;
  if (!service) return readyProblem(key, ReadyReason.ServiceNotFound, "spec.serviceRef.name", `${svc} not found`);
  if (vip.spec.forwarding !== "kube-proxy") return undefined;
  const type = service.spec?.type ?? "ClusterIP";
  if (type !== "LoadBalancer") {
    return readyProblem(
      key,
      ReadyReason.ServiceNotLoadBalancer,
      "spec.forwarding",
      `kube-proxy forwarding needs ${svc} to be type LoadBalancer, it is ${type}`,
    );
  }
  if (ingressOwnedElsewhere(service)) {
    return readyProblem(
      key,
      ReadyReason.IngressOwnedElsewhere,
      "spec.forwarding",
      `${svc} has status.loadBalancer.ingress written by another controller; it is left alone`,
    );
  }
  const cls = service.spec?.loadBalancerClass;
  if (cls !== undefined && cls !== null && cls !== LOAD_BALANCER_CLASS) {
    return readyProblem(
      key,
      ReadyReason.ServiceNotLoadBalancer,
      "spec.forwarding",
      `kube-proxy forwarding needs ${svc} to have no spec.loadBalancerClass or ${LOAD_BALANCER_CLASS}, it has ${cls}`,
    );
  }
  return undefined;
}

function planAuth(key: string, vip: VirtualIP, index: ViewIndex): { auth: AuthState; problem?: Problem } {
  const ref = vip.spec.vrrp.authSecretRef;
  if (!ref || vip.spec.vrrp.version !== 2) return { auth: { kind: "none" } };
  const ns = vip.metadata.namespace || "default";
  const res = parseAuthPassword(index.secrets.get(`${ns}/${ref.name}`), { namespace: ns, name: ref.name, key: ref.key });
  if (res.ok) return { auth: { kind: "pass", password: res.password } };
  return { auth: { kind: "invalid" }, problem: readyProblem(key, ReadyReason.InvalidAuthSecret, "spec.vrrp.authSecretRef", res.message) };
}

/** The nodes of one VirtualIP, as far as its node selector, family, interface and priorities decide them (shared by alike VirtualIPs). */
interface NodeSide {
  matching: number;
  nodes: V1Node[];
  names: string[];
  interfaces: Record<string, string>;
  priorities: Record<string, number>;
}

/**
 * Within one planning pass, VirtualIPs alike in node selector, family,
 * interface and priorities share one {@link NodeSide}: the per-node work is
 * done once per such group, not once per VirtualIP. Never mutated.
 */
export type NodeSideMemo = Map<string, NodeSide>;

function nodeSide(vip: VirtualIP, family: Family, index: ViewIndex, memo: NodeSideMemo | undefined): NodeSide {
  const id = memo ? JSON.stringify([vip.spec.nodeSelector ?? null, family, vip.spec.interface ?? null, vip.spec.vrrp.priorities ?? null]) : "";
  const hit = memo?.get(id);
  if (hit) return hit;
  const matching = index.nodes.filter((n) => matchesLabelSelector(vip.spec.nodeSelector, n.metadata?.labels));
  const nodes = matching.filter((n) => index.nodeAddresses.get(n.metadata?.name ?? "")?.[family] !== undefined);
  const interfaces: Record<string, string> = {};
  const priorities: Record<string, number> = {};
  for (const node of nodes) {
    const name = node.metadata?.name ?? "";
    interfaces[name] = vip.spec.interface ?? nodeDefaultInterface(node, index.interfaces);
    priorities[name] = priorityOf(vip, name);
  }
  const side = { matching: matching.length, nodes, names: nodes.map((n) => n.metadata?.name ?? ""), interfaces, priorities };
  memo?.set(id, side);
  return side;
}

function eligibleNodes(key: string, side: NodeSide, family: Family): { nodes: V1Node[]; problem?: Problem } {
  const { matching, nodes } = side;
  if (nodes.length > 0) return { nodes };
  const text = matching === 0 ? "no Node matches spec.nodeSelector" : `${matching} Node(s) match spec.nodeSelector but none has an IPv${family} InternalIP`;
  return { nodes, problem: readyProblem(key, ReadyReason.NoEligibleNodes, "spec.nodeSelector", text) };
}

function specProblem(
  vip: VirtualIP,
  resolved: { key: string; family: Family | undefined; advertMs: number | undefined; address: string },
): Problem | undefined {
  const { key, family, advertMs, address } = resolved;
  if (family === undefined) return readyProblem(key, ReadyReason.InvalidSpec, "spec.address", "not an IP address in canonical form");
  if (advertMs === undefined) return readyProblem(key, ReadyReason.InvalidSpec, "spec.vrrp.advertisementInterval", "not a duration");
  if (family === 6 && vip.spec.vrrp.version === 2) {
    return readyProblem(key, ReadyReason.InvalidSpec, "spec.vrrp.version", `VRRP version 2 cannot carry IPv6 address ${address}; use version 3`);
  }
  return undefined;
}

/** The admin's floor on the advert interval (RenderOptions.minAdvertIntervalMs). */
function advertFloorProblem(key: string, vip: VirtualIP, advertMs: number, minAdvertMs: number): Problem | undefined {
  if (advertMs >= minAdvertMs) return undefined;
  const text = `${vip.spec.vrrp.advertisementInterval} is below the smallest advert interval this cluster allows, ${minAdvertMs}ms (operator --min-advert-interval)`;
  return readyProblem(key, ReadyReason.AdvertIntervalTooShort, "spec.vrrp.advertisementInterval", text);
}

/** What planCandidate needs besides the VirtualIP and the view. */
export interface CandidateContext {
  assignment: AddressAssignment | undefined;
  now?: number;
  claimGraceMs: number;
  /** Shared node-side work of the pass (planCandidates passes one). */
  nodeSides?: NodeSideMemo;
}

/** Resolves one VirtualIP against the view, with the address and router id it was assigned. */
export function planCandidate(vip: VirtualIP, index: ViewIndex, ctx: CandidateContext): Candidate {
  const key = objectKey(vip.metadata);
  const namespace = vip.metadata.namespace || "default";
  const assigned = ctx.assignment;
  const address = parsedIP(assigned?.address ?? "").canonical ?? assigned?.address ?? "";
  const family = parsedIP(address).family;
  const advertMs = parseDurationMs(vip.spec.vrrp.advertisementInterval);
  const virtualRouterId = assigned?.virtualRouterId ?? 0;
  const base: Candidate = {
    key,
    vip,
    namespace,
    address,
    virtualRouterId,
    ...(assigned?.pool !== undefined ? { pool: assigned.pool } : {}),
    rank: { tier: 2, time: Infinity },
    family: family ?? 4,
    interfaceSpec: vip.spec.interface,
    nodes: [],
    interfaces: {},
    priorities: {},
    version: vip.spec.vrrp.version,
    advertIntervalMs: advertMs ?? 0,
    preempt: vip.spec.vrrp.preempt,
    preemptDelayMs: vip.spec.vrrp.preempt ? (parseDurationMs(vip.spec.vrrp.preemptDelay ?? "0ms") ?? 0) : 0,
    unicast: vip.spec.vrrp.unicast,
    auth: { kind: "none" },
    problems: [],
    claims: false,
  };
  if (!assigned || assigned.problem) return { ...base, problems: assigned?.problem ? [assigned.problem] : [] };
  const invalid = specProblem(vip, { key, family, advertMs, address }) ?? advertFloorProblem(key, vip, advertMs ?? 0, index.options.minAdvertIntervalMs);
  if (invalid || family === undefined) return { ...base, problems: invalid ? [invalid] : [] };

  const problems: Problem[] = [];
  const svcProblem = serviceProblem(key, vip, index.services.get(`${namespace}/${vip.spec.serviceRef.name}`));
  if (svcProblem) problems.push(svcProblem);
  const auth = planAuth(key, vip, index);
  if (auth.problem) problems.push(auth.problem);
  const side = nodeSide(vip, family, index, ctx.nodeSides);
  const eligible = eligibleNodes(key, side, family);
  if (eligible.problem) problems.push(eligible.problem);
  const capability = eligible.problem ? undefined : capabilityProblem(key, vip, side.names, index.agentCapabilities);
  if (capability) problems.push(capability);

  const { interfaces, priorities, names: nodes } = side;
  const rank = claimRank(vip, address, virtualRouterId, { ...(ctx.now !== undefined ? { now: ctx.now } : {}), graceMs: ctx.claimGraceMs });
  const claims = problems.length === 0 || rank.tier < 2;
  return { ...base, rank, nodes, interfaces, priorities, auth: auth.auth, problems, claims };
}

/** Resolves every VirtualIP of the view, oldest first, with the addresses and router ids planned for them. */
export function planCandidates(index: ViewIndex, assignments: ReadonlyMap<string, AddressAssignment>, nodeSides: NodeSideMemo = new Map()): Candidate[] {
  const ctx = { ...(index.now !== undefined ? { now: index.now } : {}), claimGraceMs: index.options.claimGraceMs, nodeSides };
  return index.virtualIPs.map((vip) => planCandidate(vip, index, { ...ctx, assignment: assignments.get(objectKey(vip.metadata)) }));
}
