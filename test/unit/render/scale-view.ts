// A large, varied cluster view for the renderer's scale tests: 200
// VirtualIPs over 20 Nodes, both families, shared router ids, selectors,
// priorities, VRRPv2 auth, multicast, named interfaces and ipvs forwarding.
import type { V1EndpointSlice } from "@kubernetes/client-node";
import type { ClusterView } from "../../../src/render/index.js";
import { node, secret, service, slice, vip } from "./factory.js";
import { API_VERSION, POOL_KIND, parsePool, type VirtualIP, type VirtualIPPool } from "../../../src/api/index.js";
import { testPool } from "../../support/pools.js";

/** The auth password of every VRRPv2 VirtualIP in the view. */
export const SCALE_PASSWORD = "s3cret";

const NODES = 20;
const VIPS = 200;
const ROUTER_IDS = 50;

function nodeName(i: number): string {
  return `node-${String(i).padStart(2, "0")}`;
}

/** Router id group g (0..49) decides the settings all its 4 VirtualIPs share. */
function vipOf(i: number): VirtualIP {
  const g = i % ROUTER_IDS;
  const round = Math.floor(i / ROUTER_IDS);
  const v6 = g % 5 === 4;
  const v2 = !v6 && g % 7 === 3;
  return vip({
    name: `vip-${String(i).padStart(3, "0")}`,
    namespace: g % 3 === 0 ? "team-a" : "team-b",
    created: new Date(Date.UTC(2024, 0, 1, 0, 0, (i * 7919) % VIPS)).toISOString(),
    spec: {
      serviceRef: { name: g % 6 === 5 ? "dns" : "web" },
      address: v6 ? `2001:db8:100::${(i + 1).toString(16)}` : `198.51.100.${round * 50 + g + 1}`,
      virtualRouterId: g + 1,
      forwarding: g % 6 === 5 ? "ipvs" : "kube-proxy",
      ...(g % 8 === 2 ? { interface: "bond0" } : {}),
      ...(g % 4 === 1 ? { nodeSelector: { matchLabels: { zone: "a" } } } : {}),
      vrrp: {
        version: v2 ? 2 : 3,
        advertisementInterval: g % 2 === 0 ? "1s" : "2s",
        preempt: g % 9 === 0,
        unicast: g % 10 !== 7,
        ...(g % 3 === 1 ? { priorities: { [nodeName(g % NODES)]: 200, [nodeName((g + 3) % NODES)]: 150 } } : {}),
        ...(v2 ? { authSecretRef: { name: "vrrp-auth", key: "password" } } : {}),
      },
    },
  });
}

/** The IPv6 addresses of the view lie outside the test pool: a pool of their own admits them. */
function scalePool(): VirtualIPPool {
  const res = parsePool({
    apiVersion: API_VERSION,
    kind: POOL_KIND,
    metadata: { name: "scale-v6", creationTimestamp: "2020-01-02T00:00:00Z" },
    spec: { addresses: ["2001:db8:100::/120"], virtualRouterIds: ["1-255"] },
  });
  if (!res.ok) throw new Error(res.error);
  return res.value;
}

function dnsSlices(): V1EndpointSlice[] {
  const ports = [
    { name: "dns", port: 5353, protocol: "UDP" },
    { name: "dns-tcp", port: 5353, protocol: "TCP" },
  ];
  return [
    slice("dns-v4", { service: "dns", ports, endpoints: [{ ip: "192.0.2.201" }, { ip: "192.0.2.200" }, { ip: "192.0.2.202", ready: false }] }),
    slice("dns-v6", { service: "dns", family: 6, ports, endpoints: [{ ip: "2001:db8:300::2" }, { ip: "2001:db8:300::1" }] }),
  ].flatMap((s) => [
    { ...s, metadata: { ...s.metadata, namespace: "team-a" } },
    { ...s, metadata: { ...s.metadata, namespace: "team-b" } },
  ]);
}

/** The view: node i has 192.0.2.(11+i), every other node also 2001:db8::(11+i), the first half zone a. */
export function scaleView(): ClusterView {
  const nodes = Array.from({ length: NODES }, (_, i) =>
    node(nodeName(i), [`192.0.2.${11 + i}`, ...(i % 2 === 0 ? [`2001:db8::${(11 + i).toString(16)}`] : [])], { labels: { zone: i < NODES / 2 ? "a" : "b" } }),
  );
  const ports = {
    type: "LoadBalancer" as const,
    ports: [
      { name: "dns", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53 },
    ],
  };
  return {
    virtualIPs: Array.from({ length: VIPS }, (_, i) => vipOf(i)),
    nodes,
    services: ["team-a", "team-b"].flatMap((ns) => [service("web", undefined, ns), service("dns", ports, ns)]),
    endpointSlices: dnsSlices(),
    secrets: ["team-a", "team-b"].map((ns) => secret("vrrp-auth", { password: SCALE_PASSWORD }, ns)),
    nodeInterfaces: { [nodeName(1)]: "ens3", [nodeName(2)]: "ens4" },
    pools: [testPool(), scalePool()],
  };
}
