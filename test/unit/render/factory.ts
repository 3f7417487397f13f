// Small builders of renderer inputs for table-driven tests.
import type { V1EndpointSlice, V1Node, V1Secret, V1Service } from "@kubernetes/client-node";
import { API_VERSION, KIND, parseVirtualIP } from "../../../src/api/index.js";
import type { VirtualIP, VirtualIPSpecInput } from "../../../src/api/index.js";
import type { ClusterView } from "../../../src/render/index.js";
import { testPool } from "../../support/pools.js";

export interface VipInput {
  name: string;
  namespace?: string;
  /** creationTimestamp; default 2024-01-01T00:00:00Z. */
  created?: string;
  spec?: Partial<VirtualIPSpecInput>;
}

/** A parsed VirtualIP (defaults applied); throws when the spec is invalid. */
export function vip(input: VipInput): VirtualIP {
  const res = parseVirtualIP({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: input.name, namespace: input.namespace ?? "default", creationTimestamp: input.created ?? "2024-01-01T00:00:00Z" },
    spec: { serviceRef: { name: "web" }, address: "192.0.2.50", virtualRouterId: 51, forwarding: "kube-proxy", ...input.spec },
  });
  if (!res.ok) throw new Error(res.error);
  return res.value;
}

export function node(name: string, ips: string[], meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): V1Node {
  return {
    metadata: { name, ...meta },
    status: { addresses: ips.map((address) => ({ type: "InternalIP", address })) },
  };
}

export function service(name: string, spec: V1Service["spec"] = { type: "LoadBalancer", ports: [{ port: 80 }] }, namespace = "default"): V1Service {
  return { metadata: { name, namespace }, spec };
}

export function secret(name: string, data: Record<string, string>, namespace = "default"): V1Secret {
  return { metadata: { name, namespace }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) };
}

export function slice(
  name: string,
  input: { service: string; family?: 4 | 6; namespace?: string; ports: V1EndpointSlice["ports"]; endpoints: { ip: string; ready?: boolean }[] },
): V1EndpointSlice {
  return {
    metadata: { name, namespace: input.namespace ?? "default", labels: { "kubernetes.io/service-name": input.service } },
    addressType: `IPv${input.family ?? 4}`,
    ports: input.ports,
    endpoints: input.endpoints.map((e) => ({ addresses: [e.ip], ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }) })),
  };
}

/** Three nodes 192.0.2.11-13 (node-a..c), a LoadBalancer Service "web", and the given VirtualIPs. */
export function view(virtualIPs: VirtualIP[], extra: Partial<ClusterView> = {}): ClusterView {
  return {
    virtualIPs,
    nodes: [node("node-a", ["192.0.2.11"]), node("node-b", ["192.0.2.12"]), node("node-c", ["192.0.2.13"])],
    services: [service("web")],
    endpointSlices: [],
    secrets: [],
    nodeInterfaces: {},
    pools: [testPool()],
    ...extra,
  };
}

/** The lines of the `name { ... }` block (first one) in a config, or undefined. */
export function blockOf(config: string, head: string): string | undefined {
  const lines = config.split("\n");
  const start = lines.findIndex((l) => l.trim() === `${head} {`);
  if (start < 0) return undefined;
  const indent = (lines[start] ?? "").length - (lines[start] ?? "").trimStart().length;
  const end = lines.findIndex((l, i) => i > start && l.trim() === "}" && l.length - l.trimStart().length === indent);
  return lines.slice(start, end + 1).join("\n");
}

/**
 * A copy of `v` whose status records a claim on its address and router id
 * (spec values unless given) made at `time`, at the object's generation
 * unless given, and optionally a Ready condition (reason, since when).
 */
export function claimed(
  v: VirtualIP,
  claim: { time: string; address?: string; virtualRouterId?: number; generation?: number },
  ready?: { status: "True" | "False"; reason: string; since: string },
): VirtualIP {
  const address = claim.address ?? v.spec.address ?? v.status?.address;
  const virtualRouterId = claim.virtualRouterId ?? v.spec.virtualRouterId ?? v.status?.virtualRouterId;
  if (address === undefined || virtualRouterId === undefined) throw new Error(`claimed(${v.metadata.name}): no address or router id to claim`);
  const conditions = ready ? [{ type: "Ready", status: ready.status, reason: ready.reason, message: "", lastTransitionTime: ready.since }] : undefined;
  return {
    ...v,
    status: {
      ...v.status,
      claim: {
        address,
        virtualRouterId,
        generation: claim.generation ?? v.metadata.generation ?? 0,
        time: claim.time,
        // What the operator records when it leaves a claimed VirtualIP out of the plan.
        ...(ready && ready.status === "False" && !["NoMaster", "Active"].includes(ready.reason) ? { unusableSince: ready.since } : {}),
      },
      ...(conditions ? { conditions } : {}),
    },
  };
}
