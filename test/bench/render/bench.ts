// `make bench-render`: the pure renderer at scale. Builds synthetic cluster
// views (1,000 kube-proxy VirtualIPs over 50 Nodes; 200 ipvs VirtualIPs with
// EndpointSlices) and times two things: planCluster, the published plan the
// operator computes on each change, and planCluster + renderNodeConfigs,
// every node's keepalived.conf as well (what planCluster alone used to do,
// so comparable with earlier figures). Prints one JSON line. No I/O but stdout.
import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { V1EndpointSlice, V1Node, V1Service } from "@kubernetes/client-node";
import { API_VERSION, KIND, parseVirtualIP } from "../../../src/api/index.js";
import type { VirtualIP } from "../../../src/api/index.js";
import { planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { ClusterPlan, ClusterView, RenderedNodeConfig } from "../../../src/render/index.js";
import { testPool } from "../../support/pools.js";

const RUNS = 5;
const NODES = 50;
const ROUTER_IDS = 250;
const SERVICES = 100;

/** Node i (0-based): an IPv4 InternalIP (192.0.2.x, then 198.51.100.x) and an IPv6 one. */
function nodeOf(i: number): V1Node {
  const v4 = i < 25 ? `192.0.2.${10 + i}` : `198.51.100.${10 + i}`;
  return {
    metadata: { name: `node-${String(i).padStart(2, "0")}` },
    status: {
      addresses: [
        { type: "InternalIP", address: v4 },
        { type: "InternalIP", address: `2001:db8::${(0x100 + i).toString(16)}` },
      ],
    },
  };
}

/**
 * Address of VirtualIP i: router ids 1..50 carry IPv4 addresses (203.0.113.x),
 * the others IPv6 (2001:db8:100::x), so the 4 VirtualIPs of a router id share
 * family and settings and form one instance.
 */
function vipAddress(i: number): string {
  const group = i % ROUTER_IDS;
  if (group < 50) return `203.0.113.${Math.floor(i / ROUTER_IDS) * 50 + group + 1}`;
  return `2001:db8:100::${(i + 1).toString(16)}`;
}

function vipOf(i: number, forwarding: "kube-proxy" | "ipvs"): VirtualIP {
  const res = parseVirtualIP({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: `vip-${i}`, namespace: "bench", creationTimestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString() },
    spec: { serviceRef: { name: `svc-${i % SERVICES}` }, address: vipAddress(i), virtualRouterId: (i % ROUTER_IDS) + 1, forwarding },
  });
  if (!res.ok) throw new Error(res.error);
  return res.value;
}

function serviceOf(i: number): V1Service {
  return {
    metadata: { name: `svc-${i}`, namespace: "bench" },
    spec: {
      type: "LoadBalancer",
      ports: [
        { name: "http", port: 80 },
        { name: "dns", port: 53, protocol: "UDP" },
      ],
    },
  };
}

/** One EndpointSlice per family for Service i, 4 endpoints each (one not ready). */
function slicesOf(i: number): V1EndpointSlice[] {
  const ports = [
    { name: "http", port: 8080 },
    { name: "dns", port: 5353, protocol: "UDP" },
  ];
  const eps = (ip: (k: number) => string): V1EndpointSlice["endpoints"] =>
    [0, 1, 2, 3].map((k) => ({ addresses: [ip(k)], ...(k === 3 ? { conditions: { ready: false } } : {}) }));
  const meta = (fam: number): V1EndpointSlice["metadata"] => ({
    name: `svc-${i}-v${fam}`,
    namespace: "bench",
    labels: { "kubernetes.io/service-name": `svc-${i}` },
  });
  return [
    { metadata: meta(4), addressType: "IPv4", ports, endpoints: eps((k) => `198.51.100.${100 + ((i * 4 + k) % 150)}`) },
    { metadata: meta(6), addressType: "IPv6", ports, endpoints: eps((k) => `2001:db8:300::${(i * 4 + k + 1).toString(16)}`) },
  ];
}

function buildView(vips: number, forwarding: "kube-proxy" | "ipvs"): ClusterView {
  const services = Array.from({ length: SERVICES }, (_, i) => serviceOf(i));
  return {
    virtualIPs: Array.from({ length: vips }, (_, i) => vipOf(i, forwarding)),
    nodes: Array.from({ length: NODES }, (_, i) => nodeOf(i)),
    services,
    endpointSlices: forwarding === "ipvs" ? services.flatMap((_, i) => slicesOf(i)) : [],
    secrets: [],
    nodeInterfaces: {},
    pools: [testPool()],
  };
}

setFlagsFromString("--expose-gc");
/** A full garbage collection, so heap figures do not depend on when the collector last ran. */
const gc = runInNewContext("gc") as () => void;
const MB = 2 ** 20;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/** What one timed step leaves behind: the plan, and the assembled configs when the step builds them. */
interface Output {
  plan: ClusterPlan;
  configs?: RenderedNodeConfig[];
}

/** One timed run: its time, the heap in use right after it and once its garbage is gone (over `base`), and the output. */
function runOnce(step: (view: ClusterView) => Output, view: ClusterView, base: number): { ms: number; heapMB: number; retainedMB: number; out: Output } {
  gc();
  const t0 = performance.now();
  const out = step(view);
  const ms = performance.now() - t0;
  const heapMB = (process.memoryUsage().heapUsed - base) / MB;
  gc();
  const retainedMB = (process.memoryUsage().heapUsed - base) / MB;
  return { ms, heapMB, retainedMB, out };
}

/** A run's figures without its output. */
type RunFigures = Omit<ReturnType<typeof runOnce>, "out">;

/**
 * One run of {@link runOnce}, its output dropped when its frame is gone, so
 * that no run's output is in the heap of the next.
 */
function runDropped(step: (view: ClusterView) => Output, view: ClusterView, base: number): RunFigures {
  const { ms, heapMB, retainedMB } = runOnce(step, view, base);
  return { ms, heapMB, retainedMB };
}

/** Bytes the operator writes for a plan: every instance.json and node.json. */
function publishedBytes(plan: ClusterPlan): number {
  return [...plan.published, ...plan.nodes].reduce((n, p) => n + p.json.length, 0);
}

/**
 * Digest of the plan as planCluster returned it before the published plan
 * (instances, problems, every node's config, hash and instance map,
 * VirtualIPs), so that it equals the digests of earlier runs.
 */
function planDigest(plan: ClusterPlan, configs: RenderedNodeConfig[]): string {
  const whole = { instances: plan.instances, problems: plan.problems, nodes: configs, virtualIPs: plan.virtualIPs };
  return createHash("sha256").update(JSON.stringify(whole)).digest("hex").slice(0, 16);
}

/**
 * Median wall time of RUNS runs of `step`; the most heap in use right after
 * a run (its garbage included) and what its output keeps, both over the heap
 * before it.
 */
function timed(step: (view: ClusterView) => Output, view: ClusterView): { figures: Record<string, number>; times: string; out: Output } {
  gc();
  const base = process.memoryUsage().heapUsed;
  const runs: RunFigures[] = [];
  for (let i = 1; i < RUNS; i++) runs.push(runDropped(step, view, base));
  const { out, ...lastFigures } = runOnce(step, view, base);
  runs.push(lastFigures);
  const figures = {
    medianMs: Math.round(median(runs.map((r) => r.ms))),
    heapUsedMB: Math.round(Math.max(...runs.map((r) => r.heapMB))),
    retainedMB: Math.round(lastFigures.retainedMB),
  };
  return { figures, times: runs.map((r) => Math.round(r.ms)).join(", "), out };
}

/** Both figures of one view, with the output's size and a digest of the whole plan (assembled configs included). */
function measure(name: string, view: ClusterView): Record<string, unknown> {
  const plan = timed((v) => ({ plan: planCluster(v) }), view);
  const full = timed((v) => {
    const p = planCluster(v);
    return { plan: p, configs: renderNodeConfigs(p) };
  }, view);
  const configs = full.out.configs ?? [];
  const result = {
    name,
    vips: view.virtualIPs.length,
    nodes: view.nodes.length,
    planCluster: { ...plan.figures, publishedBytes: publishedBytes(plan.out.plan) },
    planAndRender: { ...full.figures, configBytes: configs.reduce((n, c) => n + c.config.length, 0) },
    planDigest: planDigest(full.out.plan, configs),
  };
  const show = (what: string, t: typeof plan, bytes: string): string =>
    `  ${what}: median ${t.figures.medianMs} ms of ${RUNS} runs (${t.times}), heap used ${t.figures.heapUsedMB} MB (output keeps ${t.figures.retainedMB} MB), ${bytes}`;
  console.log(`${name}:`);
  console.log(show("planCluster", plan, `${result.planCluster.publishedBytes} published bytes`));
  console.log(show("planCluster + renderNodeConfigs", full, `${result.planAndRender.configBytes} config bytes, plan digest ${result.planDigest}`));
  return result;
}

const kubeProxy = measure("kube-proxy", buildView(1000, "kube-proxy"));
const ipvs = measure("ipvs", buildView(200, "ipvs"));
console.log(JSON.stringify({ bench: "render", runs: RUNS, kubeProxy, ipvs }));
