// "Nodes" for tests: Linux network namespaces joined by a bridge that lives in
// a hub namespace of their own, so the host's addresses and routes are never
// touched. Host TCP ports (the API server) are relayed into the hub. Does I/O.
import { spawn as spawnChild, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { DEFAULT_RUNTIME_DIR } from "../../src/api/constants.js";
import { registerCleanup } from "./cleanup.js";
import { REPO_ROOT } from "./k8sbins.js";
import { formatCommand, processRef, runCommand, runCommandSync, stopChild, waitForExit, type CommandResult } from "./process.js";
import { currentRun, killNetnsProcessesSync, NAME_PREFIX, netnsPids, sweepStaleRuns } from "./runstate.js";

/** Bridge address in the hub namespace: the nodes' gateway and the API server's address for them. */
export const BRIDGE_IPV4 = "192.0.2.1";
export const BRIDGE_IPV6 = "2001:db8::1";
/** Serving-certificate SANs a control plane needs to be reachable from nodes: pass as extraSANs. */
export const NODE_SANS: readonly string[] = [BRIDGE_IPV4, BRIDGE_IPV6];
/** Prefix lengths of the node network. */
export const NODE_IPV4_PREFIX = 24;
export const NODE_IPV6_PREFIX = 64;
/** Address of the client namespace. */
export const CLIENT_IPV4 = "192.0.2.100";
export const CLIENT_IPV6 = "2001:db8::100";
/** Interface name of each node's link to the bridge, as on a real node. */
export const NODE_INTERFACE = "eth0";
const MAX_NODES = 26;

/** One node (or the client): a network namespace with eth0 on the bridge. */
export interface NetNode {
  /** Node name, as a Kubernetes Node object would be named (e.g. node-a), or "client". */
  name: string;
  /** Network namespace name (`ip netns exec <netns>`). */
  netns: string;
  /** /run/netns/<netns>, e.g. for `podman --network ns:<path>`. */
  netnsPath: string;
  ipv4: string;
  ipv6: string;
  /** Host directory private to this node. */
  dir: string;
  /** Host directory that processes started by exec/spawn see as /run/keepalived-vip. */
  runtimeDir: string;
  /** Bridge port of this node, inside the hub namespace. */
  bridgePort: string;
}

/** Options of {@link createNodes}. */
export interface NodesOptions {
  /** Number of nodes, 1..26; named <prefix>-a, <prefix>-b, ... at 192.0.2.11, .12, ... / 2001:db8::11, ::12, ... */
  count: number;
  /** Node name prefix (default "node"). */
  prefix?: string;
  /** Also create a client namespace at 192.0.2.100 / 2001:db8::100. */
  withClient?: boolean;
  /** Host loopback TCP ports to make reachable at BRIDGE_IPV4/BRIDGE_IPV6:<same port> from the nodes (e.g. [cp.port]). */
  hostPorts?: number[];
  /**
   * More addresses for some of those host ports, inside the hub: `address`
   * (added to the hub's lo) at `port`. The kubelet cluster makes the
   * `kubernetes` Service's ClusterIP:443 answer so, for pods, without kube-proxy.
   */
  hubListeners?: { hostPort: number; address: string; port: number }[];
}

/** Options of {@link Nodes.exec}. */
export interface NodeExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  /** Throw on a non-zero exit (default true). */
  check?: boolean;
  timeoutMs?: number;
}

/** Options of {@link Nodes.spawn}. */
export interface NodeSpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Log file for stdout and stderr (default: <node.dir>/<command>.<n>.log). */
  logFile?: string;
  /** Give stdout and stderr to the caller as pipes instead of a log file (the caller must read them). */
  pipe?: boolean;
}

/** A process running inside a node. */
export interface NodeProcess {
  child: ChildProcess;
  /** Log file with its stdout and stderr, or undefined with `pipe`. */
  logFile: string | undefined;
  /** SIGTERM, then SIGKILL after graceMs (default 5 s); resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** A set of nodes and the network that joins them. */
export interface Nodes {
  readonly nodes: NetNode[];
  readonly client: NetNode | undefined;
  /** Name of the hub namespace that holds the bridge (br0) and the bridge addresses. */
  readonly hubNetns: string;
  /** The node (or "client") of that name; throws when there is none. */
  node(name: string): NetNode;
  /** Runs a command inside the node (its network namespace and a private /run/keepalived-vip) to completion. */
  exec(node: NetNode | string, cmd: string, args: readonly string[], opts?: NodeExecOptions): Promise<CommandResult>;
  /** Starts a long-running command inside the node; it is killed at destroy() or when this process dies. */
  spawn(node: NetNode | string, cmd: string, args: readonly string[], opts?: NodeSpawnOptions): NodeProcess;
  /** Pids of every process inside the node's network namespace. */
  pids(node: NetNode | string): number[];
  /** Takes the node's link down at the bridge: its eth0 loses carrier, as if its cable were pulled. */
  linkDown(node: NetNode | string): Promise<void>;
  /** Brings the node's link back. */
  linkUp(node: NetNode | string): Promise<void>;
  /** Kills every process in the nodes, removes the namespaces, the relays and the node directories. */
  destroy(): Promise<void>;
}

let topologyCounter = 0;

// Inside `ip netns exec` (which already gives a new mount namespace), a
// private one in which the node's own directory is /run/keepalived-vip.
const ENTER_SCRIPT = `d=$1; shift; mount --bind "$d" ${DEFAULT_RUNTIME_DIR} && exec "$@"`;

function nodeCommand(node: NetNode, cmd: string, args: readonly string[]): string[] {
  return [
    "ip",
    "netns",
    "exec",
    node.netns,
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    ENTER_SCRIPT,
    "sh",
    node.runtimeDir,
    cmd,
    ...args,
  ];
}

async function ip(args: string[]): Promise<void> {
  await runCommand("ip", args);
}

async function setSysctls(netns: string, settings: Record<string, string>): Promise<void> {
  const script = Object.entries(settings)
    .map(([k, v]) => `echo ${v} > /proc/sys/${k.replace(/\./g, "/")}`)
    .join(" && ");
  await runCommand("ip", ["netns", "exec", netns, "sh", "-c", script]);
}

const NO_DAD = { "net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0" };

interface Topology {
  id: string;
  hub: string;
  dir: string;
}

async function createHub(topo: Topology): Promise<void> {
  await ip(["netns", "add", topo.hub]);
  await setSysctls(topo.hub, NO_DAD);
  const inHub = ["-n", topo.hub];
  await ip([...inHub, "link", "set", "lo", "up"]);
  // No multicast snooping: VRRP adverts (224.0.0.18, ff02::12) reach every port.
  await ip([...inHub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"]);
  await ip([...inHub, "addr", "add", `${BRIDGE_IPV4}/${NODE_IPV4_PREFIX}`, "dev", "br0"]);
  await ip([...inHub, "-6", "addr", "add", `${BRIDGE_IPV6}/${NODE_IPV6_PREFIX}`, "dev", "br0", "nodad"]);
  await ip([...inHub, "link", "set", "br0", "up"]);
}

interface NodeSpec {
  topo: Topology;
  name: string;
  ipv4: string;
  ipv6: string;
  index: number;
}

async function createNode(spec: NodeSpec): Promise<NetNode> {
  const { topo } = spec;
  const netns = `${NAME_PREFIX}${topo.id}-${spec.name}`;
  const dir = join(topo.dir, spec.name);
  const runtimeDir = join(dir, "run");
  mkdirSync(runtimeDir, { recursive: true });
  const bridgePort = `veth${spec.index}`;
  currentRun().add("netns", netns);
  await ip(["netns", "add", netns]);
  await setSysctls(netns, NO_DAD);
  await ip(["-n", topo.hub, "link", "add", bridgePort, "type", "veth", "peer", "name", NODE_INTERFACE, "netns", netns]);
  await ip(["-n", topo.hub, "link", "set", bridgePort, "master", "br0", "up"]);
  const inNode = ["-n", netns];
  await ip([...inNode, "link", "set", "lo", "up"]);
  await ip([...inNode, "addr", "add", `${spec.ipv4}/${NODE_IPV4_PREFIX}`, "dev", NODE_INTERFACE]);
  await ip([...inNode, "-6", "addr", "add", `${spec.ipv6}/${NODE_IPV6_PREFIX}`, "dev", NODE_INTERFACE, "nodad"]);
  await ip([...inNode, "link", "set", NODE_INTERFACE, "up"]);
  return { name: spec.name, netns, netnsPath: `/run/netns/${netns}`, ipv4: spec.ipv4, ipv6: spec.ipv6, dir, runtimeDir, bridgePort };
}

/** Starts a relay process (see relay.ts) and waits for its "ready" line. */
async function startRelay(prefix: string[], relayArgs: string[], logFile: string): Promise<ChildProcess> {
  const cmd = [...prefix, process.execPath, "--import", "tsx", join(REPO_ROOT, "test/support/relay.ts"), ...relayArgs];
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawnChild("setpriv", ["--pdeathsig", "KILL", "--", ...cmd], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", fd] });
  } finally {
    closeSync(fd);
  }
  const ready = new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (l) => {
      if (l === "ready") resolve();
    });
    child.once("exit", (code) => reject(new Error(`relay ${formatCommand(cmd[0]!, cmd.slice(1))} exited ${code}; see ${logFile}`)));
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`relay not ready after 20 s; see ${logFile}`)), 20_000).unref());
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  // Like the control-plane daemons, a relay does not keep this process alive; destroy() re-references it.
  child.stdout!.destroy();
  child.unref();
  return child;
}

/**
 * Creates `count` node namespaces (and optionally a client namespace) joined
 * by a bridge at 192.0.2.1/24 and 2001:db8::1/64 in a hub namespace. Each
 * node has lo up and eth0 with its addresses (no IPv6 DAD). Sweeps what dead
 * runs left first; everything is removed at destroy() or when this process
 * ends. Several sets may exist at once: each has its own hub.
 */
export async function createNodes(opts: NodesOptions): Promise<Nodes> {
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > MAX_NODES) throw new Error(`count must be 1..${MAX_NODES}, got ${opts.count}`);
  if (process.getuid?.() !== 0) throw new Error("network namespaces need root: run the integration and e2e tests as root");
  sweepStaleRuns();
  const run = currentRun();
  const id = `${run.runId}${(topologyCounter++ % 36).toString(36)}`;
  const topo: Topology = { id, hub: `${NAME_PREFIX}${id}-hub`, dir: join(run.dir, id) };
  mkdirSync(topo.dir, { recursive: true });
  mkdirSync(DEFAULT_RUNTIME_DIR, { recursive: true }); // mount point for the per-node bind mounts
  run.add("dirs", topo.dir);
  run.add("netns", topo.hub);
  const created: NetNode[] = [];
  const relays: ChildProcess[] = [];
  let destroyed = false;

  const allNetns = (): string[] => [...created.map((n) => n.netns), topo.hub];
  const destroySync = (): void => {
    if (destroyed) return;
    destroyed = true;
    for (const r of relays) r.kill("SIGKILL");
    for (const ns of allNetns()) killNetnsProcessesSync(ns);
    for (const ns of allNetns()) {
      if (existsSync(`/run/netns/${ns}`)) runCommandSync("ip", ["netns", "delete", ns]);
      run.remove("netns", ns);
    }
    rmSync(topo.dir, { recursive: true, force: true });
    run.remove("dirs", topo.dir);
  };
  const release = registerCleanup(destroySync);

  try {
    await createHub(topo);
    const prefix = opts.prefix ?? "node";
    const specs: NodeSpec[] = Array.from({ length: opts.count }, (_, i) => ({
      topo,
      name: `${prefix}-${String.fromCharCode(97 + i)}`,
      ipv4: `192.0.2.${11 + i}`,
      ipv6: `2001:db8::${11 + i}`,
      index: i,
    }));
    if (opts.withClient) specs.push({ topo, name: "client", ipv4: CLIENT_IPV4, ipv6: CLIENT_IPV6, index: opts.count });
    for (const spec of specs) created.push(await createNode(spec));
    for (const port of opts.hostPorts ?? []) {
      const sock = join(topo.dir, `port-${port}.sock`);
      const hostSide = await startRelay([], [`tcp:127.0.0.1:${port}`, `unix:${sock}`], join(topo.dir, `relay-${port}.log`));
      relays.push(hostSide);
      const ref = hostSide.pid === undefined ? undefined : processRef(hostSide.pid);
      if (ref) {
        run.addProcess(ref);
        void waitForExit(hostSide).then(() => run.removeProcess(ref.pid));
      }
      const extra = (opts.hubListeners ?? []).filter((l) => l.hostPort === port);
      for (const l of extra) await ip(["-n", topo.hub, "addr", "add", `${l.address}/${l.address.includes(":") ? 128 : 32}`, "dev", "lo"]);
      const listens = [
        `tcp:${BRIDGE_IPV4}:${port}`,
        `tcp:[${BRIDGE_IPV6}]:${port}`,
        ...extra.map((l) => `tcp:${l.address.includes(":") ? `[${l.address}]` : l.address}:${l.port}`),
      ];
      const hubSide = await startRelay(["ip", "netns", "exec", topo.hub], [`unix:${sock}`, ...listens], join(topo.dir, `relay-${port}.log`));
      relays.push(hubSide);
    }
  } catch (err) {
    destroySync();
    release();
    throw err;
  }

  const nodes = created.filter((n) => n.name !== "client");
  const client = created.find((n) => n.name === "client");
  const find = (n: NetNode | string): NetNode => {
    if (typeof n === "object" && n !== null) return n;
    const node = created.find((c) => c.name === n);
    if (!node) throw new Error(`no node ${n}; have ${created.map((c) => c.name).join(", ")}`);
    return node;
  };
  let spawned = 0;

  return {
    nodes,
    client,
    hubNetns: topo.hub,
    node: find,
    exec(n, cmd, args, eopts = {}) {
      const [c, ...a] = nodeCommand(find(n), cmd, args);
      return runCommand(c!, a, eopts);
    },
    spawn(n, cmd, args, sopts = {}) {
      const node = find(n);
      const full = ["setpriv", "--pdeathsig", "KILL", "--", ...nodeCommand(node, cmd, args)];
      const logFile = sopts.pipe ? undefined : (sopts.logFile ?? join(node.dir, `${basename(cmd)}.${++spawned}.log`));
      let child: ChildProcess;
      if (logFile === undefined) {
        child = spawnChild(full[0]!, full.slice(1), { env: sopts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
      } else {
        const fd = openSync(logFile, "a");
        try {
          child = spawnChild(full[0]!, full.slice(1), { env: sopts.env ?? process.env, stdio: ["ignore", fd, fd] });
        } finally {
          closeSync(fd);
        }
      }
      return { child, logFile, stop: (graceMs?: number) => stopChild(child, graceMs) };
    },
    pids: (n) => netnsPids(find(n).netns),
    async linkDown(n) {
      await ip(["-n", topo.hub, "link", "set", find(n).bridgePort, "down"]);
    },
    async linkUp(n) {
      await ip(["-n", topo.hub, "link", "set", find(n).bridgePort, "up"]);
    },
    async destroy() {
      for (const r of relays) r.ref();
      const waits = relays.map(waitForExit);
      destroySync();
      await Promise.all(waits);
      release();
    },
  };
}
