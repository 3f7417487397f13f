// What one VirtualIP update costs the operator's process, without an API
// server: the reconciler on a fake clock and a fake writer (the unit tests'
// harness) over the synthetic cluster of test/bench/plan/cluster.ts. Each
// update moves one VirtualIP to a new address; its time is from the watch
// event until the instance Secret carrying the new address is written, and
// the passes and CPU until the queue is idle again (the status write and the
// pass it causes included). BENCH_VIPS, BENCH_NODES, BENCH_NODES_PER_VIP,
// BENCH_UPDATES; one JSON line. Pure CPU, no I/O but stdout.
import { performance } from "node:perf_hooks";
import type { V1Secret } from "@kubernetes/client-node";
import { clusterObjects, shapeFromEnv, vipObject, type ClusterShape } from "./cluster.js";
import { startReconciler } from "../../unit/operator/reconciler-fixture.js";

const num = (name: string, def: number): number => Number(process.env[name] ?? def);
const shape: ClusterShape = shapeFromEnv();
const h = startReconciler();
const written: { at: number; text: string }[] = [];
const applySecret = h.writer.applySecret.bind(h.writer);
h.writer.applySecret = (secret: V1Secret) => {
  written.push({
    at: performance.now(),
    text: Object.values(secret.data ?? {})
      .map((d) => Buffer.from(d, "base64").toString("utf8"))
      .join("\n"),
  });
  return applySecret(secret);
};
const objects = clusterObjects(shape);
for (const [kind, objs] of Object.entries(objects)) for (const o of objs) if (kind !== "VirtualIPPool") h.put(kind as never, o);
const t0 = performance.now();
await h.settle(2000);
const convergeMs = performance.now() - t0;

const percentile = (xs: number[], p: number): number => Math.round(xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN);
const passes = async (): Promise<number> => (await h.metrics.reconciles.get()).values.filter((v) => v.labels.kind === "plan").reduce((n, v) => n + v.value, 0);
const toSecret: number[] = [];
const toIdle: number[] = [];
const passesBefore = await passes();
const updates = num("BENCH_UPDATES", 30);
for (let u = 0; u < updates; u++) {
  const i = (u * 37) % shape.vips;
  const live = h.cache.get("VirtualIP", `bench/vip-${i}`);
  const address = `2001:db8:100::1:${(u + 1).toString(16)}`;
  const next = vipObject(i, shape, { address, generation: (live?.metadata?.generation ?? 1) + 1 });
  written.length = 0;
  const start = performance.now();
  h.put("VirtualIP", { ...next, metadata: { ...next.metadata, resourceVersion: `u${u}` }, status: live?.status });
  await h.settle(500);
  const seen = written.find((w) => w.text.includes(`"${address}"`));
  const done = performance.now();
  toIdle.push(done - start);
  toSecret.push((seen?.at ?? NaN) - start);
}
toSecret.sort((a, b) => a - b);
toIdle.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    bench: "plan-update",
    ...shape,
    "converge ms": Math.round(convergeMs),
    "update to Secret p50 ms": percentile(toSecret, 50),
    "update to Secret p99 ms": percentile(toSecret, 99),
    "update to idle p50 ms": percentile(toIdle, 50),
    "passes per update": ((await passes()) - passesBefore) / updates,
    rssMB: Math.round(process.memoryUsage().rss / 1e6),
  }),
);
