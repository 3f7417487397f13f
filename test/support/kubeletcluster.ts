// A cluster with real nodes: the test control plane, kube-controller-manager
// and kube-scheduler on this host, and per node a network namespace (the
// nodes of netns.ts) running its own containerd and kubelet. Pods run from
// images imported into each node's containerd (no registry); pods that are
// not hostNetwork get an address from the CNI bridge plugin and reach the API
// server at the `kubernetes` Service's ClusterIP, which the hub answers (no
// kube-proxy). Does I/O; stop() (or the end of this process) removes every
// process, namespace, cgroup and directory it made.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import yaml from "js-yaml";
import { registerCleanup } from "./cleanup.js";
import { KUBERNETES_SERVICE_IP, startControlPlane, type ControlPlane } from "./controlplane.js";
import { REPO_ROOT, resolveK8sBins, type K8sBins } from "./k8sbins.js";
import { kubectl as runKubectl, installCRDs, PROJECT_CRD_FILES, type KubectlOptions } from "./kubectl.js";
import { BRIDGE_IPV4, createNodes, NODE_SANS, type NetNode, type Nodes } from "./netns.js";
import { signClientCert } from "./pki.js";
import { processRef, runCommand, sleep, sleepSync, startDaemon, tailFile, waitForExit, type CommandResult } from "./process.js";
import { cgroupHierarchies, currentRun, removeCgroupTreeSync } from "./runstate.js";

/** Nodes of the cluster at most: each gets a /27 of 198.51.100.0/25 for its pods (the upper half is the Service range). */
export const MAX_KUBELET_NODES = 4;
/** Name and tag of the sandbox image (built here from test/k8s-bins/pause). */
export const PAUSE_IMAGE = "localhost/keepalived-vip-pause:1";
/** Where a node's kubelet listens for the API server (exec, logs), on its InternalIP. */
const KUBELET_PORT = 10250;
/** Host-wide sysctls every kubelet start sets (kernel.panic=10, panic_on_oops=1, vm.overcommit_memory=1); restored after each start. */
const KUBELET_SYSCTLS: Record<string, string> = { "kernel/panic": "10", "kernel/panic_on_oops": "1", "vm/overcommit_memory": "1" };

/** The binaries a kubelet cluster runs. */
export interface KubeletClusterBins {
  k8s: K8sBins;
  /** Directory of kubelet, kube-controller-manager and kube-scheduler (hack/k8s-bins.sh). */
  k8sDir: string;
  /** Directory of containerd, containerd-shim-runc-v2, ctr and pause (hack/node-bins.sh). */
  nodeDir: string;
}

/** A podman image to put into every node's containerd. */
export interface ImageImport {
  /** Reference in the local podman storage, e.g. localhost/keepalived-vip-operator:dev. */
  source: string;
  /** Names it gets in the nodes (e.g. the chart's default image); the source name too. */
  names: readonly string[];
}

/** Options of {@link startKubeletCluster}. */
export interface KubeletClusterOptions {
  /** Nodes node-a, node-b, ... (default 3, at most {@link MAX_KUBELET_NODES}). */
  nodeCount?: number;
  /** Images imported into every node before its kubelet starts. */
  images?: readonly ImageImport[];
  /** Also install the VirtualIP CRD (default false: the chart and config/default bring it). */
  installCRD?: boolean;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
}

/** One node: its namespace, runtime and kubelet. */
export interface KubeletNode {
  readonly name: string;
  readonly net: NetNode;
  /** Pod range on this node's CNI bridge (cni0). */
  readonly podCIDR: string;
  /** Directory of its configuration, containerd state and logs (containerd.log, kubelet.log). */
  readonly dir: string;
  /** Absolute path of its containerd socket. */
  readonly containerdSocket: string;
  /** Top-level cgroup of its pods (cgroupRoot), in every hierarchy. */
  readonly cgroup: string;
  /** Host pids of its containerd and kubelet while they run. */
  pids(): { containerd: number | undefined; kubelet: number | undefined };
}

/** A running kubelet cluster. */
export interface KubeletCluster {
  readonly cp: ControlPlane;
  readonly nodes: Nodes;
  readonly kubeletNodes: readonly KubeletNode[];
  /** The client namespace (192.0.2.100): not a node; for traffic to the VIPs. */
  readonly client: NetNode;
  readonly bins: KubeletClusterBins;
  /** Scratch directory: per-node state, controller-manager and scheduler logs. */
  readonly dataDir: string;
  /** Milliseconds from the call to every node Ready (binaries already built). */
  readonly startupMs: number;
  /** kubectl as cluster admin. */
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<CommandResult>;
  /** helm as cluster admin (cwd: the repository). */
  helm(args: readonly string[], opts?: { check?: boolean; timeoutMs?: number }): Promise<CommandResult>;
  /** Imports a podman image into every node's containerd. */
  importImage(image: ImageImport): Promise<void>;
  /** Resident memory (KiB) of each node's kubelet, containerd and shims. */
  memory(): { node: string; kubeletKiB: number; containerdKiB: number; shimsKiB: number }[];
  /** Last lines of a node's kubelet and containerd logs and of the controller manager's (for failure messages). */
  logs(lines?: number): string;
  /** Stops everything and removes what it created. */
  stop(): Promise<void>;
}

/** Runs hack/k8s-bins.sh for the kubelet, controller manager and scheduler, and hack/node-bins.sh. */
export async function resolveKubeletClusterBins(): Promise<KubeletClusterBins> {
  const k8s = await resolveK8sBins();
  const lastLine = async (script: string, args: string[]): Promise<string> => {
    const res = await runCommand(join(REPO_ROOT, script), args, { cwd: REPO_ROOT, check: false, timeoutMs: 3_600_000 });
    const dir = res.stdout.trim().split("\n").pop()?.trim() ?? "";
    if (res.code !== 0 || dir === "") throw new Error(`${script} failed (exit ${res.code ?? res.signal}):\n${res.stderr}${res.stdout}`);
    return dir;
  };
  const k8sDir = await lastLine("hack/k8s-bins.sh", ["kubelet", "kube-controller-manager", "kube-scheduler"]);
  const nodeDir = await lastLine("hack/node-bins.sh", []);
  return { k8s, k8sDir, nodeDir };
}

function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(KUBELET_SYSCTLS)) out[k] = readFileSync(`/proc/sys/${k}`, "utf8").trim();
  return out;
}

function writeSysctls(values: Record<string, string>): void {
  for (const [k, v] of Object.entries(values)) {
    try {
      writeFileSync(`/proc/sys/${k}`, `${v}\n`);
    } catch {
      // best effort in exit handlers
    }
  }
}

/** Builds the sandbox image from the pause binary once per cache directory; returns the path of its archive. */
async function pauseImageArchive(nodeDir: string): Promise<string> {
  const archive = join(nodeDir, "pause-image.tar");
  const pause = join(nodeDir, "pause");
  if (existsSync(archive) && statSync(archive).mtimeMs >= statSync(pause).mtimeMs) return archive;
  const ctx = mkdtempSync(join(tmpdir(), "kvo-pause-"));
  try {
    writeFileSync(join(ctx, "Containerfile"), 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n');
    writeFileSync(join(ctx, "pause"), readFileSync(pause), { mode: 0o755 });
    await runCommand("podman", ["build", "-q", "--runtime", "runc", "--pull=never", "-f", join(ctx, "Containerfile"), "-t", PAUSE_IMAGE, ctx], {
      timeoutMs: 120_000,
    });
    const tmp = `${archive}.tmp.${process.pid}`;
    await runCommand("podman", ["save", "-q", "-o", tmp, PAUSE_IMAGE], { timeoutMs: 120_000 });
    await runCommand("mv", ["-f", tmp, archive]);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return archive;
}

function containerdConfig(dir: string, cniDir: string): string {
  return `version = 3
root = '${dir}/containerd/root'
state = '${dir}/containerd/state'
imports = []
disabled_plugins = ['io.containerd.nri.v1.nri']

[grpc]
  address = '${dir}/containerd/containerd.sock'
[ttrpc]
  address = '${dir}/containerd/containerd.sock.ttrpc'

[plugins]
  [plugins.'io.containerd.shim.v1.manager']
    socket_dir = '${dir}/s'
  [plugins.'io.containerd.internal.v1.opt']
    path = '${dir}/containerd/opt'
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '${PAUSE_IMAGE}'
  [plugins.'io.containerd.cri.v1.runtime']
    netns_mounts_under_state_dir = true
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '/usr/sbin/runc'
          Root = '${dir}/containerd/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '${cniDir}'
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}

interface NodeLayout {
  name: string;
  net: NetNode;
  index: number;
  dir: string;
  cgroup: string;
  podCIDR: string;
  podGateway: string;
}

function writeNodeFiles(l: NodeLayout, caPath: string, kubeconfig: string): void {
  const { dir } = l;
  for (const d of ["containerd", "s", "cni/net.d", "cni/ipam", "varlib", "varlog", "pod-logs", "volume-plugins", "manifests", "kubelet/pki"])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, "containerd/config.toml"), containerdConfig(dir, join(dir, "cni/net.d")));
  const cni = {
    cniVersion: "1.0.0",
    name: `kvo-${l.name}`,
    plugins: [
      {
        type: "bridge",
        bridge: "cni0",
        isGateway: true,
        ipMasq: false, // the hub routes the pod ranges back; no iptables needed
        hairpinMode: true,
        ipam: { type: "host-local", dataDir: join(dir, "cni/ipam"), ranges: [[{ subnet: l.podCIDR, gateway: l.podGateway }]], routes: [{ dst: "0.0.0.0/0" }] },
      },
    ],
  };
  writeFileSync(join(dir, "cni/net.d/10-kvo.conflist"), JSON.stringify(cni, null, 2));
  writeFileSync(join(dir, "resolv.conf"), `nameserver ${BRIDGE_IPV4}\n`);
  const kubeletConfig = {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    failCgroupV1: false, // this host runs cgroup v1 (hybrid); kubelet >= 1.35 refuses it otherwise
    cgroupDriver: "cgroupfs",
    cgroupRoot: `/${l.cgroup}`,
    cgroupsPerQOS: true,
    containerRuntimeEndpoint: `unix://${dir}/containerd/containerd.sock`,
    address: l.net.ipv4,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: caPath } },
    authorization: { mode: "AlwaysAllow" },
    failSwapOn: false,
    protectKernelDefaults: false,
    resolvConf: join(dir, "resolv.conf"),
    clusterDomain: "cluster.local",
    podLogsDir: join(dir, "pod-logs"),
    volumePluginDir: join(dir, "volume-plugins"),
    staticPodPath: join(dir, "manifests"),
    serializeImagePulls: false,
    maxPods: 20,
    evictionHard: { "memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%", "nodefs.inodesFree": "2%" },
    shutdownGracePeriod: "0s",
    // Quick pod status while tests watch: the default sync is 1 m, the status report 5 m.
    nodeStatusReportFrequency: "10s",
  };
  writeFileSync(join(dir, "kubelet.yaml"), yaml.dump(kubeletConfig));
  writeFileSync(join(dir, "kubelet.kubeconfig"), kubeconfig, { mode: 0o600 });
}

function makeCgroups(name: string): void {
  for (const h of cgroupHierarchies()) {
    const d = join(h, name);
    mkdirSync(d, { recursive: true });
    if (h.endsWith("/cpuset")) {
      // A new v1 cpuset starts empty: no task could join it.
      for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(join(d, f), readFileSync(join(h, f)));
    }
  }
}

function spawnLogged(cmd: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(logFile, "a");
  try {
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", cmd, ...args], { env, stdio: ["ignore", fd, fd] });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

function mountNsInode(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/mnt`).ino;
  } catch {
    return undefined;
  }
}

function pidsInMountNs(ino: number): number[] {
  const out: number[] = [];
  for (const name of readdirSafe("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (statSync(`/proc/${name}/ns/mnt`).ino === ino && Number(name) !== process.pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function rssKiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, detail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(200);
  }
  throw new Error(`${what} not reached after ${timeoutMs} ms\n${detail()}`);
}

interface NodeRuntime {
  layout: NodeLayout;
  containerd?: ChildProcess;
  kubelet?: ChildProcess;
  mntIno?: number;
}

/**
 * Starts the control plane (with the ServiceAccount admission plugin and
 * kubelet client certificates), the controller manager and the scheduler,
 * the node namespaces and a client namespace, then each node's containerd
 * (images imported) and kubelet, and resolves when every node is Ready and
 * schedulable. Needs root, runc and the CNI plugins (hack/install-deps.sh);
 * builds the binaries on first use (hack/k8s-bins.sh, hack/node-bins.sh).
 */
export async function startKubeletCluster(opts: KubeletClusterOptions = {}): Promise<KubeletCluster> {
  const count = opts.nodeCount ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > MAX_KUBELET_NODES) throw new Error(`nodeCount must be 1..${MAX_KUBELET_NODES}, got ${count}`);
  if (process.getuid?.() !== 0) throw new Error("a kubelet cluster needs root (network namespaces, cgroups, mounts)");
  const progress = opts.progress ?? (() => undefined);
  progress("binaries: hack/k8s-bins.sh, hack/node-bins.sh");
  const bins = await resolveKubeletClusterBins();
  const pauseArchive = await pauseImageArchive(bins.nodeDir);
  const t0 = Date.now();
  const run = currentRun();
  const dataDir = mkdtempSync(join(tmpdir(), "kvo-kubelet-"));
  const keep = process.env.KVO_KEEP_DATA_DIR === "1";
  if (!keep) run.add("dirs", dataDir);
  const savedSysctls = readSysctls();
  const runtimes: NodeRuntime[] = [];
  const daemons: ChildProcess[] = [];
  let cp: ControlPlane | undefined;
  let nodes: Nodes | undefined;
  let stopped = false;

  const killNodesSync = (): void => {
    for (const r of runtimes) {
      r.kubelet?.kill("SIGKILL");
      r.containerd?.kill("SIGKILL");
    }
    for (const r of runtimes) {
      // Shims outlive a killed containerd (they are re-parented); containers of
      // bridged pods sit in their own namespaces: the mount namespace and the
      // cgroup tree find them all.
      for (let i = 0; i < 50 && r.mntIno !== undefined; i++) {
        const pids = pidsInMountNs(r.mntIno);
        if (pids.length === 0) break;
        for (const p of pids) {
          try {
            process.kill(p, "SIGKILL");
          } catch {
            // gone
          }
        }
        sleepSync(100);
      }
      removeCgroupTreeSync(r.layout.cgroup);
    }
    writeSysctls(savedSysctls);
  };
  const cleanupSync = (): void => {
    for (const d of daemons) d.kill("SIGKILL");
    killNodesSync();
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  };
  const release = registerCleanup(cleanupSync);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const exits = [...daemons, ...runtimes.flatMap((r) => [r.kubelet, r.containerd])].filter((c): c is ChildProcess => c !== undefined).map(waitForExit);
    for (const c of [...daemons, ...runtimes.flatMap((r) => [r.kubelet, r.containerd])]) c?.ref();
    cleanupSync();
    await Promise.all(exits);
    await nodes?.destroy();
    await cp?.stop();
    if (!keep) run.remove("dirs", dataDir);
    release();
  };

  try {
    progress("control plane");
    // The host has no route to the nodes: the API server reaches kubelets (logs, exec) through a CONNECT proxy in the hub.
    const egressSocket = join(dataDir, "egress.sock");
    const egressConfig = join(dataDir, "egress-selector.yaml");
    writeFileSync(
      egressConfig,
      yaml.dump({
        apiVersion: "apiserver.k8s.io/v1beta1",
        kind: "EgressSelectorConfiguration",
        egressSelections: [{ name: "cluster", connection: { proxyProtocol: "HTTPConnect", transport: { uds: { udsName: egressSocket } } } }],
      }),
    );
    cp = await startControlPlane({ extraSANs: [...NODE_SANS], kubelets: true, apiServerFlags: [`--egress-selector-config-file=${egressConfig}`] });
    const controlPlane = cp;
    const kubectl = (args: readonly string[], kopts: KubectlOptions = {}): Promise<CommandResult> => runKubectl(controlPlane, args, kopts);
    nodes = await createNodes({
      count,
      withClient: true,
      hostPorts: [cp.port],
      hubListeners: [{ hostPort: cp.port, address: KUBERNETES_SERVICE_IP, port: 443 }],
    });
    const netNodes = nodes;
    const proxy = startDaemon(
      "ip",
      ["netns", "exec", nodes.hubNetns, process.execPath, "--import", "tsx", join(REPO_ROOT, "test/support/connectproxy.ts"), egressSocket],
      {
        logFile: join(dataDir, "egress-proxy.log"),
        cwd: REPO_ROOT,
      },
    );
    daemons.push(proxy);
    const track = (child: ChildProcess): void => {
      const ref = child.pid === undefined ? undefined : processRef(child.pid);
      if (!ref) return;
      run.addProcess(ref);
      void waitForExit(child).then(() => run.removeProcess(ref.pid));
    };

    // Cluster-wide: kubelets are system:nodes (RBAC only, no Node authorizer).
    await kubectl(["create", "clusterrolebinding", "kvo-test-nodes", "--clusterrole=system:node", "--group=system:nodes"]);
    const pki = cp.pki;
    const env = { ...process.env, PATH: `${bins.nodeDir}:${bins.k8sDir}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}` };
    const kcm = startDaemon(
      join(bins.k8sDir, "kube-controller-manager"),
      [
        `--kubeconfig=${cp.kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCert}`,
        "--use-service-account-credentials=false",
        "--controllers=*,-bootstrapsigner,-tokencleaner,-csrsigning,-csrapproving,-csrcleaner,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
        "--node-monitor-period=2s",
      ],
      { logFile: join(dataDir, "kube-controller-manager.log") },
    );
    daemons.push(kcm);
    track(kcm);
    const sched = startDaemon(join(bins.k8sDir, "kube-scheduler"), [`--kubeconfig=${cp.kubeconfigPath}`, "--leader-elect=false", "--secure-port=0"], {
      logFile: join(dataDir, "kube-scheduler.log"),
    });
    daemons.push(sched);
    track(sched);
    if (opts.installCRD) await installCRDs(cp, PROJECT_CRD_FILES);

    await waitFor(
      "the egress proxy's socket",
      20_000,
      () => existsSync(egressSocket),
      () => tailFile(join(dataDir, "egress-proxy.log"), 20),
    );
    // The hub reaches every pod range through its node (replies to pods, pod to pod across nodes).
    await runCommand("ip", ["netns", "exec", nodes.hubNetns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
    const layouts: NodeLayout[] = nodes.nodes.map((net, index) => ({
      name: net.name,
      net,
      index,
      dir: join(dataDir, net.name),
      cgroup: net.netns, // named like the namespace: the stale-run sweep finds it by the run id
      podCIDR: `198.51.100.${index * 32}/27`,
      podGateway: `198.51.100.${index * 32 + 1}`,
    }));
    for (const l of layouts) {
      await runCommand("ip", ["-n", netNodes.hubNetns, "route", "add", l.podCIDR, "via", l.net.ipv4]);
      await runCommand("ip", ["-n", l.net.netns, "route", "add", "198.51.100.0/24", "via", BRIDGE_IPV4]);
      const [cert, key] = await signClientCert(pki, cp.dataDir, `kubelet-${l.name}`, `/O=system:nodes/CN=system:node:${l.name}`);
      const kubeconfig = yaml.dump({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: cp.serverFor("node"), "certificate-authority": pki.caCert } }],
        users: [{ name: "u", user: { "client-certificate": cert, "client-key": key } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
      });
      writeNodeFiles(l, pki.caCert, kubeconfig);
      makeCgroups(l.cgroup);
    }

    const importInto = async (r: NodeRuntime, archive: string, names: readonly string[], source: string): Promise<void> => {
      const sock = join(r.layout.dir, "containerd/containerd.sock");
      const ctr = (args: string[]): Promise<CommandResult> =>
        runCommand(join(bins.nodeDir, "ctr"), ["-a", sock, "-n", "k8s.io", ...args], { timeoutMs: 300_000 });
      await ctr(["images", "import", archive]);
      for (const n of names) if (n !== source) await ctr(["images", "tag", "--force", source, n]);
    };

    for (const l of layouts) {
      progress(`${l.name}: containerd`);
      const r: NodeRuntime = { layout: l };
      runtimes.push(r);
      // Own mount namespace (slave: nothing leaks to the host) with this node's
      // /var/lib and /var/log (kubelet and libcni hard-code paths there), joined
      // to the node's network namespace without `ip netns exec` (it remounts
      // /sys, which hides the cgroup hierarchies). kubelet joins the same mount
      // namespace later: runc must see the volumes kubelet mounts.
      const enter = 'mount --bind "$1/varlib" /var/lib && mount --bind "$1/varlog" /var/log && shift && exec "$@"';
      r.containerd = spawnLogged(
        "unshare",
        [
          "--mount",
          "--propagation",
          "slave",
          "--",
          "nsenter",
          `--net=${l.net.netnsPath}`,
          "--",
          "sh",
          "-c",
          enter,
          "sh",
          l.dir,
          join(bins.nodeDir, "containerd"),
          "--config",
          join(l.dir, "containerd/config.toml"),
        ],
        join(l.dir, "containerd.log"),
        env,
      );
      track(r.containerd);
      const sock = join(l.dir, "containerd/containerd.sock");
      await waitFor(
        `${l.name}: containerd socket`,
        30_000,
        async () => {
          if (r.containerd?.exitCode !== null) throw new Error(`${l.name}: containerd exited:\n${tailFile(join(l.dir, "containerd.log"), 30)}`);
          if (!existsSync(sock)) return false;
          return (await runCommand(join(bins.nodeDir, "ctr"), ["-a", sock, "version"], { check: false, timeoutMs: 5_000 })).code === 0;
        },
        () => tailFile(join(l.dir, "containerd.log"), 30),
      );
      r.mntIno = r.containerd.pid === undefined ? undefined : mountNsInode(r.containerd.pid);
    }
    progress("images");
    await Promise.all(runtimes.map((r) => importInto(r, pauseArchive, [PAUSE_IMAGE], PAUSE_IMAGE)));
    const imageTmp = join(dataDir, "images");
    mkdirSync(imageTmp, { recursive: true });
    const importImage = async (image: ImageImport): Promise<void> => {
      const archive = join(imageTmp, `${image.source.replace(/[^A-Za-z0-9.-]/g, "_")}.tar`);
      await runCommand("podman", ["save", "-q", "-o", archive, image.source], { timeoutMs: 300_000 });
      try {
        await Promise.all(runtimes.map((r) => importInto(r, archive, image.names, image.source)));
      } finally {
        rmSync(archive, { force: true });
      }
    };
    for (const image of opts.images ?? []) await importImage(image);

    for (const r of runtimes) {
      const l = r.layout;
      progress(`${l.name}: kubelet`);
      const before = readSysctls();
      r.kubelet = spawnLogged(
        "nsenter",
        [
          "-t",
          String(r.containerd!.pid),
          "-m",
          "-n",
          "--",
          join(bins.k8sDir, "kubelet"),
          `--config=${join(l.dir, "kubelet.yaml")}`,
          `--kubeconfig=${join(l.dir, "kubelet.kubeconfig")}`,
          `--root-dir=${join(l.dir, "kubelet")}`,
          `--cert-dir=${join(l.dir, "kubelet/pki")}`,
          `--hostname-override=${l.name}`,
          `--node-ip=${l.net.ipv4},${l.net.ipv6}`,
          "--v=1",
        ],
        join(l.dir, "kubelet.log"),
        env,
      );
      track(r.kubelet);
      // kubelet writes three host-wide sysctls once, just after its sync loop starts: put them back.
      const changesSomething = Object.entries(KUBELET_SYSCTLS).some(([k, v]) => before[k] !== v);
      if (changesSomething) {
        await waitFor(
          `${l.name}: kubelet start`,
          60_000,
          () => {
            if (r.kubelet?.exitCode !== null) throw new Error(`${l.name}: kubelet exited:\n${tailFile(join(l.dir, "kubelet.log"), 40)}`);
            const now = readSysctls();
            return Object.entries(KUBELET_SYSCTLS).every(([k, v]) => now[k] === v);
          },
          () => tailFile(join(l.dir, "kubelet.log"), 40),
        );
        writeSysctls(savedSysctls);
      }
    }
    progress("nodes Ready");
    await waitFor(
      "every node Ready and schedulable",
      120_000,
      async () => {
        for (const r of runtimes)
          if (r.kubelet?.exitCode !== null) throw new Error(`${r.layout.name}: kubelet exited:\n${tailFile(join(r.layout.dir, "kubelet.log"), 40)}`);
        const res = await kubectl(["get", "nodes", "-o", "json"], { check: false });
        if (res.code !== 0) return false;
        const items = (
          JSON.parse(res.stdout) as {
            items: { metadata: { name: string }; spec: { taints?: { key: string }[] }; status: { conditions?: { type: string; status: string }[] } }[];
          }
        ).items;
        return (
          layouts.every((l) => items.some((n) => n.metadata.name === l.name && n.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"))) &&
          items.every((n) => !(n.spec.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/not-ready")))
        );
      },
      () => runtimes.map((r) => `${r.layout.name} kubelet.log:\n${tailFile(join(r.layout.dir, "kubelet.log"), 15)}`).join("\n"),
    );
    // The default ServiceAccount of `default` (the controller manager makes it): pods there need it.
    await waitFor(
      "ServiceAccount default/default",
      60_000,
      async () => (await kubectl(["get", "serviceaccount", "default", "-n", "default"], { check: false })).code === 0,
      () => tailFile(join(dataDir, "kube-controller-manager.log"), 30),
    );

    const kubeletNodes: KubeletNode[] = runtimes.map((r) => ({
      name: r.layout.name,
      net: r.layout.net,
      podCIDR: r.layout.podCIDR,
      dir: r.layout.dir,
      containerdSocket: join(r.layout.dir, "containerd/containerd.sock"),
      cgroup: r.layout.cgroup,
      pids: () => ({
        containerd: r.containerd?.exitCode === null ? r.containerd.pid : undefined,
        kubelet: r.kubelet?.exitCode === null ? r.kubelet.pid : undefined,
      }),
    }));
    const startupMs = Date.now() - t0;
    return {
      cp,
      nodes,
      kubeletNodes,
      client: nodes.node("client"),
      bins,
      dataDir,
      startupMs,
      kubectl,
      helm: (args, hopts = {}) =>
        runCommand(controlPlane.bins.helm, [`--kubeconfig=${controlPlane.kubeconfigPath}`, ...args], {
          cwd: REPO_ROOT,
          check: hopts.check ?? true,
          timeoutMs: hopts.timeoutMs ?? 300_000,
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            HOME: controlPlane.dataDir,
            HELM_CACHE_HOME: join(dataDir, "helm/cache"),
            HELM_CONFIG_HOME: join(dataDir, "helm/config"),
            HELM_DATA_HOME: join(dataDir, "helm/data"),
          },
        }),
      importImage,
      memory: () =>
        runtimes.map((r) => {
          const shims = r.mntIno === undefined ? [] : pidsInMountNs(r.mntIno).filter((p) => commOf(p).startsWith("containerd-shim"));
          return {
            node: r.layout.name,
            kubeletKiB: rssKiB(r.kubelet?.pid),
            containerdKiB: rssKiB(r.containerd?.pid),
            shimsKiB: shims.reduce((sum, p) => sum + rssKiB(p), 0),
          };
        }),
      logs: (lines = 20) =>
        [
          ...runtimes.flatMap((r) => [
            `--- ${r.layout.name} kubelet.log\n${tailFile(join(r.layout.dir, "kubelet.log"), lines)}`,
            `--- ${r.layout.name} containerd.log\n${tailFile(join(r.layout.dir, "containerd.log"), lines)}`,
          ]),
          `--- kube-controller-manager.log\n${tailFile(join(dataDir, "kube-controller-manager.log"), lines)}`,
          `--- kube-scheduler.log\n${tailFile(join(dataDir, "kube-scheduler.log"), lines)}`,
        ].join("\n"),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
