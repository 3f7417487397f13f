// Per-VirtualIP facts the later steps decide on: address family, taking-part
// nodes and their interfaces, effective VRRP settings, and the problems that
// keep it out of the config (Service, nodes, auth Secret). Pure.
//
// Decisions:
// - A VirtualIP whose Service is missing (ServiceNotFound) or, with
//   forwarding kube-proxy, is not a LoadBalancer of ours (ServiceNotLoadBalancer)
//   is left out of every config: an address with nothing behind it would expose
//   whatever listens on the node's host network. It still claims its address
//   and router id (see conflicts.ts), so fixing its Service never evicts a
//   newer VirtualIP that was admitted meanwhile: the older one always wins.
// - Nodes being deleted still take part; keepalived sees them go.
// - VRRP version 2 with an IPv6 address is InvalidSpec (VRRPv2 has no IPv6).
import type { V1Node, V1Service } from "@kubernetes/client-node";
import {
  CONDITION_READY,
  DEFAULT_PRIORITY,
  LOAD_BALANCER_CLASS,
  ReadyReason,
  canonicalIP,
  ipFamily,
  parseDurationMs,
} from "../api/index.js";
import type { Family, VirtualIP } from "../api/index.js";
import { parseAuthPassword } from "./auth.js";
import { nodeDefaultInterface } from "./nodes.js";
import { objectKey } from "./order.js";
import { matchesLabelSelector } from "./selector.js";
import type { Problem } from "./types.js";
import type { ViewIndex } from "./view.js";

/** VRRP authentication of a candidate. The password is secret: never log a Candidate. */
export type AuthState = { kind: "none" } | { kind: "invalid" } | { kind: "pass"; password: string };

/** One VirtualIP with everything planning needs, resolved against the view. */
export interface Candidate {
  key: string;
  vip: VirtualIP;
  /** Canonical address. */
  address: string;
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
  unicast: boolean;
  auth: AuthState;
  /** Ready problems; the candidate is rendered only when there are none (and it wins its conflicts). */
  problems: Problem[];
  /** false when the spec itself is unusable: such a VirtualIP claims no address and no router id. */
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

function serviceProblem(key: string, vip: VirtualIP, service: V1Service | undefined): Problem | undefined {
  const ns = vip.metadata.namespace || "default";
  const svc = `Service ${ns}/${vip.spec.serviceRef.name}`;
  if (!service) return readyProblem(key, ReadyReason.ServiceNotFound, "spec.serviceRef.name", `${svc} not found`);
  if (vip.spec.forwarding !== "kube-proxy") return undefined;
  const type = service.spec?.type ?? "ClusterIP";
  if (type !== "LoadBalancer") {
    return readyProblem(key, ReadyReason.ServiceNotLoadBalancer, "spec.forwarding", `kube-proxy forwarding needs ${svc} to be type LoadBalancer, it is ${type}`);
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

function eligibleNodes(key: string, vip: VirtualIP, family: Family, index: ViewIndex): { nodes: V1Node[]; problem?: Problem } {
  const matching = index.nodes.filter((n) => matchesLabelSelector(vip.spec.nodeSelector, n.metadata?.labels));
  const nodes = matching.filter((n) => index.nodeAddresses.get(n.metadata?.name ?? "")?.[family] !== undefined);
  if (nodes.length > 0) return { nodes };
  const text =
    matching.length === 0
      ? "no Node matches spec.nodeSelector"
      : `${matching.length} Node(s) match spec.nodeSelector but none has an IPv${family} InternalIP`;
  return { nodes, problem: readyProblem(key, ReadyReason.NoEligibleNodes, "spec.nodeSelector", text) };
}

function specProblem(key: string, vip: VirtualIP, family: Family | undefined, advertMs: number | undefined): Problem | undefined {
  if (family === undefined) return readyProblem(key, ReadyReason.InvalidSpec, "spec.address", "not an IP address in canonical form");
  if (advertMs === undefined) return readyProblem(key, ReadyReason.InvalidSpec, "spec.vrrp.advertisementInterval", "not a duration");
  if (family === 6 && vip.spec.vrrp.version === 2) {
    return readyProblem(key, ReadyReason.InvalidSpec, "spec.vrrp.version", `VRRP version 2 cannot carry IPv6 address ${vip.spec.address}; use version 3`);
  }
  return undefined;
}

/** The admin's floor on the advert interval (RenderOptions.minAdvertIntervalMs). */
function advertFloorProblem(key: string, vip: VirtualIP, advertMs: number, minAdvertMs: number): Problem | undefined {
  if (advertMs >= minAdvertMs) return undefined;
  const text = `${vip.spec.vrrp.advertisementInterval} is below the smallest advert interval this cluster allows, ${minAdvertMs}ms (operator --min-advert-interval)`;
  return readyProblem(key, ReadyReason.AdvertIntervalTooShort, "spec.vrrp.advertisementInterval", text);
}

/** Resolves one VirtualIP against the view. */
export function planCandidate(vip: VirtualIP, index: ViewIndex): Candidate {
  const key = objectKey(vip.metadata);
  const address = canonicalIP(vip.spec.address) ?? vip.spec.address;
  const family = ipFamily(address);
  const advertMs = parseDurationMs(vip.spec.vrrp.advertisementInterval);
  const base: Candidate = {
    key,
    vip,
    address,
    family: family ?? 4,
    interfaceSpec: vip.spec.interface,
    nodes: [],
    interfaces: {},
    priorities: {},
    version: vip.spec.vrrp.version,
    advertIntervalMs: advertMs ?? 0,
    preempt: vip.spec.vrrp.preempt,
    unicast: vip.spec.vrrp.unicast,
    auth: { kind: "none" },
    problems: [],
    claims: false,
  };
  const invalid = specProblem(key, vip, family, advertMs) ?? advertFloorProblem(key, vip, advertMs ?? 0, index.options.minAdvertIntervalMs);
  if (invalid || family === undefined) return { ...base, problems: invalid ? [invalid] : [] };

  const problems: Problem[] = [];
  const ns = vip.metadata.namespace || "default";
  const svcProblem = serviceProblem(key, vip, index.services.get(`${ns}/${vip.spec.serviceRef.name}`));
  if (svcProblem) problems.push(svcProblem);
  const auth = planAuth(key, vip, index);
  if (auth.problem) problems.push(auth.problem);
  const eligible = eligibleNodes(key, vip, family, index);
  if (eligible.problem) problems.push(eligible.problem);

  const interfaces: Record<string, string> = {};
  const priorities: Record<string, number> = {};
  for (const node of eligible.nodes) {
    const name = node.metadata?.name ?? "";
    interfaces[name] = vip.spec.interface ?? nodeDefaultInterface(node, index.interfaces);
    priorities[name] = priorityOf(vip, name);
  }
  const nodes = eligible.nodes.map((n) => n.metadata?.name ?? "");
  return { ...base, nodes, interfaces, priorities, auth: auth.auth, problems, claims: true };
}

/** Resolves every VirtualIP of the view, oldest first. */
export function planCandidates(index: ViewIndex): Candidate[] {
  return index.virtualIPs.map((vip) => planCandidate(vip, index));
}
