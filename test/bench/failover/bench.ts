// `make bench-failover`: measures real failovers on simulated nodes. For each
// advert interval and fault (crashes: SIGKILL keepalived, SIGKILL agent, link
// down on the MASTER; planned: kubectl drain, SIGTERM of the agent): time to
// the new MASTER answering at the VIP from the client namespace, and to
// status.master naming it; failed requests of a prober (a new connection
// every 10 ms) and the time two nodes held the VIP (ip monitor in every node).
// Prints medians, p95s, ratios to the VRRP floor, and one JSON line with every
// figure. Does I/O; needs root.
import { startEnv, type Env } from "../../e2e/env.js";
import { startHolderMonitor } from "../../e2e/holders.js";
import { FAULT_TEXT, FAULTS, PLANNED_FAULTS, measureFailover, recoverFault, waitForSteadyState, type Fault, type FailoverResult } from "../../e2e/failover.js";
import { startProbe, watchStatus } from "../../e2e/probe.js";
import { sleep } from "../../support/process.js";
import { seconds, summarize, vrrpFloorMs, type Summary } from "./stats.js";
import { monotonicNow } from "../../support/clock.js";

const NAME = "bench";
const ADDRESS = "192.0.2.50";
const ROUTER_ID = 51;
const PRIORITY = 100;

interface Settings {
  runs: number;
  intervals: string[];
  faults: Fault[];
  /** spec.vrrp.priorities (BENCH_PRIORITIES=node-a=150,node-b=140,...); empty: the defaults. */
  priorities: Record<string, number>;
}

function parsePriorities(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (text ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "")) {
    const m = /^([a-z0-9-]+)=(\d+)$/.exec(part);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 254) throw new Error(`BENCH_PRIORITIES: ${part}: want node=1..254`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

function parseIntervalMs(text: string): number {
  const m = /^(\d+)(ms|s)$/.exec(text);
  if (!m) throw new Error(`advert interval ${text}: want e.g. 1s or 100ms`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const runs = Number(env.BENCH_RUNS ?? "10");
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error(`BENCH_RUNS=${env.BENCH_RUNS}: want 1..100`);
  const intervals = (env.BENCH_INTERVALS ?? "1s,100ms").split(",").map((s) => s.trim());
  intervals.forEach(parseIntervalMs);
  const known = [...FAULTS, ...PLANNED_FAULTS];
  const faults = (env.BENCH_FAULTS ?? known.join(",")).split(",").map((s) => s.trim()) as Fault[];
  for (const f of faults) if (!known.includes(f)) throw new Error(`BENCH_FAULTS: unknown fault ${f}; want some of ${known.join(",")}`);
  return { runs, intervals, faults, priorities: parsePriorities(env.BENCH_PRIORITIES) };
}

function virtualIP(interval: string, priorities: Record<string, number>): string {
  return JSON.stringify({
    apiVersion: "keepalived-vip.io/v1alpha1",
    kind: "VirtualIP",
    metadata: { name: NAME, namespace: "default" },
    spec: {
      serviceRef: { name: "nginx" },
      address: ADDRESS,
      virtualRouterId: ROUTER_ID,
      forwarding: "kube-proxy",
      vrrp: { version: 3, advertisementInterval: interval, ...(Object.keys(priorities).length > 0 ? { priorities } : {}) },
    },
  });
}

/** One (interval, fault) row of the result. */
interface Row {
  interval: string;
  fault: Fault;
  floorMs: number;
  runs: FailoverResult[];
  vip: Summary;
  status: Summary;
  /** Per run: failed probe requests started between the fault and the end of the run. */
  failed: number[];
  /** Per run: ms during which two or more nodes held the VIP. */
  doubleMs: number[];
  /** Control: failed requests in a calm window of the same length before each fault (the machine's own noise). */
  calmFailed: number[];
}

interface RunSetOptions {
  interval: string;
  fault: Fault;
  runs: number;
}

async function measureSet(env: Env, opts: RunSetOptions): Promise<Row> {
  const advertMs = parseIntervalMs(opts.interval);
  const timeoutMs = Math.max(15_000, advertMs * 15);
  const probe = await startProbe(env, ADDRESS, { intervalMs: 10, timeoutMs: 100 });
  const watch = await watchStatus(env, NAME);
  const monitor = await startHolderMonitor(env, [ADDRESS]);
  const results: FailoverResult[] = [];
  const failed: number[] = [];
  const doubleMs: number[] = [];
  const calmFailed: number[] = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const master = await waitForSteadyState(env, { name: NAME, address: ADDRESS, timeoutMs: 90_000 });
      // A few adverts of calm, then a random part of one interval: recovery takes
      // about the same time every run, and without it every fault would fall at
      // the same point between two adverts.
      const calmFrom = monotonicNow();
      await sleep(Math.max(300, 2 * advertMs) + Math.random() * advertMs);
      const calmTo = monotonicNow();
      if (process.env.BENCH_VERBOSE) console.log(`  ${opts.interval} ${FAULT_TEXT[opts.fault]} #${i + 1}: fault on ${master}`);
      const r = await measureFailover(env, { fault: opts.fault, from: master, probe, watch, timeoutMs });
      results.push(r);
      // Settle (the old node lets go after the new MASTER's adverts), then count from the fault until
      // the last change of who holds the address, plus a settle: requests long after the move are not
      // the move's (the calm control shows what the machine fails anyway).
      const settleMs = Math.max(500, 3 * advertMs);
      await sleep(settleMs);
      const lastMove = Math.max(r.faultAt + r.vipMs, ...monitor.events.filter((e) => e.address === ADDRESS && e.at >= r.faultAt).map((e) => e.at));
      const end = Math.min(monotonicNow(), lastMove + settleMs);
      const errors = probe.samples.filter((x) => x.s >= r.faultAt && x.s <= end && x.r.startsWith("!"));
      failed.push(errors.length);
      // The same count in the calm before the fault, scaled to the fault's window: failures the machine causes anyway.
      const calm = probe.samples.filter((x) => x.s >= calmFrom && x.s < calmTo && x.r.startsWith("!")).length;
      calmFailed.push(Math.round((calm * (end - r.faultAt)) / Math.max(1, calmTo - calmFrom)));
      if (errors.length > 0) {
        // Where the failures fell, against who held the address: the first thing to read when a planned move fails a request.
        const moves = monitor.events
          .filter((e) => e.address === ADDRESS && e.at >= r.faultAt && e.at <= end)
          .map((e) => `${(e.at - r.faultAt).toFixed(1)} ${e.node} ${e.added ? "+" : "-"}`);
        const ms = (t: number): string => (t - r.faultAt).toFixed(1);
        console.log(`    failed (ms after the fault): ${errors.map((x) => `${ms(x.s)}..${ms(x.e)} ${x.r}`).join(", ")}; address: ${moves.join(", ")}`);
        // The requests started just before and after each failure, with who answered and how long it took:
        // a reset among quick answers of both nodes is a connection caught by the move; a lone timeout among
        // slow answers of the same node is the busy machine.
        for (const x of errors) {
          const near = probe.samples.filter((y) => Math.abs(y.s - x.s) <= 40).map((y) => `${ms(y.s)}+${(y.e - y.s).toFixed(1)} ${y.r}`);
          console.log(`      around ${ms(x.s)}: ${near.join(", ")}`);
        }
      }
      // A node whose cable is pulled keeps its address while cut off: not a claim anyone else can see.
      doubleMs.push(opts.fault === "link" ? Number.NaN : monitor.doubleClaimMs(ADDRESS, r.faultAt, end));
      const mismatch = r.answeredBy === r.statusMaster ? "" : ` (status named ${r.statusMaster})`;
      console.log(
        `  ${opts.interval} ${FAULT_TEXT[opts.fault]} #${i + 1}: ${r.from} -> ${r.answeredBy}${mismatch}: VIP ${r.vipMs} ms, status ${r.statusMs} ms, ` +
          `failed requests ${failed.at(-1)} (calm control ${calmFailed.at(-1)}), double claim ${doubleMs.at(-1)} ms`,
      );
      await recoverFault(env, opts.fault, master);
    }
    await waitForSteadyState(env, { name: NAME, address: ADDRESS, timeoutMs: 90_000 });
  } finally {
    monitor.stop();
    watch.stop();
    await probe.stop();
  }
  const floorMs = vrrpFloorMs(advertMs, PRIORITY);
  return {
    interval: opts.interval,
    fault: opts.fault,
    floorMs,
    runs: results,
    vip: summarize(
      results.map((r) => r.vipMs),
      floorMs,
    ),
    status: summarize(
      results.map((r) => r.statusMs),
      floorMs,
    ),
    failed,
    doubleMs,
    calmFailed,
  };
}

function pad(s: string, n: number): string {
  return s.padEnd(n);
}

function printTable(rows: Row[]): void {
  const head = [
    pad("advert", 7),
    pad("fault", 19),
    pad("runs", 5),
    pad("floor", 8),
    pad("VIP median", 11),
    pad("p95", 8),
    pad("x floor", 8),
    pad("status median", 14),
    pad("p95", 8),
    pad("x floor", 8),
    pad("failed req", 11),
    pad("calm ctl", 9),
    "double claim max",
  ];
  console.log(head.join(" "));
  for (const r of rows) {
    console.log(
      [
        pad(r.interval, 7),
        pad(FAULT_TEXT[r.fault], 19),
        pad(String(r.runs.length), 5),
        pad(seconds(r.floorMs), 8),
        pad(seconds(r.vip.medianMs), 11),
        pad(seconds(r.vip.p95Ms), 8),
        pad(r.vip.ratio.toFixed(2), 8),
        pad(seconds(r.status.medianMs), 14),
        pad(seconds(r.status.p95Ms), 8),
        pad(r.status.ratio.toFixed(2), 8),
        pad(String(r.failed.reduce((a, b) => a + b, 0)), 11),
        pad(String(r.calmFailed.reduce((a, b) => a + b, 0)), 9),
        r.fault === "link" ? "n/a (cut off)" : seconds(Math.max(0, ...r.doubleMs)),
      ].join(" "),
    );
  }
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const t0 = monotonicNow();
  console.log(
    `Failover benchmark: ${settings.runs} run(s) per advert interval (${settings.intervals.join(", ")}) and fault (${settings.faults.map((f) => FAULT_TEXT[f]).join(", ")})`,
  );
  // The operator refuses intervals below its floor (default 100ms): lower it to the shortest one measured.
  const floorMs = Math.max(10, Math.min(...settings.intervals.map(parseIntervalMs)));
  const env = await startEnv({ progress: (line) => console.log(`  ${line}`), operatorFlags: [`--min-advert-interval=${floorMs}ms`] });
  const rows: Row[] = [];
  try {
    for (const interval of settings.intervals) {
      await env.apply(virtualIP(interval, settings.priorities));
      for (const fault of settings.faults) rows.push(await measureSet(env, { interval, fault, runs: settings.runs }));
    }
  } finally {
    await env.stop();
  }
  console.log("");
  const shown = Object.keys(settings.priorities).length > 0 ? `priorities ${JSON.stringify(settings.priorities)}` : `priority ${PRIORITY}`;
  console.log(
    `Failover on 3 simulated nodes (network namespaces, real keepalived, agents and operator), ${shown}, floor = 3 x advert + (256-${PRIORITY})/256 x advert`,
  );
  printTable(rows);
  console.log(`Total time ${seconds(monotonicNow() - t0)}`);
  const json = {
    benchmark: "failover",
    nodes: 3,
    priority: PRIORITY,
    priorities: settings.priorities,
    runsPerSet: settings.runs,
    results: rows.map((r) => ({
      advertInterval: r.interval,
      fault: r.fault,
      runs: r.runs.length,
      floorMs: Math.round(r.floorMs),
      vip: r.vip,
      status: r.status,
      vipMs: r.runs.map((x) => x.vipMs),
      statusMs: r.runs.map((x) => x.statusMs),
      statusMismatches: r.runs.filter((x) => x.answeredBy !== x.statusMaster).length,
      failedRequests: r.failed,
      calmFailedRequests: r.calmFailed,
      doubleClaimMs: r.doubleMs,
    })),
  };
  console.log(JSON.stringify(json));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
