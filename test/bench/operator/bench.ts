// `make bench-operator`: the operator at scale on a real control plane. 1,000
// VirtualIPs (250 router ids) over 50 Nodes, every Node taking part in every
// VirtualIP (the largest configs: every address and 49 unicast peers per
// instance on every node); with BENCH_NODES_PER_VIP=N each VirtualIP is on N
// Nodes instead (a node selector per group of N Nodes, the realistic shape). Measures convergence after the last create, the
// latency from one VirtualIP update until every node's config (as its agent
// assembles it from the published node and instance Secrets) carries it, the
// operator's peak RSS and its writes while idle; prints one JSON line. As
// shipped on Kubernetes 1.36+: with the finalizer policy, its gate opened by the
// operator before the first create (BENCH_FINALIZER_POLICY=0: without the policy).
// Does I/O.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import yaml from "js-yaml";
import { loadavg } from "node:os";
import {
  ANNOTATION_INSTANCE,
  ANNOTATION_NODE,
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  SECRET_KEY_INSTANCE,
  SECRET_KEY_NODE,
  VERSION,
  publishedInstanceSchema,
  publishedNodeSchema,
  type PublishedInstance,
  type PublishedNode,
} from "../../../src/api/index.js";
import { CONFIG_SECRETS_SELECTOR } from "../../../src/operator/nodesecrets.js";
import { k8s } from "../../../src/kube/client.js";
import { REPO_ROOT } from "../../support/index.js";
import {
  NS,
  createNode,
  installFinalizerPolicy,
  waitForFinalizerGate,
  readNodeConfig,
  readPublishedInstances,
  runOperator,
  startOperatorEnv,
  writesOf,
  type NodeConfigSecret,
  type OperatorEnv,
  type OperatorProcess,
  type Samples,
} from "../../integration/operator/harness.js";

const BENCH_NS = "bench";

interface Settings {
  vips: number;
  nodes: number;
  services: number;
  routerIds: number;
  updates: number;
  idleMs: number;
  /** Nodes per VirtualIP (a label per group of this many Nodes); undefined: every Node in every VirtualIP. */
  nodesPerVip: number | undefined;
}

function intSetting(env: NodeJS.ProcessEnv, name: string, def: number, max: number): number {
  const v = Number(env[name] ?? String(def));
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name}=${env[name]}: want 1..${max}`);
  return v;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  return {
    vips: intSetting(env, "BENCH_VIPS", 1000, 10_000),
    nodes: intSetting(env, "BENCH_NODES", 50, 500),
    services: intSetting(env, "BENCH_SERVICES", 100, 1000),
    routerIds: intSetting(env, "BENCH_ROUTER_IDS", 250, 255),
    updates: intSetting(env, "BENCH_UPDATES", 30, 1000),
    idleMs: intSetting(env, "BENCH_IDLE_SECONDS", 60, 3600) * 1000,
    nodesPerVip: env.BENCH_NODES_PER_VIP === undefined || env.BENCH_NODES_PER_VIP === "" ? undefined : intSetting(env, "BENCH_NODES_PER_VIP", 5, 500),
  };
}

const nodeName = (i: number): string => `node-${String(i).padStart(3, "0")}`;
/** The label that puts Nodes into groups of BENCH_NODES_PER_VIP. */
const GROUP_LABEL = "bench.keepalived-vip.io/group";

/** How many node groups there are (1 without BENCH_NODES_PER_VIP: every Node in every VirtualIP). */
function groupCount(s: Settings): number {
  return s.nodesPerVip === undefined ? 1 : Math.max(1, Math.floor(s.nodes / s.nodesPerVip));
}

/** The group of Node i; undefined for the few Nodes past the last whole group (they carry no VirtualIP). */
function nodeGroup(i: number, s: Settings): number | undefined {
  if (s.nodesPerVip === undefined) return 0;
  const g = Math.floor(i / s.nodesPerVip);
  return g < groupCount(s) ? g : undefined;
}

/** The group of Nodes VirtualIP i is on. */
const vipGroup = (i: number, s: Settings): number => i % groupCount(s);

/** Node i's IPv4 InternalIP (from two test ranges: 409 of them), or none past those. */
function nodeIPv4(i: number): string | undefined {
  if (i < 155) return `192.0.2.${100 + i}`;
  if (i < 155 + 254) return `198.51.100.${i - 155 + 1}`;
  return undefined;
}
/** VirtualIP addresses: IPv6 in 2001:db8:100::/64 (no IPv4 test range holds 1,000). */
const vipAddress = (i: number): string => `2001:db8:100::${(i + 1).toString(16)}`;
/** Addresses used by the update rounds (in the test pool's 2001:db8:100::/64, apart from the VirtualIPs' own). */
const updateAddress = (i: number): string => `2001:db8:100::1:${(i + 1).toString(16)}`;

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/**
 * What the bench sees through its own watches: the VirtualIPs' statuses, and
 * the published plan (node and instance Secrets, decoded) as every agent sees it.
 */
class Observed {
  /** VirtualIP name -> converged (observedGeneration current, Ready reason Active or NoMaster). */
  readonly vips = new Map<string, boolean>();
  /** Node -> its node.json. */
  readonly nodes = new Map<string, PublishedNode>();
  /** Instance key (the instance annotation, what node entries name) -> its instance.json. */
  readonly instances = new Map<string, PublishedInstance>();
  /** Bytes of every config Secret's data, by Secret name. */
  readonly bytes = new Map<string, number>();
  private waiters: { check: () => boolean; resolve: (at: number) => void }[] = [];

  onVip(obj: {
    metadata?: { name?: string; generation?: number };
    status?: { observedGeneration?: number; conditions?: { type: string; reason: string }[] };
  }): void {
    const reason = obj.status?.conditions?.find((c) => c.type === "Ready")?.reason;
    this.vips.set(obj.metadata?.name ?? "", obj.status?.observedGeneration === obj.metadata?.generation && (reason === "Active" || reason === "NoMaster"));
    this.poke();
  }

  onSecret(type: string, obj: k8s.V1Secret): void {
    const name = obj.metadata?.name ?? "";
    const nodeB64 = obj.data?.[SECRET_KEY_NODE];
    const instB64 = obj.data?.[SECRET_KEY_INSTANCE];
    if (type === "DELETED") {
      this.bytes.delete(name);
      if (nodeB64 !== undefined) this.nodes.delete(obj.metadata?.annotations?.[ANNOTATION_NODE] ?? "");
      if (instB64 !== undefined) this.instances.delete(obj.metadata?.annotations?.[ANNOTATION_INSTANCE] ?? "");
    } else {
      this.bytes.set(
        name,
        Object.values(obj.data ?? {}).reduce((n, v) => n + Buffer.from(v, "base64").length, 0),
      );
      if (nodeB64 !== undefined) {
        const node = publishedNodeSchema.parse(JSON.parse(Buffer.from(nodeB64, "base64").toString("utf8")));
        this.nodes.set(node.node, node);
      }
      if (instB64 !== undefined) {
        const inst = publishedInstanceSchema.parse(JSON.parse(Buffer.from(instB64, "base64").toString("utf8")));
        this.instances.set(obj.metadata?.annotations?.[ANNOTATION_INSTANCE] ?? inst.name, inst);
      }
    }
    this.poke();
  }

  /** Whether `node`'s config, as its agent would assemble it now, is complete and carries `address` (and not `without`). */
  carries(node: string, address: string, without?: string): boolean {
    const n = this.nodes.get(node);
    if (!n) return false;
    let found = false;
    for (const e of n.instances) {
      const inst = this.instances.get(e.instance);
      if (!inst) return false;
      if (inst.primaryAddress === address || inst.excludedAddresses.includes(address)) found = true;
      if (without !== undefined && (inst.primaryAddress === without || inst.excludedAddresses.includes(without))) return false;
    }
    return found;
  }

  /** The VirtualIPs in `node`'s config as its agent would assemble it now; undefined while incomplete. */
  virtualIPsOf(node: string): number | undefined {
    const n = this.nodes.get(node);
    if (!n) return undefined;
    let count = 0;
    for (const e of n.instances) {
      const inst = this.instances.get(e.instance);
      if (!inst) return undefined;
      count += inst.virtualIPs.length;
    }
    return count;
  }

  /** Resolves with the time at which `check` first holds (checked on every event). */
  when(check: () => boolean): Promise<number> {
    if (check()) return Promise.resolve(Date.now());
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private poke(): void {
    const now = Date.now();
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve(now);
      return false;
    });
  }
}

function watch(kc: k8s.KubeConfig, path: string, query: Record<string, string>, onObject: (type: string, o: unknown) => void): void {
  const w = new k8s.Watch(kc);
  const start = (): void =>
    void w.watch(
      path,
      query,
      (type: string, obj: unknown) => {
        if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") onObject(type, obj);
      },
      () => setTimeout(start, 100),
    );
  start();
}

/** Every node's keepalived.conf, assembled from the Secrets as stored (what each agent would run). */
async function assembleAll(env: OperatorEnv, nodes: string[]): Promise<Map<string, NodeConfigSecret>> {
  const instances = await readPublishedInstances(env);
  const out = new Map<string, NodeConfigSecret>();
  for (const n of nodes) {
    const cfg = await readNodeConfig(env, n, NS, instances);
    if (!cfg) throw new Error(`node ${n}: no node Secret`);
    if (cfg.waiting !== undefined) throw new Error(`node ${n}: ${cfg.waiting}`);
    out.set(n, cfg);
  }
  return out;
}

async function setUp(env: OperatorEnv, s: Settings): Promise<void> {
  await env.cp.ensureNamespace(BENCH_NS);
  await pool(
    Array.from({ length: s.nodes }, (_, i) => i),
    10,
    async (i) => {
      const v4 = nodeIPv4(i);
      const v6 = `2001:db8::${(0x100 + i).toString(16)}`;
      const group = nodeGroup(i, s);
      await createNode(env, nodeName(i), {
        ip: v4 ?? v6,
        ...(s.nodesPerVip !== undefined && group !== undefined ? { labels: { [GROUP_LABEL]: String(group) } } : {}),
      });
      // An InternalIP of the VirtualIPs' family (IPv6), for unicast peers.
      await env.admin.core.patchNodeStatus(
        nodeName(i),
        { status: { addresses: [...(v4 !== undefined ? [{ type: "InternalIP", address: v4 }] : []), { type: "InternalIP", address: v6 }] } },
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } },
      );
    },
  );
  await pool(
    Array.from({ length: s.services }, (_, i) => i),
    10,
    async (i) => {
      await env.admin.core.createNamespacedService(BENCH_NS, {
        metadata: { name: `svc-${i}` },
        spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }], selector: { app: `svc-${i}` } },
      });
    },
  );
}

function vipBody(i: number, s: Settings): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: `vip-${i}`, namespace: BENCH_NS },
    spec: {
      serviceRef: { name: `svc-${i % s.services}` },
      address: vipAddress(i),
      virtualRouterId: (i % s.routerIds) + 1,
      ...(s.nodesPerVip !== undefined ? { nodeSelector: { matchLabels: { [GROUP_LABEL]: String(vipGroup(i, s)) } } } : {}),
    },
  };
}

/** CPU seconds (user + system) process `pid` has used so far; NaN when it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** CPU seconds so far of each process taking part: the API server, etcd, the operator and this bench. */
function cpuOfAll(env: OperatorEnv, op: OperatorProcess): Record<string, number> {
  const { apiServer, etcd } = env.cp.pids();
  return {
    apiServer: cpuSeconds(apiServer),
    etcd: cpuSeconds(etcd),
    operator: cpuSeconds(op.child.pid),
    bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  };
}

/** Cores each process used between two {@link cpuOfAll} readings `wallMs` apart. */
function coresBetween(a: Record<string, number>, b: Record<string, number>, wallMs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(a)) out[k] = Math.round((((b[k] ?? NaN) - (a[k] ?? NaN)) / (wallMs / 1000)) * 100) / 100;
  return out;
}

/**
 * BENCH_APISERVER_PROFILE=<file>: a CPU profile of kube-apiserver over the
 * first `seconds` from the first create (pprof format: `go tool pprof -top <file>`).
 */
async function captureApiServerProfile(env: OperatorEnv, file: string, seconds: number): Promise<void> {
  const args = ["--kubeconfig", env.cp.kubeconfigPath, "get", "--raw", `/debug/pprof/profile?seconds=${seconds}`, "--request-timeout=0"];
  const { stdout } = await promisify(execFile)(env.cp.bins.kubectl, args, { encoding: "buffer", maxBuffer: 1 << 28 });
  writeFileSync(file, stdout);
  log(`kube-apiserver CPU profile of ${seconds} s: ${file}`);
}

function peakRssMB(p: OperatorProcess): number {
  const status = readFileSync(`/proc/${p.child.pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

function sampleSum(m: Samples, prefix: string): number {
  let n = 0;
  for (const [k, v] of m) if (k.startsWith(prefix)) n += v;
  return n;
}

/** Mean duration of one reconcile of `kind`, in ms, from the histogram. */
function meanMs(m: Samples, kind: string, since?: Samples): number {
  const at = (s: Samples | undefined, what: string): number => s?.get(`keepalived_vip_operator_reconcile_duration_seconds_${what}{kind="${kind}"}`) ?? 0;
  const sum = at(m, "sum") - at(since, "sum");
  const count = at(m, "count") - at(since, "count");
  return count > 0 ? Math.round((sum / count) * 1000) : 0;
}

/** NODE_OPTIONS of the operator container as shipped (config/manager/manager.yaml; the chart's default is the same, a test checks it). */
function shippedNodeOptions(): string {
  type Manifest = { kind?: string; spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } } };
  const docs = yaml.loadAll(readFileSync(join(REPO_ROOT, "config/manager/manager.yaml"), "utf8")) as Manifest[];
  const env = docs.find((d) => d?.kind === "Deployment")?.spec?.template?.spec?.containers?.[0]?.env ?? [];
  return env.find((e) => e.name === "NODE_OPTIONS")?.value ?? "";
}

/** Environment variables for the operator process: BENCH_OPERATOR_ENV="K=V K2=V2". */
function operatorEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (process.env.BENCH_OPERATOR_ENV ?? "").split(" ").filter((x) => x.includes("=")))
    out[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  return out;
}

async function main(): Promise<void> {
  const s = readSettings(process.env);
  const t0 = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const profileFile = process.env.BENCH_APISERVER_PROFILE;
  const env = await startOperatorEnv(profileFile ? { apiServerFlags: ["--profiling=true"] } : {});
  let op: OperatorProcess | undefined;
  try {
    // The chart installs the finalizer policy where the API server serves it (operator.finalizerPolicy=auto), as
    // this one does; the operator opens its gate (ADR 0024). BENCH_FINALIZER_POLICY=0: without it.
    const finalizerPolicy = process.env.BENCH_FINALIZER_POLICY !== "0";
    if (finalizerPolicy) await installFinalizerPolicy(env);
    await setUp(env, s);
    log(`control plane, ${s.nodes} Nodes and ${s.services} Services ready in ${Date.now() - t0} ms`);
    const nodeOptions = process.env.BENCH_OPERATOR_NODE_OPTIONS ?? shippedNodeOptions();
    log(`operator NODE_OPTIONS: ${JSON.stringify(nodeOptions)}`);
    const extraArgs = (process.env.BENCH_OPERATOR_ARGS ?? "").split(" ").filter((a) => a !== "");
    // The compiled operator, as the image runs it (BENCH_OPERATOR_FROM=source: through tsx).
    const fromDist = (process.env.BENCH_OPERATOR_FROM ?? "dist") === "dist";
    op = await runOperator(env, {
      identity: "bench",
      args: ["--workers=16", ...extraArgs],
      fromDist,
      ...(nodeOptions ? { nodeOptions } : {}),
      env: operatorEnv(),
    });
    if (finalizerPolicy) log(`the operator opened the finalizer policy's gate in ${await waitForFinalizerGate(env)} ms`);
    // A dead operator converges nothing: every wait below fails with its log instead of waiting forever.
    const running = op;
    const died = new Promise<never>((_, reject) =>
      running.child.once("exit", (code, signal) => reject(new Error(`operator exited (${signal ?? code}):\n${running.log()}`))),
    );
    died.catch(() => undefined);
    const whileAlive = <T>(p: Promise<T>): Promise<T> => Promise.race([p, died]);
    const seen = new Observed();
    watch(env.admin.kc, `/apis/${GROUP}/${VERSION}/namespaces/${BENCH_NS}/${PLURAL}`, {}, (_t, o) => seen.onVip(o as Parameters<Observed["onVip"]>[0]));
    watch(env.admin.kc, `/api/v1/namespaces/${NS}/secrets`, { labelSelector: CONFIG_SECRETS_SELECTOR }, (t, o) => seen.onSecret(t, o as k8s.V1Secret));

    // 1: create every VirtualIP, as fast as the API server takes them.
    const atStart = await op.metrics();
    const cpuAtStart = cpuOfAll(env, op);
    const profile = profileFile ? captureApiServerProfile(env, profileFile, intSetting(process.env, "BENCH_PROFILE_SECONDS", 60, 600)) : undefined;
    const createStart = Date.now();
    await pool(
      Array.from({ length: s.vips }, (_, i) => i),
      20,
      async (i) => {
        await env.admin.custom.createNamespacedCustomObject(GROUP, VERSION, BENCH_NS, PLURAL, vipBody(i, s));
      },
    );
    const lastCreate = Date.now();
    const nodes = Array.from({ length: s.nodes }, (_, i) => nodeName(i));
    /** How many VirtualIPs each Node carries once converged. */
    const expected = new Map(
      nodes.map((n, i) => [
        n,
        nodeGroup(i, s) === undefined ? 0 : Array.from({ length: s.vips }, (_, v) => v).filter((v) => vipGroup(v, s) === nodeGroup(i, s)).length,
      ]),
    );
    /** The Nodes VirtualIP v is on. */
    const nodesOf = (v: number): string[] => nodes.filter((_, i) => nodeGroup(i, s) === vipGroup(v, s));
    log(`created ${s.vips} VirtualIPs in ${lastCreate - createStart} ms`);
    const vipsAt = await whileAlive(seen.when(() => seen.vips.size === s.vips && [...seen.vips.values()].every(Boolean)));
    // The published plan: complete when every node's config, as its agent would assemble it, carries all its VirtualIPs.
    const secretsAt = await whileAlive(seen.when(() => nodes.every((n) => seen.virtualIPsOf(n) === expected.get(n))));
    const convergeMs = Math.max(vipsAt, secretsAt) - lastCreate;
    // How busy the operator was meanwhile: its CPU time against the wall time from the first create to convergence.
    const cpu = (m: Samples): number => m.get("process_cpu_seconds_total") ?? 0;
    const convergeCpuShare = (cpu(await op.metrics()) - cpu(atStart)) / ((Math.max(vipsAt, secretsAt) - createStart) / 1000);
    // And every process's: on a machine of few cores, who the work waited for.
    const convergeCores = coresBetween(cpuAtStart, cpuOfAll(env, op), Date.now() - createStart);
    log(`cores used from the first create to convergence: ${JSON.stringify(convergeCores)}`);
    await profile;
    log(`converged ${convergeMs} ms after the last create (statuses ${vipsAt - lastCreate} ms, published plan ${secretsAt - lastCreate} ms)`);
    // Outside the timing: assemble every node's keepalived.conf from the Secrets as stored.
    const assembled = await assembleAll(env, nodes);
    for (const [n, a] of assembled)
      if (a.instances.instances.reduce((k, i) => k + i.virtualIPs.length, 0) !== expected.get(n))
        throw new Error(`node ${n}: assembled config lacks VirtualIPs`);

    // 2: one VirtualIP update at a time -> every node's config (as its agent assembles it) carries the new address.
    const beforeUpdates = await op.metrics();
    const latencies: number[] = [];
    let address = "";
    let lastNodes: string[] = [];
    for (let u = 0; u < s.updates; u++) {
      const i = (u * 37) % s.vips;
      const old = (await env.admin.custom.getNamespacedCustomObject(GROUP, VERSION, BENCH_NS, PLURAL, `vip-${i}`)).body as { spec: { address: string } };
      address = updateAddress(u);
      const start = Date.now();
      await env.admin.custom.patchNamespacedCustomObject(GROUP, VERSION, BENCH_NS, PLURAL, `vip-${i}`, { spec: { address } }, undefined, undefined, undefined, {
        headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH },
      });
      lastNodes = nodesOf(i);
      const on = lastNodes;
      const at = await whileAlive(seen.when(() => on.every((n) => seen.carries(n, address, old.spec.address))));
      latencies.push(at - start);
    }
    // Outside the timing: the assembled texts carry the last new address.
    const after2 = await assembleAll(env, nodes);
    for (const n of lastNodes) if (!after2.get(n)?.config.includes(address)) throw new Error(`node ${n}: assembled config lacks ${address}`);
    latencies.sort((a, b) => a - b);
    const afterUpdates = await op.metrics();
    const rendersDuringUpdates =
      sampleSum(afterUpdates, "keepalived_vip_operator_render_duration_seconds_count") -
      sampleSum(beforeUpdates, "keepalived_vip_operator_render_duration_seconds_count");
    const writesPerUpdate = (writesOf(afterUpdates) - writesOf(beforeUpdates)) / Math.max(1, latencies.length);
    log(`update -> published plan: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms over ${latencies.length} updates`);
    log(`update latencies, sorted (ms): ${latencies.join(" ")}`);

    // 3: idle: no writes at all (leader Lease renewals are counted apart).
    await new Promise((r) => setTimeout(r, 5000));
    const before = await op.metrics();
    await new Promise((r) => setTimeout(r, s.idleMs));
    const after = await op.metrics();
    const idleWrites = writesOf(after) - writesOf(before);
    const idleLeaseWrites = writesOf(after, { includeLeases: true }) - writesOf(after) - (writesOf(before, { includeLeases: true }) - writesOf(before));
    const renders = sampleSum(after, "keepalived_vip_operator_render_duration_seconds_count");
    const renderSeconds = sampleSum(after, "keepalived_vip_operator_render_duration_seconds_sum");
    const result = {
      bench: "operator",
      virtualIPs: s.vips,
      nodes: s.nodes,
      nodesPerVirtualIP: s.nodesPerVip ?? s.nodes,
      routerIds: s.routerIds,
      finalizerPolicy,
      convergeMs,
      convergeStatusMs: vipsAt - lastCreate,
      convergeSecretsMs: secretsAt - lastCreate,
      createMs: lastCreate - createStart,
      convergeOperatorCpuShare: Math.round(convergeCpuShare * 100) / 100,
      convergeCores,
      updateToSecretsP50Ms: percentile(latencies, 50),
      updateToSecretsP90Ms: percentile(latencies, 90),
      updateToSecretsP99Ms: percentile(latencies, 99),
      writesPerUpdate: Math.round(writesPerUpdate * 100) / 100,
      updates: latencies.length,
      peakRssMB: peakRssMB(op),
      // At the end, from the operator's own process metrics: what the main thread's V8 heap holds.
      heapUsedMB: Math.round((after.get("nodejs_heap_size_used_bytes") ?? 0) / 1048576),
      heapTotalMB: Math.round((after.get("nodejs_heap_size_total_bytes") ?? 0) / 1048576),
      externalMB: Math.round((after.get("nodejs_external_memory_bytes") ?? 0) / 1048576),
      idleSeconds: s.idleMs / 1000,
      idleWrites,
      idleLeaderLeaseWrites: idleLeaseWrites,
      totalWrites: writesOf(after),
      renders,
      meanRenderMs: renders > 0 ? Math.round((renderSeconds / renders) * 1000) : 0,
      rendersPerUpdate: latencies.length > 0 ? Math.round((rendersDuringUpdates / latencies.length) * 100) / 100 : 0,
      // Full render passes (the rest re-planned only what a change reached, ADR 0021): to converge, and during the updates.
      fullPassesToConverge: sampleSum(beforeUpdates, 'keepalived_vip_operator_render_passes_total{pass="full"'),
      fullPassesDuringUpdates:
        sampleSum(afterUpdates, 'keepalived_vip_operator_render_passes_total{pass="full"') -
        sampleSum(beforeUpdates, 'keepalived_vip_operator_render_passes_total{pass="full"'),
      meanSecretApplyMs: meanMs(after, "secret"),
      // During the updates alone: one planning pass, one Secret write, one status write.
      updatePassMs: meanMs(afterUpdates, "plan", beforeUpdates),
      updateSecretApplyMs: meanMs(afterUpdates, "secret", beforeUpdates),
      updateStatusApplyMs: meanMs(afterUpdates, "virtualip", beforeUpdates),
      // Garbage collection in the operator during the updates: pauses in all, and how many were major (mark-compact).
      updateGcMs: Math.round((sampleSum(afterUpdates, "nodejs_gc_duration_seconds_sum") - sampleSum(beforeUpdates, "nodejs_gc_duration_seconds_sum")) * 1000),
      updateMajorGcs:
        (afterUpdates.get('nodejs_gc_duration_seconds_count{kind="major"}') ?? 0) - (beforeUpdates.get('nodejs_gc_duration_seconds_count{kind="major"}') ?? 0),
      meanVirtualIPApplyMs: meanMs(after, "virtualip"),
      configBytesPerNode: Buffer.byteLength(after2.get(lastNodes[0] ?? nodes[0] ?? "")?.config ?? "", "utf8"),
      publishedBytes: [...seen.bytes.values()].reduce((a, b) => a + b, 0),
      configSecrets: seen.bytes.size,
      // Other work on the machine skews every figure: the 1-minute load average at start and end.
      loadAverage: [Math.round(loadAtStart * 100) / 100, Math.round((loadavg()[0] ?? 0) * 100) / 100],
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await op?.stop();
    await env.cp.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
