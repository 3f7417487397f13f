// A synthetic cluster as the operator's cache holds it (raw objects), in the
// operator benchmark's shape: VirtualIPs over Nodes, every Node or
// `nodesPerVip` labelled Nodes in each VirtualIP. For the planning pass
// profile and the incremental planner's property test. Pure.
import { API_VERSION, KIND } from "../../../src/api/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { testPoolObject } from "../../support/pools.js";

export interface ClusterShape {
  vips: number;
  nodes: number;
  services: number;
  routerIds: number;
  /** Each VirtualIP on this many Nodes (a node selector per group); unset: every Node. */
  nodesPerVip?: number;
}

export const BENCH_NS = "bench";

/** The shape the benchmarks read from the environment: BENCH_VIPS, BENCH_NODES, BENCH_NODES_PER_VIP (unset: every Node). */
export function shapeFromEnv(env: NodeJS.ProcessEnv = process.env, defaults = { vips: 4000, nodes: 200 }): ClusterShape {
  const num = (name: string, def: number): number => Number(env[name] ?? def);
  return {
    vips: num("BENCH_VIPS", defaults.vips),
    nodes: num("BENCH_NODES", defaults.nodes),
    services: 100,
    routerIds: 250,
    ...(env.BENCH_NODES_PER_VIP ? { nodesPerVip: num("BENCH_NODES_PER_VIP", 5) } : {}),
  };
}

export const nodeName = (i: number): string => `node-${String(i).padStart(3, "0")}`;
export const vipAddress = (i: number): string => `2001:db8:100::${(i + 1).toString(16)}`;

/** The node group of VirtualIP i when each VirtualIP is on `perVip` Nodes: consecutive router ids share one. */
export function groupOf(i: number, s: ClusterShape): number {
  const per = s.nodesPerVip ?? s.nodes;
  const groups = Math.max(1, Math.floor(s.nodes / per));
  return i % groups;
}

export function nodeObject(i: number, s: ClusterShape): RawObject {
  const per = s.nodesPerVip ?? s.nodes;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: nodeName(i), uid: `uid-node-${i}`, resourceVersion: "1", labels: { "bench/group": String(Math.floor(i / per)) } },
    status: {
      addresses: [
        { type: "InternalIP", address: `192.0.2.${(i % 250) + 1}` },
        { type: "InternalIP", address: `2001:db8::${(0x100 + i).toString(16)}` },
      ],
    },
  };
}

export function serviceObject(i: number): RawObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `svc-${i}`, namespace: BENCH_NS, uid: `uid-svc-${i}`, resourceVersion: "1" },
    spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }], selector: { app: `svc-${i}` } },
  };
}

export function vipObject(i: number, s: ClusterShape, opts: { address?: string; generation?: number } = {}): RawObject {
  const selector = s.nodesPerVip !== undefined ? { nodeSelector: { matchLabels: { "bench/group": String(groupOf(i, s)) } } } : {};
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: `vip-${i}`,
      namespace: BENCH_NS,
      uid: `uid-vip-${i}`,
      generation: opts.generation ?? 1,
      resourceVersion: "1",
      creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
    },
    spec: { serviceRef: { name: `svc-${i % s.services}` }, address: opts.address ?? vipAddress(i), virtualRouterId: (i % s.routerIds) + 1, ...selector },
  };
}

export function poolObject(): RawObject {
  return { ...(testPoolObject() as RawObject), metadata: { name: "test", uid: "uid-pool", generation: 1, creationTimestamp: "2020-01-01T00:00:00Z" } };
}

/** Every object of the shape, by cache kind. */
export function clusterObjects(s: ClusterShape): {
  Node: RawObject[];
  Service: RawObject[];
  VirtualIP: RawObject[];
  VirtualIPPool: RawObject[];
  Namespace: RawObject[];
} {
  return {
    Node: Array.from({ length: s.nodes }, (_, i) => nodeObject(i, s)),
    Service: Array.from({ length: s.services }, (_, i) => serviceObject(i)),
    VirtualIP: Array.from({ length: s.vips }, (_, i) => vipObject(i, s)),
    VirtualIPPool: [poolObject()],
    Namespace: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: BENCH_NS, uid: "uid-ns" } }],
  };
}
