// Who answers at a VIP, continuously: runs prober.mjs inside the client
// namespace and keeps every answer with its timestamps, then answers
// questions about them (first answer from a node after a fault, longest
// silence). Also a status watch of one VirtualIP with receive times. Does I/O.
import * as k8s from "@kubernetes/client-node";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { GROUP, PLURAL, VERSION } from "../../src/api/index.js";
import { REPO_ROOT, type NodeProcess } from "../support/index.js";
import { sleep } from "../support/process.js";
import { WHOAMI_PORT, type Env, type VirtualIPObject } from "./env.js";
import { monotonicNow } from "../support/clock.js";

const PROBER = join(REPO_ROOT, "test/e2e/prober.mjs");

/** One finished request: start and end (ms since the epoch) and the body, or "!<error>". */
export interface ProbeSample {
  s: number;
  e: number;
  r: string;
}

/** Options of {@link startProbe}. */
export interface ProbeOptions {
  /** A new request every this many ms (default 10). */
  intervalMs?: number;
  /** Per-request timeout (default 150 ms). */
  timeoutMs?: number;
  /** The prober stops by itself after this long (default 900 s). */
  maxSeconds?: number;
}

/** A running prober. */
export interface Probe {
  readonly address: string;
  readonly samples: ProbeSample[];
  /** First answer from `node` that ended after `after`, or undefined. */
  firstAnswerFrom(node: string, after: number): ProbeSample | undefined;
  /** Waits for {@link firstAnswerFrom}; throws after `timeoutMs` with what was seen meanwhile. */
  waitForAnswerFrom(node: string, after: number, timeoutMs: number): Promise<ProbeSample>;
  /** Answers (non-error results) that ended in [from, to], counted per body. */
  answersBetween(from: number, to: number): Record<string, number>;
  /** Longest time in [from, to] with no successful answer (ms), measured between answer end times and the window edges. */
  longestSilence(from: number, to: number): number;
  /** A short description of the results in [from, to] (for failure messages). */
  describe(from: number, to: number): string;
  stop(): Promise<void>;
}

function urlHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** Starts prober.mjs in the client namespace against http://<address>:80/ and waits for its first result. */
export async function startProbe(env: Env, address: string, opts: ProbeOptions = {}): Promise<Probe> {
  const args = [
    PROBER,
    `--url=http://${urlHost(address)}:${WHOAMI_PORT}/`,
    `--interval-ms=${opts.intervalMs ?? 10}`,
    `--timeout-ms=${opts.timeoutMs ?? 150}`,
    `--max-seconds=${opts.maxSeconds ?? 900}`,
  ];
  const proc: NodeProcess = env.nodes.spawn("client", process.execPath, args, { pipe: true });
  const samples: ProbeSample[] = [];
  let stderr = "";
  proc.child.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
  createInterface({ input: proc.child.stdout! }).on("line", (line) => {
    try {
      samples.push(JSON.parse(line) as ProbeSample);
    } catch {
      // not a sample line
    }
  });
  const deadline = monotonicNow() + 15_000;
  while (samples.length === 0) {
    if (proc.child.exitCode !== null || monotonicNow() > deadline) {
      await proc.stop(1_000);
      throw new Error(`prober in the client namespace produced nothing: ${stderr}`);
    }
    await sleep(20);
  }

  const ok = (x: ProbeSample): boolean => !x.r.startsWith("!");
  const probe: Probe = {
    address,
    samples,
    firstAnswerFrom(node, after) {
      return samples.find((x) => x.r === node && x.e > after);
    },
    async waitForAnswerFrom(node, after, timeoutMs) {
      const until = monotonicNow() + timeoutMs;
      for (;;) {
        const hit = probe.firstAnswerFrom(node, after);
        if (hit) return hit;
        if (monotonicNow() > until)
          throw new Error(`no answer from ${node} at ${address} within ${timeoutMs} ms; seen: ${probe.describe(after, monotonicNow())}`);
        await sleep(20);
      }
    },
    answersBetween(from, to) {
      const out: Record<string, number> = {};
      for (const x of samples) if (ok(x) && x.e >= from && x.e <= to) out[x.r] = (out[x.r] ?? 0) + 1;
      return out;
    },
    longestSilence(from, to) {
      const ends = samples
        .filter((x) => ok(x) && x.e >= from && x.e <= to)
        .map((x) => x.e)
        .sort((a, b) => a - b);
      let last = from;
      let longest = 0;
      for (const e of ends) {
        longest = Math.max(longest, e - last);
        last = e;
      }
      return Math.max(longest, to - last);
    },
    describe(from, to) {
      // Runs of equal results, e.g. "node-a x120 (0.0-2.4 s), !TIMEOUT x14 (2.4-2.7 s), node-b x40 (2.7-3.5 s) in 3.5 s".
      // Each run carries when it started and ended, in seconds after `from`: "node-a x120 (0.0-2.4 s)".
      const runs: { r: string; n: number; first: number; last: number }[] = [];
      for (const x of samples) {
        if (x.e < from || x.e > to) continue;
        const lastRun = runs[runs.length - 1];
        if (lastRun && lastRun.r === x.r) {
          lastRun.n++;
          lastRun.last = x.e;
        } else runs.push({ r: x.r, n: 1, first: x.e, last: x.e });
      }
      const at = (t: number): string => ((t - from) / 1000).toFixed(1);
      const body = runs.map(({ r, n, first, last }) => `${r} x${n} (${at(first)}-${at(last)} s)`).join(", ");
      return `${runs.length === 0 ? "(nothing)" : body} in ${at(to)} s`;
    },
    async stop() {
      await proc.stop(1_000);
    },
  };
  return probe;
}

/** One observed status of a VirtualIP with the time it was received. */
export interface StatusEvent {
  at: number;
  master: string | undefined;
  object: VirtualIPObject;
}

/** A watch of one VirtualIP that keeps every version it receives. */
export interface StatusWatch {
  readonly name: string;
  readonly namespace: string;
  readonly events: StatusEvent[];
  /** First event at or after `after` whose master is `node`. */
  firstMaster(node: string, after: number): StatusEvent | undefined;
  waitForMaster(node: string, after: number, timeoutMs: number): Promise<StatusEvent>;
  stop(): void;
}

/** Watches one VirtualIP (re-establishing the watch when it ends) and records status.master with receive times. */
export async function watchStatus(env: Env, name: string, namespace = "default"): Promise<StatusWatch> {
  const events: StatusEvent[] = [];
  const watch = new k8s.Watch(env.cp.kc);
  let stopped = false;
  let current: { abort(): void } | undefined;
  const path = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
  const open = async (): Promise<void> => {
    if (stopped) return;
    try {
      current = (await watch.watch(
        path,
        { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: false },
        (_type: string, obj: VirtualIPObject) => events.push({ at: monotonicNow(), master: obj.status?.master || undefined, object: obj }),
        () => {
          if (!stopped) setTimeout(() => void open(), 200);
        },
      )) as { abort(): void };
    } catch {
      if (!stopped) setTimeout(() => void open(), 500);
    }
  };
  await open();
  const w: StatusWatch = {
    name,
    namespace,
    events,
    firstMaster(node, after) {
      return events.find((e) => e.at >= after && e.master === node);
    },
    async waitForMaster(node, after, timeoutMs) {
      const until = monotonicNow() + timeoutMs;
      for (;;) {
        const hit = w.firstMaster(node, after);
        if (hit) return hit;
        if (monotonicNow() > until) {
          const seen = events.filter((e) => e.at >= after).map((e) => e.master ?? "-");
          throw new Error(`status.master of ${namespace}/${name} did not become ${node} within ${timeoutMs} ms; seen: ${seen.join(" ") || "(no event)"}`);
        }
        await sleep(10);
      }
    },
    stop() {
      stopped = true;
      current?.abort();
    },
  };
  return w;
}
