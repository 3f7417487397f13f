// `make bench-soak`: whether idle VirtualIPs stay put under CPU load. The
// three simulated nodes, one VirtualIP per advert interval, no fault, and busy
// loops in every node namespace (at least as many as cores each) for the whole
// run. Counts VRRP transitions (status.failovers and holder changes sampled in
// every node), double claims (two nodes holding one address in a sample) and
// lost requests from the client namespace; prints them with the load average
// and one JSON line. Does I/O; needs root.
import { cpus, loadavg } from "node:os";
import { startEnv, type Env } from "../../e2e/env.js";
import { startProbe, type Probe } from "../../e2e/probe.js";
import type { NodeProcess } from "../../support/netns.js";
import { sleep } from "../../support/process.js";

interface Settings {
  minutes: number;
  intervals: string[];
  hogsPerNode: number;
}

function parseIntervalMs(text: string): number {
  const m = /^(\d+)(ms|s)$/.exec(text);
  if (!m) throw new Error(`BENCH_INTERVALS: advert interval ${text}: want e.g. 10ms or 1s`);
  const ms = Number(m[1]) * (m[2] === "s" ? 1000 : 1);
  if (ms < 10 || ms % 10 !== 0) throw new Error(`BENCH_INTERVALS: advert interval ${text}: VRRPv3 wants 10ms steps from 10ms`);
  return ms;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const minutes = Number(env.BENCH_SOAK_MINUTES ?? "10");
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 240)
    throw new Error(`BENCH_SOAK_MINUTES=${env.BENCH_SOAK_MINUTES}: want a number of minutes, up to 240`);
  const intervals = (env.BENCH_INTERVALS ?? "10ms,100ms").split(",").map((s) => s.trim());
  intervals.forEach(parseIntervalMs);
  if (intervals.length > 8) throw new Error("BENCH_INTERVALS: at most 8 intervals");
  const hogsPerNode = Number(env.BENCH_HOGS_PER_NODE ?? String(cpus().length));
  if (!Number.isInteger(hogsPerNode) || hogsPerNode < 0 || hogsPerNode > 64) throw new Error(`BENCH_HOGS_PER_NODE=${env.BENCH_HOGS_PER_NODE}: want 0..64`);
  return { minutes, intervals, hogsPerNode };
}

interface Soaked {
  interval: string;
  name: string;
  address: string;
}

function virtualIP(v: Soaked, routerId: number): string {
  return JSON.stringify({
    apiVersion: "keepalived-vip.io/v1alpha1",
    kind: "VirtualIP",
    metadata: { name: v.name, namespace: "default" },
    spec: {
      serviceRef: { name: "nginx" },
      address: v.address,
      virtualRouterId: routerId,
      forwarding: "kube-proxy",
      vrrp: { version: 3, advertisementInterval: v.interval },
    },
  });
}

/** What was seen for one VirtualIP. */
interface Tally {
  failoversAtStart: number;
  failoversAtEnd: number;
  /** Samples in which the set of holders differed from the previous one. */
  holderChanges: number;
  /** Samples with two or more holders, and the episodes (runs of such samples). */
  doubleSamples: number;
  doubleEpisodes: number;
  samples: number;
  lastHolders: string;
  lastDouble: boolean;
  probe: Probe;
}

async function failovers(env: Env, name: string): Promise<number> {
  return (await env.getVirtualIP(name))?.status?.failovers ?? 0;
}

async function waitForMaster(env: Env, name: string): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const master = (await env.getVirtualIP(name))?.status?.master;
    if (master) return master;
    if (Date.now() > deadline) throw new Error(`${name}: no master within 120 s\n${await env.diagnostics(30)}`);
    await sleep(250);
  }
}

function startHogs(env: Env, perNode: number): NodeProcess[] {
  const hogs: NodeProcess[] = [];
  for (const node of env.nodeNames) {
    for (let i = 0; i < perNode; i++) hogs.push(env.nodes.spawn(node, "sh", ["-c", "while :; do :; done"]));
  }
  return hogs;
}

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  const soaked: Soaked[] = settings.intervals.map((interval, i) => ({ interval, name: `soak-${i}`, address: `192.0.2.${60 + i}` }));
  const floorMs = Math.min(...settings.intervals.map(parseIntervalMs));
  console.log(
    `Soak benchmark: ${settings.minutes} min, adverts ${settings.intervals.join(", ")}, ${settings.hogsPerNode} busy loop(s) per node (${cpus().length} cores)`,
  );
  const env = await startEnv({ progress: (line) => console.log(`  ${line}`), operatorFlags: [`--min-advert-interval=${floorMs}ms`] });
  const hogs: NodeProcess[] = [];
  const tallies = new Map<string, Tally>();
  const loads: number[] = [];
  try {
    for (const [i, v] of soaked.entries()) await env.apply(virtualIP(v, 51 + i));
    for (const v of soaked) console.log(`  ${v.name} (${v.interval}): master ${await waitForMaster(env, v.name)}`);
    await sleep(3000);
    for (const v of soaked) {
      const probe = await startProbe(env, v.address, { intervalMs: 20, timeoutMs: 500, maxSeconds: settings.minutes * 60 + 120 });
      const holders = (await env.holders(v.address)).sort().join(",");
      tallies.set(v.name, {
        failoversAtStart: await failovers(env, v.name),
        failoversAtEnd: 0,
        holderChanges: 0,
        doubleSamples: 0,
        doubleEpisodes: 0,
        samples: 0,
        lastHolders: holders,
        lastDouble: false,
        probe,
      });
    }
    hogs.push(...startHogs(env, settings.hogsPerNode));
    const t0 = Date.now();
    const end = t0 + settings.minutes * 60_000;
    let nextReport = t0 + 60_000;
    while (Date.now() < end) {
      for (const v of soaked) {
        const t = tallies.get(v.name);
        if (!t) continue;
        const list = (await env.holders(v.address)).sort();
        const holders = list.join(",");
        t.samples++;
        if (holders !== t.lastHolders) t.holderChanges++;
        const double = list.length > 1;
        if (double) t.doubleSamples++;
        if (double && !t.lastDouble) t.doubleEpisodes++;
        t.lastHolders = holders;
        t.lastDouble = double;
      }
      if (Date.now() >= nextReport) {
        loads.push(loadavg()[0] ?? 0);
        console.log(
          `  ${Math.round((Date.now() - t0) / 60_000)} min: load ${(loadavg()[0] ?? 0).toFixed(2)}; ${soaked.map((v) => `${v.interval} holder changes ${tallies.get(v.name)?.holderChanges ?? 0}`).join(", ")}`,
        );
        nextReport += 60_000;
      }
      await sleep(50);
    }
    loads.push(loadavg()[0] ?? 0);
    await Promise.all(hogs.map((h) => h.stop(1_000)));
    await sleep(2000);
    const tEnd = Date.now();
    const rows = [];
    for (const v of soaked) {
      const t = tallies.get(v.name);
      if (!t) continue;
      await t.probe.stop();
      t.failoversAtEnd = await failovers(env, v.name);
      const window = t.probe.samples.filter((x) => x.s >= t0 && x.e <= tEnd);
      const lost = window.filter((x) => x.r.startsWith("!")).length;
      rows.push({
        advertInterval: v.interval,
        failovers: t.failoversAtEnd - t.failoversAtStart,
        holderChanges: t.holderChanges,
        doubleClaims: t.doubleEpisodes,
        doubleClaimSamples: t.doubleSamples,
        holderSamples: t.samples,
        requests: window.length,
        lost,
        longestSilenceMs: Math.round(t.probe.longestSilence(t0, tEnd)),
      });
    }
    const maxLoad = Math.max(...loads);
    const meanLoad = loads.reduce((a, b) => a + b, 0) / loads.length;
    console.log("");
    console.log(
      `Soak on 3 simulated nodes (real keepalived, agents and operator), ${settings.minutes} min, ${settings.hogsPerNode} busy loop(s) in each node namespace on ${cpus().length} cores; load average (1 min) mean ${meanLoad.toFixed(2)}, max ${maxLoad.toFixed(2)}`,
    );
    console.log("advert   failovers  holder-changes  double-claims (samples)  requests  lost  longest-silence");
    for (const r of rows) {
      console.log(
        [
          r.advertInterval.padEnd(8),
          String(r.failovers).padStart(9),
          String(r.holderChanges).padStart(15),
          `${r.doubleClaims} (${r.doubleClaimSamples}/${r.holderSamples})`.padStart(24),
          String(r.requests).padStart(9),
          String(r.lost).padStart(5),
          `${r.longestSilenceMs} ms`.padStart(16),
        ].join(" "),
      );
    }
    console.log(
      JSON.stringify({
        benchmark: "soak",
        nodes: 3,
        minutes: settings.minutes,
        cores: cpus().length,
        hogsPerNode: settings.hogsPerNode,
        loadAverage: { mean: Number(meanLoad.toFixed(2)), max: Number(maxLoad.toFixed(2)) },
        results: rows,
      }),
    );
  } finally {
    await Promise.all(hogs.map((h) => h.stop(1_000)));
    for (const t of tallies.values()) await t.probe.stop();
    await env.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
