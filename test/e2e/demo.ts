// `make demo` / `make demo-down`: the e2e environment left running in the
// background with the samples applied, and a real failover shown on the way.
// State, logs and kubeconfig live in .dev/demo/. Does I/O; needs root.
//   demo.ts up | run | down | status
import { spawn } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../support/index.js";
import { isAlive, processRef, sleep, type ProcessRef } from "../support/process.js";
import { startEnv, type Env } from "./env.js";
import { FAULT_TEXT, measureFailover, waitForSteadyState, type Fault } from "./failover.js";
import { readVirtualIPTable, sampleVirtualIP } from "./objects.js";
import { startProbe, watchStatus } from "./probe.js";

const DIR = join(REPO_ROOT, ".dev/demo");
const STATE = join(DIR, "state.json");
const LOG = join(DIR, "demo.log");
const KUBECONFIG = join(DIR, "kubeconfig");
const BIN = join(DIR, "bin");
/** The samples that fit a cluster without pods: forwarding kube-proxy (the whoami servers answer at the VIPs). */
const SAMPLES = ["virtualip-basic.yaml", "virtualip-ipv6.yaml"];
const FAULT: Fault = (process.env.DEMO_FAULT as Fault | undefined) ?? "keepalived";

interface State {
  process: ProcessRef;
  phase: "starting" | "ready" | "failed";
  netns: Record<string, string>;
}

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(STATE, "utf8")) as State;
  } catch {
    return undefined;
  }
}

function writeState(state: State): void {
  writeFileSync(STATE, JSON.stringify(state, null, 2) + "\n");
}

function live(): State | undefined {
  const s = readState();
  return s && isAlive(s.process) ? s : undefined;
}

function usage(state: State): string {
  const client = state.netns.client ?? "<client netns>";
  const nodeA = state.netns["node-a"] ?? "<node netns>";
  return [
    "The demo keeps running in the background. Try:",
    "",
    `  export KUBECONFIG=${KUBECONFIG} PATH=${BIN}:$PATH`,
    "  kubectl get vip -o wide -w                     # watch MASTER change",
    `  ip netns exec ${client} curl -s http://192.0.2.50/        # who holds the VIP (from the client namespace)`,
    `  ip netns exec ${client} curl -s -g 'http://[2001:db8::50]/'`,
    `  ip netns exec ${nodeA} ip addr show eth0       # a node's addresses (VIP on the MASTER)`,
    `  ip netns pids ${nodeA} | xargs -r ps -o pid,comm -p   # node-a's processes (agent, keepalived, whoami)`,
    "",
    `Nodes (network namespaces): ${Object.entries(state.netns)
      .map(([n, ns]) => `${n}=${ns}`)
      .join(" ")}`,
    `Logs: ${join(DIR, "logs")} (operators, agents), ${LOG}`,
    "Tear it all down with: make demo-down",
  ].join("\n");
}

async function printTable(env: Env, title: string): Promise<void> {
  console.log(`\n$ kubectl get virtualips -o wide   # ${title}`);
  console.log((await readVirtualIPTable(env, true)).text.trimEnd());
}

/** Foreground of the background process: brings everything up, shows a failover, stays up until SIGTERM. */
async function run(): Promise<void> {
  const me = processRef(process.pid)!;
  const state: State = { process: me, phase: "starting", netns: {} };
  writeState(state);
  const t0 = Date.now();
  const env = await startEnv({
    pool: "demo",
    logDir: join(DIR, "logs"),
    agents: process.env.DEMO_AGENTS === "container" ? "container" : "process",
    progress: (line) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`),
  });
  for (const n of [...env.nodes.nodes, env.nodes.client!]) state.netns[n.name] = n.netns;
  copyFileSync(env.kubeconfigPath, KUBECONFIG);
  rmSync(BIN, { recursive: true, force: true });
  mkdirSync(BIN, { recursive: true });
  symlinkSync(env.cp.bins.kubectl, join(BIN, "kubectl"));

  console.log(`\nApplying ${SAMPLES.map((s) => `config/samples/${s}`).join(", ")} (Services from config/samples/cluster/services.yaml)`);
  const samples = SAMPLES.map((f) => sampleVirtualIP(f));
  await env.apply(samples.map((s) => s.text).join("\n"));
  for (const s of samples) await waitForSteadyState(env, { name: s.name, address: s.address, timeoutMs: 90_000 });
  await printTable(env, "one MASTER per VIP");
  for (const s of samples) console.log(`  http://${s.address.includes(":") ? `[${s.address}]` : s.address}/ answers: ${await env.whoAnswers(s.address)}`);

  const basic = samples[0]!;
  const master = (await env.getVirtualIP(basic.name))?.status?.master ?? "";
  const probe = await startProbe(env, basic.address, { intervalMs: 10, timeoutMs: 100 });
  const watch = await watchStatus(env, basic.name);
  console.log(`\n${FAULT_TEXT[FAULT]} on ${master}, the MASTER of ${basic.address}; every VIP ${master} holds moves.`);
  console.log("With adverts every 1s the next-ranked BACKUP takes over 3 x 1 s + skew (0.32 s at priority 175) = 3.32 s after the MASTER's last advert,");
  console.log("which came up to 1 s before the fault.");
  const r = await measureFailover(env, { fault: FAULT, from: master, probe, watch, timeoutMs: 30_000 });
  if (FAULT === "link") await env.linkUp(master);
  if (FAULT === "agent") await env.agent(master).start();
  const now = await waitForSteadyState(env, { name: basic.name, address: basic.address, timeoutMs: 90_000 });
  watch.stop();
  await probe.stop();
  const back = FAULT === "keepalived" ? "its agent restarted keepalived" : FAULT === "agent" ? "its agent was restarted" : "its link is back";
  await printTable(env, `new MASTER ${now}; ${master} is a BACKUP again (${back}; no preemption)`);
  console.log(`\nFailover of ${basic.address}: ${master} -> ${now}`);
  console.log(`  the VIP answered again ${(r.vipMs / 1000).toFixed(2)} s after the fault (HTTP from the client namespace, every 10 ms)`);
  console.log(`  status.master named the new MASTER ${(r.statusMs / 1000).toFixed(2)} s after the fault`);
  if (r.answeredBy !== now) {
    console.log(`  (${r.answeredBy} answered first: with equal priorities two BACKUPs may claim the VIP at once; the higher address keeps it)`);
  }

  state.phase = "ready";
  writeState(state);
  console.log(`\nReady in ${((Date.now() - t0) / 1000).toFixed(1)} s.\n\n${usage(state)}`);
  console.log("__DEMO_READY__");
  // Stays up until SIGTERM (make demo-down); the harness's exit handlers then remove everything.
  setInterval(() => undefined, 1 << 30);
}

/** Streams the log of the background process until it is ready or gone. */
async function up(): Promise<number> {
  const running = live();
  if (running) {
    console.log(`The demo is already running (pid ${running.process.pid}).\n\n${usage(running)}`);
    return 0;
  }
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const fd = openSync(LOG, "w");
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/e2e/demo.ts"), "run"], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.once("exit", () => (exited = true));
  const reader = openSync(LOG, "r");
  const buf = Buffer.alloc(64 * 1024);
  let pending = "";
  const deadline = Date.now() + 600_000;
  try {
    for (;;) {
      const n = readSync(reader, buf, 0, buf.length, null);
      if (n > 0) {
        pending += buf.subarray(0, n).toString("utf8");
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          if (line === "__DEMO_READY__") return 0;
          console.log(line);
        }
        continue;
      }
      if (exited || Date.now() > deadline) break;
      await sleep(100);
    }
  } finally {
    closeSync(reader);
  }
  console.error(`\nThe demo did not come up; see ${LOG} and ${join(DIR, "logs")}`);
  if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  return 1;
}

async function down(): Promise<number> {
  const state = readState();
  if (state && isAlive(state.process)) {
    process.kill(state.process.pid, "SIGTERM");
    const deadline = Date.now() + 60_000;
    while (isAlive(state.process) && Date.now() < deadline) await sleep(100);
    if (isAlive(state.process)) process.kill(state.process.pid, "SIGKILL");
    console.log(`Demo stopped (pid ${state.process.pid}); its namespaces, processes and control plane are gone`);
  } else {
    console.log("The demo is not running");
  }
  const left = Object.values(state?.netns ?? {}).filter((ns) => existsSync(`/run/netns/${ns}`));
  rmSync(DIR, { recursive: true, force: true });
  if (left.length > 0) {
    console.error(`Left behind: ${left.join(" ")}`);
    return 1;
  }
  return 0;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("the demo needs root (network namespaces, keepalived): run it as root");
    process.exitCode = 1;
    return;
  }
  switch (process.argv[2]) {
    case "run":
      await run().catch((err: unknown) => {
        const s = readState();
        if (s) writeState({ ...s, phase: "failed" });
        throw err;
      });
      return;
    case "up":
      process.exitCode = await up();
      return;
    case "down":
      process.exitCode = await down();
      return;
    case "status": {
      const s = live();
      console.log(s ? usage(s) : "The demo is not running");
      process.exitCode = s ? 0 : 1;
      return;
    }
    default:
      console.error("usage: demo.ts up | run | down | status");
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
