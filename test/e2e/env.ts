// The end-to-end environment: a real control plane, network-namespace nodes
// with an agent and a whoami HTTP server each, a client namespace, and
// operator replicas on the host. Shared by the e2e suite, `make demo` and
// `make bench-failover`. Does I/O; everything it starts is removed by stop().
import * as k8s from "@kubernetes/client-node";
import type { ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { agentLeaseName, GROUP, LEADER_LEASE_NAME, PLURAL, VERSION } from "../../src/api/index.js";
import {
  createNodes,
  installProjectCRDs,
  kubectl as runKubectl,
  NODE_SANS,
  REPO_ROOT,
  runCommand,
  startControlPlane,
  type CommandResult,
  type ControlPlane,
  type KubectlOptions,
  type NetNode,
  type NodeProcess,
  type Nodes,
} from "../support/index.js";
import { podBoundKubeconfig } from "../support/agentpod.js";
import { freePort, SERVICE_CIDR } from "../support/controlplane.js";
import { ensureImage, runAgentContainer, type AgentContainer } from "../support/image.js";
import { sleep, startDaemon, stopChild, tailFile, waitForExit } from "../support/process.js";
import { currentRun } from "../support/runstate.js";

/** Namespace of the operator, the agents, node-config Secrets and Leases. */
export const SYSTEM_NAMESPACE = "keepalived-vip-system";
/** ServiceAccount names, as in config/rbac/. */
export const OPERATOR_SERVICE_ACCOUNT = "keepalived-vip-operator";
export const AGENT_SERVICE_ACCOUNT = "keepalived-vip-agent";
/** Port of the whoami HTTP server in every node (bound to all addresses, so it answers at a VIP). */
export const WHOAMI_PORT = 80;
/** IPv4 and IPv6 Service ranges of the test cluster (documentation ranges): cluster-internal, never a traffic target. */
const SERVICE_RANGES = `${SERVICE_CIDR},2001:db8:96::/112`;
const MAIN = join(REPO_ROOT, "src/main.ts");
const RBAC_DIR = join(REPO_ROOT, "config/rbac");
const SAMPLE_SERVICES = join(REPO_ROOT, "config/samples/cluster/services.yaml");

// Answers every request with the node name; dual-stack, so it answers at any VIP the node holds.
const WHOAMI_SCRIPT = [
  "const name = process.argv[1];",
  "const server = require('node:http').createServer((req, res) => { res.setHeader('connection', 'close'); res.end(name); });",
  `server.listen({ port: ${WHOAMI_PORT}, host: '::', ipv6Only: false }, () => console.log('listening'));`,
].join("\n");

/** How the agents run. */
export type AgentMode = "process" | "container";

/** Options of {@link startEnv}. */
export interface EnvOptions {
  /** Number of nodes (default 3): node-a at 192.0.2.11, node-b at .12, ... */
  nodeCount?: number;
  /** Operator replicas on the host (default 2); 0 for none. */
  operatorReplicas?: number;
  /** Agents as host processes in a pid namespace per node (default), or containers from the image (podman). */
  agents?: AgentMode;
  /** Directory for the logs of operators, agents and whoami servers (kept after stop). Default: .dev/e2e/<run id> (pruned after a day). */
  logDir?: string;
  /** LOG_LEVEL of operators and agents (default "info"). */
  logLevel?: string;
  /** Extra operator flags. */
  operatorFlags?: string[];
  /** More manifests applied (as admin) after RBAC and before the operators start (also: a file named by KVO_E2E_EXTRA_MANIFESTS). */
  extraManifests?: string;
  /** Called with progress lines (default: nothing). */
  progress?: (line: string) => void;
  /** The VirtualIPPool to create: "test" (default, 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/64, router ids 1-255) or "demo" (config/samples/virtualippool.yaml). */
  pool?: "test" | "demo";
}

/** An operator replica on the host. */
export interface OperatorHandle {
  readonly identity: string;
  readonly logFile: string;
  running(): boolean;
  /** Starts it when it is not running; from then on it is restarted whenever it exits on its own (as by the kubelet). */
  start(): void;
  /** SIGTERM, then SIGKILL; resolves when it has exited. */
  stop(): Promise<void>;
  /** Sends a signal and waits for the exit; it stays down until start(). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Host pid while running. */
  pid(): number | undefined;
}

/** The agent of one node, run as a pod would run it: killing it kills its keepalived too. */
export interface AgentHandle {
  readonly node: string;
  readonly logFile: string | undefined;
  running(): Promise<boolean>;
  /** Starts it when it is not running (a kubelet restarting the container); later exits of its own are followed by a restart. */
  start(): Promise<void>;
  /** Graceful stop (SIGTERM); resolves when it has exited. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) to the agent process and waits until it and its keepalived are gone; it stays down until start(). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Its output so far (the tail, for failure messages). */
  logs(lines?: number): Promise<string>;
}

/** status of a VirtualIP, as far as the e2e tier reads it. */
export interface VirtualIPStatus {
  observedGeneration?: number;
  master?: string;
  nodes?: { name: string; state: string; priority?: number; since?: string; lastReportTime?: string }[];
  failovers?: number;
  lastFailoverTime?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** A VirtualIP as read from the API server. */
export interface VirtualIPObject {
  metadata: { name: string; namespace: string; generation?: number; uid?: string; finalizers?: string[]; deletionTimestamp?: string };
  spec: Record<string, unknown>;
  status?: VirtualIPStatus;
}

/** The running environment. */
export interface Env {
  readonly cp: ControlPlane;
  readonly nodes: Nodes;
  readonly namespace: string;
  readonly logDir: string;
  readonly nodeNames: string[];
  readonly operators: OperatorHandle[];
  readonly agentMode: AgentMode;
  /** Admin kubeconfig on the host. */
  readonly kubeconfigPath: string;
  agent(node: string): AgentHandle;
  /** kubectl with the admin kubeconfig. */
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<CommandResult>;
  /** Server-side applies YAML or JSON documents as admin. */
  apply(manifests: string): Promise<void>;
  /** The VirtualIP, or undefined when it does not exist. */
  getVirtualIP(name: string, namespace?: string): Promise<VirtualIPObject | undefined>;
  /** Holder of the operator leader Lease, or undefined. */
  leader(): Promise<string | undefined>;
  /** Who answers HTTP at `address` from the client namespace (one request), or undefined. */
  whoAnswers(address: string, timeoutMs?: number): Promise<string | undefined>;
  /** Nodes that carry `address` on any interface right now (`ip -n <netns> addr`). */
  holders(address: string): Promise<string[]>;
  /** Pids (host view) of the keepalived processes running in a node. */
  keepalivedPids(node: string): number[];
  /** SIGKILLs every keepalived process of a node at once, as a crash would end them (its agent restarts it); returns their pids. */
  killKeepalived(node: string): number[];
  linkDown(node: string): Promise<void>;
  linkUp(node: string): Promise<void>;
  /** Tails of the operator and agent logs, for failure messages. */
  diagnostics(lines?: number): Promise<string>;
  stop(): Promise<void>;
}

function node(nodes: Nodes, name: string): NetNode {
  return nodes.node(name);
}

/** Every YAML document of a file or of all *.yaml files of a directory, in name order. */
function readManifests(path: string): string {
  const files =
    existsSync(path) && !path.endsWith(".yaml")
      ? readdirSync(path)
          .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
          .sort()
          .map((f) => join(path, f))
      : [path];
  return files.map((f) => readFileSync(f, "utf8")).join("\n---\n");
}

/** The RBAC manifests of config/rbac/ with the namespace set to `namespace`. */
export function rbacManifests(namespace: string): string {
  if (!existsSync(RBAC_DIR)) throw new Error(`${RBAC_DIR} is missing: the e2e environment applies the project's own RBAC manifests`);
  const docs = yaml.loadAll(readManifests(RBAC_DIR)).filter((d): d is Record<string, unknown> => typeof d === "object" && d !== null);
  if (docs.length === 0) throw new Error(`no manifests in ${RBAC_DIR}`);
  for (const doc of docs) {
    const meta = doc.metadata as { namespace?: string } | undefined;
    if (meta?.namespace !== undefined) meta.namespace = namespace;
    const subjects = doc.subjects as { kind?: string; namespace?: string }[] | undefined;
    for (const s of subjects ?? []) if (s.kind === "ServiceAccount") s.namespace = namespace;
  }
  return docs.map((d) => JSON.stringify(d)).join("\n");
}

/** A Node object for a network-namespace node; its status is set separately (status subresource). */
function buildNode(n: NetNode): k8s.V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux" } },
  };
}

function nodeStatus(n: NetNode): k8s.V1NodeStatus {
  const now = new Date().toISOString();
  return {
    addresses: [
      { type: "InternalIP", address: n.ipv4 },
      { type: "InternalIP", address: n.ipv6 },
      { type: "Hostname", address: n.name },
    ],
    conditions: [
      {
        type: "Ready",
        status: "True",
        reason: "KubeletReady",
        message: "simulated node",
        lastHeartbeatTime: now as unknown as Date,
        lastTransitionTime: now as unknown as Date,
      },
    ],
  };
}

function urlHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}

/** Children (pids) of a process. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((s) => s !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/** First descendant of `pid` (breadth first) whose command name is `name`. */
function findDescendant(pid: number, names: readonly string[]): number | undefined {
  const queue = childPids(pid);
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (names.includes(comm(p))) return p;
    queue.push(...childPids(p));
  }
  return undefined;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

interface AgentContext {
  nodes: Nodes;
  node: NetNode;
  namespace: string;
  kubeconfig: string;
  logDir: string;
  logLevel: string;
}

/** Restarts a process that exits on its own, as the kubelet restarts a container (restartPolicy Always). */
interface Restarter {
  /** Wants it running: starts it now unless it runs; later exits are followed by a restart. */
  want(): void;
  /** No longer wants it: exits are not followed by a restart (a crash injected by a test, a stop). */
  release(): void;
  current(): ChildProcess | undefined;
  running(): boolean;
}

/**
 * Keeps `launch`ed processes running while wanted. The backoff (1 s, doubling
 * to 8 s, reset after 30 s of running) is shorter than the kubelet's 10 s to
 * 5 min, to keep tests quick; each restart is noted in `logFile`.
 */
function restarter(launch: () => ChildProcess, logFile: string): Restarter {
  let child: ChildProcess | undefined;
  let wanted = false;
  let backoffMs = 1_000;
  let timer: NodeJS.Timeout | undefined;
  const alive = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
  const spawnOne = (): void => {
    const c = launch();
    const startedAt = Date.now();
    child = c;
    c.once("exit", (code, signal) => {
      if (!wanted || child !== c) return;
      if (Date.now() - startedAt > 30_000) backoffMs = 1_000;
      appendFileSync(logFile, `e2e: exited (${code ?? signal}); restarting in ${backoffMs} ms, as the kubelet would\n`);
      timer = setTimeout(() => {
        timer = undefined;
        if (wanted && !alive()) spawnOne();
      }, backoffMs);
      timer.unref();
      backoffMs = Math.min(backoffMs * 2, 8_000);
    });
  };
  return {
    want() {
      wanted = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (!alive()) spawnOne();
    },
    release() {
      wanted = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    current: () => child,
    running: alive,
  };
}

// pid 1 of an agent's pid namespace: starts the agent, reaps orphans while it
// waits (as a container runtime's init does), and exits when the agent exits,
// which makes the kernel kill everything else in the namespace.
const PID1_SCRIPT = '"$@" & wait $!';

/**
 * An agent as a host process inside its node, in a pid namespace of its
 * own, as in its container: when the agent dies, the kernel kills its
 * keepalived with it. A small init (PID1_SCRIPT) reaps orphaned
 * keepalived children, which the agent itself does not reap.
 */
function processAgent(ctx: AgentContext): AgentHandle {
  const logFile = join(ctx.logDir, `agent-${ctx.node.name}.log`);
  const args = [
    "--pid",
    "--fork",
    "--kill-child",
    "--mount-proc",
    "sh",
    "-c",
    PID1_SCRIPT,
    "sh",
    process.execPath,
    "--import",
    "tsx",
    MAIN,
    "agent",
    `--kubeconfig=${ctx.kubeconfig}`,
  ];
  const env = { ...process.env, NODE_NAME: ctx.node.name, POD_NAMESPACE: ctx.namespace, HOST_IP: ctx.node.ipv4, LOG_LEVEL: ctx.logLevel };
  const proc = restarter(() => ctx.nodes.spawn(ctx.node, "unshare", args, { env, logFile }).child, logFile);
  const agentPid = (): number | undefined => {
    const pid = proc.current()?.pid;
    // Node.js 24 names its main thread (and so the process's comm) "MainThread".
    return pid === undefined ? undefined : findDescendant(pid, ["node", "MainThread"]);
  };
  return {
    node: ctx.node.name,
    logFile,
    running: () => Promise.resolve(proc.running()),
    start() {
      proc.want();
      return Promise.resolve();
    },
    async stop() {
      proc.release();
      const child = proc.current();
      if (!child || !proc.running()) return;
      const exited = waitForExit(child);
      const pid = agentPid();
      if (pid !== undefined) process.kill(pid, "SIGTERM");
      else child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
    async kill(signal = "SIGKILL") {
      proc.release();
      const child = proc.current();
      if (!child || !proc.running()) return;
      let pid = agentPid();
      for (let i = 0; pid === undefined && i < 50; i++) {
        await sleep(20);
        pid = agentPid();
      }
      const exited = waitForExit(child);
      process.kill(pid ?? child.pid!, signal);
      await exited;
    },
    logs: (lines = 60) => Promise.resolve(tailFile(logFile, lines)),
  };
}

/** An agent container from the project's image in the node's network namespace. */
function containerAgent(ctx: AgentContext, image: string): AgentHandle {
  let container: AgentContainer | undefined;
  let generation = 0;
  const kubeconfigInContainer = "/etc/keepalived-vip/kubeconfig";
  return {
    node: ctx.node.name,
    logFile: undefined,
    running: async () => (container ? container.running().catch(() => false) : false),
    async start() {
      if (container && (await container.running().catch(() => false))) return;
      await container?.remove(0);
      container = await runAgentContainer({
        name: `${ctx.node.name}-${++generation}`,
        netnsPath: ctx.node.netnsPath,
        args: ["agent", `--kubeconfig=${kubeconfigInContainer}`],
        env: { NODE_NAME: ctx.node.name, POD_NAMESPACE: ctx.namespace, HOST_IP: ctx.node.ipv4, LOG_LEVEL: ctx.logLevel },
        runtimeDir: ctx.node.runtimeDir,
        mounts: [{ host: ctx.kubeconfig, container: kubeconfigInContainer }],
        image,
      });
    },
    async stop() {
      await container?.remove(10);
      container = undefined;
    },
    async kill(signal = "SIGKILL") {
      if (!container) return;
      await container.kill(signal);
      for (let i = 0; i < 100 && (await container.running().catch(() => false)); i++) await sleep(100);
    },
    logs: async (lines = 60) => {
      const text = container ? await container.logs() : "";
      return text.split("\n").slice(-lines).join("\n");
    },
  };
}

interface OperatorContext {
  identity: string;
  kubeconfig: string;
  namespace: string;
  logDir: string;
  logLevel: string;
  flags: string[];
}

async function operatorHandle(ctx: OperatorContext): Promise<OperatorHandle> {
  const logFile = join(ctx.logDir, `${ctx.identity}.log`);
  const metricsPort = await freePort();
  const args = [
    "--import",
    "tsx",
    MAIN,
    "operator",
    `--kubeconfig=${ctx.kubeconfig}`,
    `--namespace=${ctx.namespace}`,
    `--identity=${ctx.identity}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    ...ctx.flags,
  ];
  const proc = restarter(() => startDaemon(process.execPath, args, { logFile, cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: ctx.logLevel } }), logFile);
  return {
    identity: ctx.identity,
    logFile,
    running: () => proc.running(),
    start: () => proc.want(),
    async stop() {
      proc.release();
      const child = proc.current();
      if (child) await stopChild(child, 10_000);
    },
    async kill(signal = "SIGKILL") {
      proc.release();
      const child = proc.current();
      if (!child || !proc.running()) return;
      const exited = waitForExit(child);
      child.kill(signal);
      await exited;
    },
    pid: () => (proc.running() ? proc.current()?.pid : undefined),
  };
}

/** Where each e2e run keeps its logs (one directory per run id). */
const E2E_LOG_ROOT = join(REPO_ROOT, ".dev/e2e");

/** Removes run log directories older than `maxAgeMs`. */
function pruneOldLogs(root: string, maxAgeMs: number): void {
  if (!existsSync(root)) return;
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    try {
      if (Date.now() - statSync(dir).mtimeMs > maxAgeMs) rmSync(dir, { recursive: true, force: true });
    } catch {
      // removed meanwhile
    }
  }
}

/** Default operator flags: quick leader hand-over for tests. */
export const TEST_OPERATOR_FLAGS = ["--lease-duration=4s", "--renew-deadline=3s", "--retry-period=500ms"];

/**
 * Brings the whole environment up: control plane (reachable from the
 * nodes), CRD, RBAC, ServiceAccounts and tokens, Node objects with the
 * namespaces' InternalIPs, the sample Services, a whoami server per node,
 * the operator replicas and one agent per node. Resolves once every agent
 * has published its heartbeat Lease. Tears down what it started when it fails.
 */
export async function startEnv(opts: EnvOptions = {}): Promise<Env> {
  if (process.getuid?.() !== 0) throw new Error("the e2e environment needs root (network namespaces, keepalived): run it as root");
  const say = opts.progress ?? (() => undefined);
  const namespace = SYSTEM_NAMESPACE;
  const logLevel = opts.logLevel ?? "info";
  const agentMode = opts.agents ?? "process";
  if (opts.logDir === undefined) pruneOldLogs(E2E_LOG_ROOT, 24 * 3_600_000);
  const logDir = opts.logDir ?? join(E2E_LOG_ROOT, currentRun().runId);
  mkdirSync(logDir, { recursive: true });
  const image = agentMode === "container" ? await ensureImage() : undefined;

  say("Starting etcd and kube-apiserver");
  const cp = await startControlPlane({ extraSANs: [...NODE_SANS], apiServerFlags: [`--service-cluster-ip-range=${SERVICE_RANGES}`] });
  let nodes: Nodes | undefined;
  const operators: OperatorHandle[] = [];
  const agents = new Map<string, AgentHandle>();
  const teardown = async (): Promise<void> => {
    await Promise.allSettled([...agents.values()].map((a) => a.kill("SIGKILL")));
    await Promise.allSettled(operators.map((o) => o.kill("SIGKILL")));
    await nodes?.destroy();
    await cp.stop();
  };
  try {
    say(`Creating ${opts.nodeCount ?? 3} node namespaces and a client namespace`);
    nodes = await createNodes({ count: opts.nodeCount ?? 3, withClient: true, hostPorts: [cp.port] });
    const kctl = (args: readonly string[], kopts?: KubectlOptions): Promise<CommandResult> => runKubectl(cp, args, kopts);
    const apply = async (manifests: string): Promise<void> => {
      await kctl(["apply", "--server-side", "--field-manager=keepalived-vip-e2e", "--force-conflicts", "-f", "-"], { input: manifests });
    };

    say("Installing the CRDs, the VirtualIPPool, RBAC, Node objects and the sample Services");
    await installProjectCRDs(cp, { pool: (opts.pool ?? "test") === "test" });
    if (opts.pool === "demo") await apply(readFileSync(join(REPO_ROOT, "config/samples/virtualippool.yaml"), "utf8"));
    await cp.ensureNamespace(namespace);
    await apply(rbacManifests(namespace));
    const operatorKubeconfig = await cp.kubeconfigFor(namespace, OPERATOR_SERVICE_ACCOUNT, { site: "host" });
    await apply(nodes.nodes.map((n) => JSON.stringify(buildNode(n))).join("\n"));
    // Each agent's token is bound to a Pod on its node, as the kubelet's are: the admission policies key on that node.
    const agentKubeconfigs = new Map<string, string>();
    for (const n of nodes.nodes) {
      agentKubeconfigs.set(n.name, await podBoundKubeconfig(cp, { namespace, serviceAccount: AGENT_SERVICE_ACCOUNT, node: n.name, site: "node" }));
    }
    for (const n of nodes.nodes) {
      await kctl(["patch", "node", n.name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: nodeStatus(n) })]);
    }
    await apply(readFileSync(SAMPLE_SERVICES, "utf8"));
    if (opts.extraManifests) await apply(opts.extraManifests);
    // A hook for trying things by hand: more objects from a file.
    if (process.env.KVO_E2E_EXTRA_MANIFESTS) await apply(readFileSync(process.env.KVO_E2E_EXTRA_MANIFESTS, "utf8"));

    say("Starting a whoami HTTP server in every node");
    const whoami: NodeProcess[] = [];
    for (const n of nodes.nodes) {
      whoami.push(nodes.spawn(n, process.execPath, ["-e", WHOAMI_SCRIPT, n.name], { logFile: join(logDir, `whoami-${n.name}.log`) }));
    }

    const replicas = opts.operatorReplicas ?? 2;
    say(`Starting ${replicas} operator replica(s) and ${nodes.nodes.length} agent(s)${agentMode === "container" ? " (containers)" : ""}`);
    for (let i = 0; i < replicas; i++) {
      const op = await operatorHandle({
        identity: `operator-${i}`,
        kubeconfig: operatorKubeconfig,
        namespace,
        logDir,
        logLevel,
        flags: [...TEST_OPERATOR_FLAGS, ...(opts.operatorFlags ?? [])],
      });
      operators.push(op);
      op.start();
    }
    for (const n of nodes.nodes) {
      const ctx: AgentContext = { nodes, node: n, namespace, kubeconfig: agentKubeconfigs.get(n.name) ?? "", logDir, logLevel };
      const handle = agentMode === "container" ? containerAgent(ctx, image!) : processAgent(ctx);
      agents.set(n.name, handle);
      await handle.start();
    }

    const env = buildEnv({ cp, nodes, namespace, logDir, operators, agents, agentMode, kctl, apply, teardown });
    say("Waiting for every agent's heartbeat Lease and the whoami servers");
    await waitForAgents(env);
    await waitForWhoami(env, whoami);
    return env;
  } catch (err) {
    await teardown();
    throw err;
  }
}

interface EnvParts {
  cp: ControlPlane;
  nodes: Nodes;
  namespace: string;
  logDir: string;
  operators: OperatorHandle[];
  agents: Map<string, AgentHandle>;
  agentMode: AgentMode;
  kctl: (args: readonly string[], opts?: KubectlOptions) => Promise<CommandResult>;
  apply: (manifests: string) => Promise<void>;
  teardown: () => Promise<void>;
}

function isNotFound(err: unknown): boolean {
  const e = err as { statusCode?: number; response?: { statusCode?: number } };
  return e.statusCode === 404 || e.response?.statusCode === 404;
}

function buildEnv(p: EnvParts): Env {
  const custom = p.cp.kc.makeApiClient(k8s.CustomObjectsApi);
  const coordination = p.cp.kc.makeApiClient(k8s.CoordinationV1Api);
  let stopped = false;
  const keepalivedPids = (name: string): number[] => p.nodes.pids(name).filter((pid) => comm(pid) === "keepalived");
  return {
    cp: p.cp,
    nodes: p.nodes,
    namespace: p.namespace,
    logDir: p.logDir,
    nodeNames: p.nodes.nodes.map((n) => n.name),
    operators: p.operators,
    agentMode: p.agentMode,
    kubeconfigPath: p.cp.kubeconfigPath,
    agent(name) {
      const a = p.agents.get(name);
      if (!a) throw new Error(`no agent on ${name}`);
      return a;
    },
    kubectl: p.kctl,
    apply: p.apply,
    async getVirtualIP(name, namespace = "default") {
      try {
        const res = await custom.getNamespacedCustomObject(GROUP, VERSION, namespace, PLURAL, name);
        return res.body as VirtualIPObject;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async leader() {
      try {
        const res = await coordination.readNamespacedLease(LEADER_LEASE_NAME, p.namespace);
        return res.body.spec?.holderIdentity ?? undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async whoAnswers(address, timeoutMs = 1_000) {
      const secs = (timeoutMs / 1000).toFixed(3);
      const res = await p.nodes.exec("client", "curl", ["-sS", "-g", "--max-time", secs, `http://${urlHost(address)}:${WHOAMI_PORT}/`], {
        check: false,
        timeoutMs: timeoutMs + 5_000,
      });
      return res.code === 0 && res.stdout !== "" ? res.stdout.trim() : undefined;
    },
    async holders(address) {
      const out: string[] = [];
      for (const n of p.nodes.nodes) {
        const res = await runCommand("ip", ["-n", n.netns, "-j", "addr", "show"], { check: false });
        if (res.code !== 0) throw new Error(`ip -n ${n.netns} addr failed: ${res.stderr}`);
        const links = JSON.parse(res.stdout) as { addr_info?: { local?: string }[] }[];
        if (links.some((l) => (l.addr_info ?? []).some((a) => a.local === address))) out.push(n.name);
      }
      return out;
    },
    keepalivedPids,
    killKeepalived(name) {
      // Freeze them all first: a VRRP child that outlived its parent even for
      // a moment would get SIGTERM from it and send a priority-0 advert,
      // which hands over at once; a crash sends nothing.
      const pids = keepalivedPids(name);
      for (const signal of ["SIGSTOP", "SIGKILL"] as const) {
        for (const pid of pids) {
          try {
            process.kill(pid, signal);
          } catch {
            // already gone
          }
        }
      }
      return pids;
    },
    linkDown: (name) => p.nodes.linkDown(node(p.nodes, name)),
    linkUp: (name) => p.nodes.linkUp(node(p.nodes, name)),
    async diagnostics(lines = 40) {
      const parts: string[] = [];
      for (const op of p.operators) parts.push(`--- ${op.identity} (${op.logFile})\n${tailFile(op.logFile, lines)}`);
      for (const [name, a] of p.agents) parts.push(`--- agent ${name}${a.logFile ? ` (${a.logFile})` : ""}\n${await a.logs(lines)}`);
      return parts.join("\n");
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await p.teardown();
    },
  };
}

/** Waits until every agent has renewed its heartbeat Lease (it reached the API server with its token). */
async function waitForAgents(env: Env, timeoutMs = 90_000): Promise<void> {
  const coordination = env.cp.kc.makeApiClient(k8s.CoordinationV1Api);
  const deadline = Date.now() + timeoutMs;
  const missing = new Set(env.nodeNames);
  while (missing.size > 0) {
    for (const name of [...missing]) {
      try {
        await coordination.readNamespacedLease(agentLeaseName(name), env.namespace);
        missing.delete(name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (missing.size === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`no heartbeat Lease from ${[...missing].join(", ")} after ${timeoutMs} ms\n${await env.diagnostics()}`);
    }
    await sleep(250);
  }
}

async function waitForWhoami(env: Env, servers: NodeProcess[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const n of env.nodes.nodes) {
    while ((await env.whoAnswers(n.ipv4, 500)) !== n.name) {
      const dead = servers.find((s) => s.child.exitCode !== null);
      if (dead || Date.now() > deadline) throw new Error(`whoami server of ${n.name} does not answer; ${dead?.logFile ? tailFile(dead.logFile) : ""}`);
      await sleep(100);
    }
  }
}
