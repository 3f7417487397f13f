// Where one full planning pass goes, phase by phase, on a synthetic cluster
// (test/bench/plan/cluster.ts) as the reconciler's renderPass runs it.
// BENCH_VIPS, BENCH_NODES, BENCH_NODES_PER_VIP, BENCH_ROUNDS; one JSON line. Pure CPU, no I/O but stdout.
import { performance } from "node:perf_hooks";
import { ObjectCache } from "../../../src/operator/cache.js";
import { clusterViewOf } from "../../../src/operator/desired.js";
import { gatherVirtualIPs, VirtualIPParser } from "../../../src/operator/gather.js";
import { fitPlan } from "../../../src/operator/fit.js";
import { renderInline } from "../../../src/operator/render-worker.js";
import { buildInstanceSecret, buildNodeConfigSecret, dataDigests } from "../../../src/operator/nodesecrets.js";
import { planVirtualIPStatus } from "../../../src/operator/status.js";
import { indexView, planAddresses, planCandidates, planConflicts, planInstances } from "../../../src/render/index.js";
import { clusterObjects, shapeFromEnv, type ClusterShape } from "./cluster.js";

const num = (name: string, def: number): number => Number(process.env[name] ?? def);
const shape: ClusterShape = shapeFromEnv();
const cache = new ObjectCache();
for (const [kind, objs] of Object.entries(clusterObjects(shape))) for (const o of objs) cache.put(kind as never, o);
const parser = new VirtualIPParser();
const times: Record<string, number[]> = {};
const time = <T>(name: string, fn: () => T): T => {
  const t = performance.now();
  const out = fn();
  (times[name] ??= []).push(performance.now() - t);
  return out;
};

for (let round = 0; round < num("BENCH_ROUNDS", 3); round++) {
  const gathered = time("gather", () => gatherVirtualIPs(cache.entries("VirtualIP"), parser));
  const view = time("view", () => clusterViewOf({ cache, gathered, authSecrets: [], planNamespace: "ns", now: Date.parse("2026-06-01T00:00:00Z") }));
  // The renderer's cluster-wide steps, timed apart (planCluster runs them again below).
  const index = time("render.index", () => indexView(view, {}));
  const assignments = time("render.allocation", () =>
    planAddresses({
      virtualIPs: index.virtualIPs,
      pools: index.pools,
      reserved: index.reserved,
      namespaceLabels: index.namespaceLabels,
      releasing: index.releasing,
      releasingRouterIds: index.releasingRouterIds,
      claimGraceMs: index.options.claimGraceMs,
    }),
  );
  const candidates = time("render.candidates", () => planCandidates(index, assignments));
  const conflicts = time("render.conflicts", () => planConflicts(candidates));
  time("render.instances", () => planInstances(conflicts.accepted.filter((c) => c.problems.length === 0)));
  const { plan } = await (async () => {
    const t = performance.now();
    const out = await fitPlan(view, (v) => renderInline(v, {}));
    (times["render.total (fitPlan+planCluster)"] ??= []).push(performance.now() - t);
    return out;
  })();
  time("secrets (build+digest, all)", () => {
    for (const ip of plan.published) dataDigests(buildInstanceSecret({ namespace: "ns", plan: ip }));
    for (const np of plan.nodes) dataDigests(buildNodeConfigSecret({ namespace: "ns", node: { name: np.node, uid: "u" }, plan: np }));
  });
  time("status (all VirtualIPs)", () => {
    for (const [key, obj] of cache.entries("VirtualIP")) {
      const v = plan.virtualIPs[key];
      planVirtualIPStatus({
        key,
        address: v?.address ?? "",
        allocation: {},
        generation: obj.metadata?.generation ?? 0,
        live: {},
        deleting: false,
        participants: v?.nodes ?? [],
        advertIntervalMs: 1000,
        problems: [],
        isLive: () => true,
        renewedAt: () => 0,
        now: 0,
      });
    }
  });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const out: Record<string, number | string> = { bench: "plan-profile", ...Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v as number])) };
for (const [k, xs] of Object.entries(times)) out[`${k} ms`] = Math.round(median(xs));
out.rssMB = Math.round(process.memoryUsage().rss / 1048576);
process.stdout.write(`${JSON.stringify(out)}\n`);
