// `make kubelet-cluster`: the kubelet-node cluster (kubeletcluster.ts) left
// running in the background for a person, with the project image (make image)
// in every node under the chart's default name. State in .dev/kubelet/. Does I/O.
//   kubeletdev.ts start [--demo] | run [--demo] | stop | status
// With --demo (`make demo DEMO_NODES=kubelet`) it also installs the chart as
// the README says, applies a VirtualIP and shows a failover (test/kubelet/demo.ts).
import { spawn } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registerCleanup } from "./cleanup.js";
import { ensureImage } from "./image.js";
import { REPO_ROOT } from "./k8sbins.js";
import { startKubeletCluster } from "./kubeletcluster.js";
import { isAlive, processRef, sleep, tailFile, type ProcessRef } from "./process.js";

const DIR = join(REPO_ROOT, ".dev/kubelet");
const STATE = join(DIR, "state.json");
const LOG = join(DIR, "kubelet-cluster.log");
const KUBECONFIG = join(DIR, "kubeconfig");
const BIN = join(DIR, "bin");
/** The image the chart (and config/default) names by default. */
const CHART_IMAGE = "ghcr.io/keepalived-vip/keepalived-vip-operator:0.1.0";

interface State {
  process: ProcessRef;
  phase: "starting" | "ready";
  server?: string;
  netns: Record<string, string>;
  dataDir?: string;
  startupMs?: number;
  /** Started with --demo: the chart is installed and a VirtualIP applied. */
  demo?: boolean;
  memoryKiB?: { node: string; kubeletKiB: number; containerdKiB: number; shimsKiB: number }[];
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

function removeState(): void {
  for (const p of [STATE, KUBECONFIG, BIN]) rmSync(p, { recursive: true, force: true });
}

function usage(state: State): string {
  const client = state.netns.client ?? "<client netns>";
  const nodeA = state.netns["node-a"] ?? "<node netns>";
  return [
    `Kubelet cluster ready at ${state.server ?? "?"}: ${Object.keys(state.netns)
      .filter((n) => n !== "client")
      .join(", ")} (each a network namespace with its own containerd and kubelet)`,
    "",
    "  export KUBECONFIG=$PWD/.dev/kubelet/kubeconfig PATH=$PWD/.dev/kubelet/bin:$PATH",
    "  kubectl get nodes -o wide",
    ...(state.demo
      ? ["  kubectl get pods -A -o wide; kubectl get vip -A -o wide     # the chart is installed (release keepalived-vip)"]
      : [
          "  kubectl create namespace keepalived-vip-system",
          "  kubectl label namespace keepalived-vip-system pod-security.kubernetes.io/enforce=privileged",
          "  helm install keepalived-vip charts/keepalived-vip-operator -n keepalived-vip-system",
        ]),
    `  ip netns exec ${client} curl -s http://192.0.2.50/     # a VIP, from the client namespace (192.0.2.100)`,
    `  ip netns exec ${nodeA} ip addr show eth0`,
    "",
    `Namespaces: ${Object.entries(state.netns)
      .map(([n, ns]) => `${n}=${ns}`)
      .join(" ")}`,
    `Logs: .dev/kubelet/kubelet-cluster.log, ${state.dataDir ?? "?"}/<node>/{kubelet,containerd}.log`,
    `Stop it with: ${state.demo ? "make demo-down" : "make kubelet-cluster-down"}`,
  ].join("\n");
}

/** Foreground: start, publish state, stay up until SIGTERM/SIGINT (the exit handlers remove everything). */
async function run(): Promise<void> {
  const me = processRef(process.pid)!;
  const state: State = { process: me, phase: "starting", netns: {} };
  writeState(state);
  const t0 = Date.now();
  const source = await ensureImage();
  const c = await startKubeletCluster({
    nodeCount: 3,
    images: [{ source, names: [CHART_IMAGE] }],
    progress: (l) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${l}`),
  });
  mkdirSync(BIN, { recursive: true });
  for (const tool of ["kubectl", "helm"]) symlinkSync(join(c.cp.bins.dir, tool), join(BIN, tool));
  copyFileSync(c.cp.kubeconfigPath, KUBECONFIG);
  for (const n of [...c.nodes.nodes, c.client]) state.netns[n.name] = n.netns;
  if (process.argv.includes("--demo")) {
    // `make demo DEMO_NODES=kubelet`: the README's install on these nodes, a VirtualIP, and a failover.
    const demo = await import("../kubelet/demo.js");
    await demo.showOnKubeletNodes(c);
  }
  Object.assign(state, {
    demo: process.argv.includes("--demo"),
    phase: "ready",
    server: c.cp.server,
    dataDir: c.dataDir,
    startupMs: c.startupMs,
    memoryKiB: c.memory(),
  });
  writeState(state);
  console.log(`Kubelet cluster ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (nodes Ready ${c.startupMs} ms after the binaries were there)`);
  // Stays up until a signal; the exit handlers remove the cluster and .dev/kubelet state.
  registerCleanup(removeState);
  setInterval(() => undefined, 1 << 30);
}

/** Starts `run` in the background and waits until it is ready. */
async function start(): Promise<number> {
  const live = readState();
  if (live && isAlive(live.process)) {
    console.log(`Already running (pid ${live.process.pid})\n\n${usage(live)}`);
    return 0;
  }
  removeState();
  mkdirSync(DIR, { recursive: true });
  const fd = openSync(LOG, "w");
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/support/kubeletdev.ts"), "run", ...process.argv.slice(3)], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.once("exit", () => (exited = true));
  // The image build (make image) and a cold build of the binaries come first: allow for both.
  const deadline = Date.now() + 3_600_000;
  while (Date.now() < deadline && !exited) {
    const state = readState();
    if (state?.phase === "ready" && state.process.pid === child.pid) {
      console.log(`${tailFile(LOG, process.argv.includes("--demo") ? 40 : 3)}\n\n${usage(state)}`);
      return 0;
    }
    await sleep(500);
  }
  console.error(`Kubelet cluster failed to start; ${LOG}:\n${tailFile(LOG, 60)}`);
  if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  return 1;
}

/** Stops the background process (it removes its namespaces, processes, cgroups and files) and its state. */
async function stop(): Promise<number> {
  const state = readState();
  if (!state || !isAlive(state.process)) {
    removeState();
    console.log("Kubelet cluster is not running; removed its state");
    return 0;
  }
  process.kill(state.process.pid, "SIGTERM");
  const deadline = Date.now() + 60_000;
  while (isAlive(state.process) && Date.now() < deadline) await sleep(200);
  if (isAlive(state.process)) process.kill(state.process.pid, "SIGKILL");
  removeState();
  const left = Object.values(state.netns).filter((ns) => existsSync(`/run/netns/${ns}`));
  console.log(
    `Kubelet cluster stopped (pid ${state.process.pid})${left.length > 0 ? `; namespaces left (the next start sweeps them): ${left.join(" ")}` : ""}`,
  );
  return 0;
}

function status(): number {
  const state = readState();
  if (!state || !isAlive(state.process)) {
    console.log("Kubelet cluster is not running");
    return 1;
  }
  console.log(state.phase === "ready" ? usage(state) : `Starting (pid ${state.process.pid}); see ${LOG}`);
  return 0;
}

async function main(): Promise<void> {
  switch (process.argv[2]) {
    case "run":
      return run();
    case "start":
      process.exitCode = await start();
      return;
    case "stop":
      process.exitCode = await stop();
      return;
    case "status":
      process.exitCode = status();
      return;
    default:
      console.error("usage: kubeletdev.ts start | run | stop | status");
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
