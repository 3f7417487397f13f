// `make dev-cluster`: a long-running local control plane with the CRD
// installed, for trying the operator by hand. State lives in .dev/. Does I/O.
//   devcluster.ts start | run | stop | status
import { spawn } from "node:child_process";
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane } from "./controlplane.js";
import { registerCleanup } from "./cleanup.js";
import { REPO_ROOT } from "./k8sbins.js";
import { installProjectCRDs, kubectl } from "./kubectl.js";
import { NODE_SANS } from "./netns.js";
import { isAlive, processRef, sleep, tailFile, type ProcessRef } from "./process.js";

const DEV = join(REPO_ROOT, ".dev");
const STATE = join(DEV, "dev-cluster.json");
const LOG = join(DEV, "dev-cluster.log");
const KUBECONFIG = join(DEV, "kubeconfig");
const NODE_KUBECONFIG = join(DEV, "kubeconfig-node");
const BIN = join(DEV, "bin");
/** Everything this tool writes under .dev/, removed by `stop`. */
const OWNED = [STATE, KUBECONFIG, NODE_KUBECONFIG, BIN, join(DEV, "dev-cluster.pid")];

interface State {
  process: ProcessRef;
  server: string;
  nodeServer: string;
  version: string;
  binDir: string;
  dataDir: string;
  startupMs: number;
}

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(STATE, "utf8")) as State;
  } catch {
    return undefined;
  }
}

function running(): State | undefined {
  const state = readState();
  return state && isAlive(state.process) ? state : undefined;
}

function removeState(): void {
  for (const p of OWNED) rmSync(p, { recursive: true, force: true });
}

function usage(state: State): string {
  return [
    `Dev cluster ready: Kubernetes ${state.version} at ${state.server} (started in ${state.startupMs} ms), CRD installed`,
    "",
    "  export KUBECONFIG=$PWD/.dev/kubeconfig PATH=$PWD/.dev/bin:$PATH",
    "  kubectl get virtualips -A",
    "  kubectl apply -f config/samples/virtualip-basic.yaml",
    "",
    `Node namespaces made with createNodes({ hostPorts: [${new URL(state.server).port}] }) reach it at ${state.nodeServer} (.dev/kubeconfig-node).`,
    `Logs: .dev/dev-cluster.log and ${state.dataDir}/{etcd,kube-apiserver}.log`,
    "Stop it with: make dev-cluster-down",
  ].join("\n");
}

/** Foreground: start, publish state, wait for SIGTERM/SIGINT. */
async function run(): Promise<void> {
  const cp = await startControlPlane({ extraSANs: [...NODE_SANS] });
  registerCleanup(removeState);
  await installProjectCRDs(cp);
  const version = (JSON.parse((await kubectl(cp, ["get", "--raw", "/version"])).stdout) as { gitVersion: string }).gitVersion;
  mkdirSync(BIN, { recursive: true });
  for (const tool of ["kubectl", "helm"]) symlinkSync(join(cp.bins.dir, tool), join(BIN, tool));
  copyFileSync(cp.kubeconfigPath, KUBECONFIG);
  copyFileSync(cp.nodeKubeconfigPath!, NODE_KUBECONFIG);
  const me = processRef(process.pid)!;
  writeFileSync(join(DEV, "dev-cluster.pid"), `${process.pid}\n`);
  const state: State = {
    process: me,
    server: cp.server,
    nodeServer: cp.nodeServer!,
    version,
    binDir: cp.bins.dir,
    dataDir: cp.dataDir,
    startupMs: cp.startupMs,
  };
  writeFileSync(STATE, JSON.stringify(state, null, 2) + "\n");
  console.log(`Dev cluster ready server=${cp.server} version=${version}`);
  // Stays up until a signal; the exit handlers stop the control plane and remove .dev state.
  setInterval(() => undefined, 1 << 30);
}

/** Starts `run` in the background and waits until it is ready. */
async function start(): Promise<number> {
  const live = running();
  if (live) {
    console.log(`Already running (pid ${live.process.pid})\n\n${usage(live)}`);
    return 0;
  }
  removeState();
  mkdirSync(DEV, { recursive: true });
  const fd = openSync(LOG, "w");
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test/support/devcluster.ts"), "run"], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.once("exit", () => (exited = true));
  // A cold build of the binaries happens before this (make k8s-bins), so a few seconds is usual.
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const state = running();
    if (state && state.process.pid === child.pid) {
      console.log(usage(state));
      return 0;
    }
    if (exited) break;
    await sleep(200);
  }
  console.error(`Dev cluster failed to start; ${LOG}:\n${tailFile(LOG, 60)}`);
  if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
  return 1;
}

/** Stops the background process and removes its state. */
async function stop(): Promise<number> {
  const state = readState();
  if (!state || !isAlive(state.process)) {
    removeState();
    console.log("Dev cluster is not running; removed its state");
    return 0;
  }
  process.kill(state.process.pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (isAlive(state.process) && Date.now() < deadline) await sleep(100);
  if (isAlive(state.process)) process.kill(state.process.pid, "SIGKILL");
  removeState();
  console.log(`Dev cluster stopped (pid ${state.process.pid})`);
  return 0;
}

function status(): number {
  const state = running();
  if (!state) {
    console.log("Dev cluster is not running");
    return 1;
  }
  console.log(usage(state));
  return 0;
}

async function main(): Promise<void> {
  const cmd = process.argv[2];
  switch (cmd) {
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
      console.error("usage: devcluster.ts start | run | stop | status");
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
