// `make bench-operator`: the operator at scale on a real control plane. 1,000
// VirtualIPs (250 router ids) over 50 Nodes, every Node taking part in every
// VirtualIP (the largest configs: every address and 49 unicast peers per
// instance on every node). Measures convergence after the last create, the
// latency from one VirtualIP update to every updated node Secret, the
// operator's peak RSS and its writes while idle; prints one JSON line. Does I/O.
import { readFileSync } from "node:fs";
import https from "node:https";
import { loadavg } from "node:os";
import { ANNOTATION_CONFIG_HASH, ANNOTATION_NODE, API_VERSION, GROUP, KIND, PLURAL, SECRET_KEY_INSTANCES, VERSION, nodeConfigSecretName, type NodeInstanceMap } from "../../../src/api/index.js";
import { k8s } from "../../../src/kube/client.js";
import { NS, createNode, runOperator, startOperatorEnv, writesOf, type OperatorEnv, type OperatorProcess, type Samples } from "../../integration/operator/harness.js";

const BENCH_NS = "bench";

interface Settings {
  vips: number;
  nodes: number;
  services: number;
  routerIds: number;
  updates: number;
  idleMs: number;
}

function intSetting(env: NodeJS.ProcessEnv, name: string, def: number, max: number): number {
  const v = Number(env[name] ?? String(def));
  if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name}=${env[name]}: want 1..${max}`);
  return v;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  return {
    vips: intSetting(env, "BENCH_VIPS", 1000, 4000),
    nodes: intSetting(env, "BENCH_NODES", 50, 200),
    services: intSetting(env, "BENCH_SERVICES", 100, 1000),
    routerIds: intSetting(env, "BENCH_ROUTER_IDS", 250, 255),
    updates: intSetting(env, "BENCH_UPDATES", 30, 1000),
    idleMs: intSetting(env, "BENCH_IDLE_SECONDS", 60, 3600) * 1000,
  };
}

const nodeName = (i: number): string => `node-${String(i).padStart(3, "0")}`;
/** VirtualIP addresses: IPv6 in 2001:db8:100::/64 (no IPv4 test range holds 1,000). */
const vipAddress = (i: number): string => `2001:db8:100::${(i + 1).toString(16)}`;
/** Addresses used by the update rounds. */
const updateAddress = (i: number): string => `2001:db8:200::${(i + 1).toString(16)}`;

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

/** What the bench sees through its own watches (node Secrets as metadata only, to stay light). */
class Observed {
  /** VirtualIP name -> converged (observedGeneration current, Ready reason Active or NoMaster). */
  readonly vips = new Map<string, boolean>();
  /** Node -> config hash and when it last changed. */
  readonly secrets = new Map<string, { hash: string; changedAt: number }>();
  private waiters: { check: () => boolean; resolve: (at: number) => void }[] = [];

  onVip(obj: { metadata?: { name?: string; generation?: number }; status?: { observedGeneration?: number; conditions?: { type: string; reason: string }[] } }): void {
    const reason = obj.status?.conditions?.find((c) => c.type === "Ready")?.reason;
    this.vips.set(obj.metadata?.name ?? "", obj.status?.observedGeneration === obj.metadata?.generation && (reason === "Active" || reason === "NoMaster"));
    this.poke();
  }

  onSecretMeta(obj: { metadata?: { annotations?: Record<string, string> } }): void {
    const node = obj.metadata?.annotations?.[ANNOTATION_NODE] ?? "";
    const hash = obj.metadata?.annotations?.[ANNOTATION_CONFIG_HASH] ?? "";
    if (this.secrets.get(node)?.hash !== hash) this.secrets.set(node, { hash, changedAt: Date.now() });
    this.poke();
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

function watch(kc: k8s.KubeConfig, path: string, onObject: (o: unknown) => void): void {
  const w = new k8s.Watch(kc);
  const start = (): void =>
    void w.watch(path, {}, (type: string, obj: unknown) => {
      if (type === "ADDED" || type === "MODIFIED") onObject(obj);
    }, () => setTimeout(start, 100));
  start();
}

/** Watches a collection as PartialObjectMetadata (no data), restarting when the server ends the watch. */
function watchMetadata(kc: k8s.KubeConfig, path: string, onObject: (o: { metadata?: { annotations?: Record<string, string> } }) => void): void {
  const start = async (): Promise<void> => {
    const server = kc.getCurrentCluster()?.server ?? "";
    const opts: https.RequestOptions = { headers: { Accept: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" } };
    await kc.applyToHTTPSOptions(opts);
    const req = https.request(new URL(`${server}${path}?watch=true`), opts, (res) => {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.trim() === "") continue;
          const ev = JSON.parse(line) as { type: string; object: { metadata?: { annotations?: Record<string, string> } } };
          if (ev.type === "ADDED" || ev.type === "MODIFIED") onObject(ev.object);
        }
      });
      res.on("end", () => setTimeout(() => void start(), 100));
    });
    req.on("error", () => setTimeout(() => void start(), 500));
    req.end();
  };
  void start();
}

/** The VirtualIP keys and addresses in a node's config, read in full. */
async function readInstances(env: OperatorEnv, node: string): Promise<{ keys: Set<string>; addresses: Set<string> }> {
  const s = (await env.admin.core.readNamespacedSecret(nodeConfigSecretName(node), NS)).body;
  const map = JSON.parse(Buffer.from(s.data?.[SECRET_KEY_INSTANCES] ?? "", "base64").toString("utf8")) as NodeInstanceMap;
  return { keys: new Set(map.instances.flatMap((i) => i.virtualIPs)), addresses: new Set(map.instances.flatMap((i) => i.addresses)) };
}

async function setUp(env: OperatorEnv, s: Settings): Promise<void> {
  await env.cp.ensureNamespace(BENCH_NS);
  await pool(Array.from({ length: s.nodes }, (_, i) => i), 10, async (i) => {
    await createNode(env, nodeName(i), { ip: `192.0.2.${100 + i}` });
    // A second InternalIP of the VirtualIPs' family, for unicast peers.
    await env.admin.core.patchNodeStatus(
      nodeName(i),
      { status: { addresses: [{ type: "InternalIP", address: `192.0.2.${100 + i}` }, { type: "InternalIP", address: `2001:db8::${(0x100 + i).toString(16)}` }] } },
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      { headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH } },
    );
  });
  await pool(Array.from({ length: s.services }, (_, i) => i), 10, async (i) => {
    await env.admin.core.createNamespacedService(BENCH_NS, { metadata: { name: `svc-${i}` }, spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }], selector: { app: `svc-${i}` } } });
  });
}

function vipBody(i: number, s: Settings): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: `vip-${i}`, namespace: BENCH_NS },
    spec: { serviceRef: { name: `svc-${i % s.services}` }, address: vipAddress(i), virtualRouterId: (i % s.routerIds) + 1 },
  };
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
function meanMs(m: Samples, kind: string): number {
  const sum = m.get(`keepalived_vip_operator_reconcile_duration_seconds_sum{kind="${kind}"}`) ?? 0;
  const count = m.get(`keepalived_vip_operator_reconcile_duration_seconds_count{kind="${kind}"}`) ?? 0;
  return count > 0 ? Math.round((sum / count) * 1000) : 0;
}

async function main(): Promise<void> {
  const s = readSettings(process.env);
  const t0 = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const env = await startOperatorEnv();
  let op: OperatorProcess | undefined;
  try {
    await setUp(env, s);
    log(`control plane, ${s.nodes} Nodes and ${s.services} Services ready in ${Date.now() - t0} ms`);
    const nodeOptions = process.env.BENCH_OPERATOR_NODE_OPTIONS;
    op = await runOperator(env, { identity: "bench", args: ["--workers=16"], ...(nodeOptions ? { nodeOptions } : {}) });
    const seen = new Observed();
    watch(env.admin.kc, `/apis/${GROUP}/${VERSION}/namespaces/${BENCH_NS}/${PLURAL}`, (o) => seen.onVip(o as Parameters<Observed["onVip"]>[0]));
    watchMetadata(env.admin.kc, `/api/v1/namespaces/${NS}/secrets`, (o) => seen.onSecretMeta(o));

    // 1: create every VirtualIP, as fast as the API server takes them.
    const createStart = Date.now();
    await pool(Array.from({ length: s.vips }, (_, i) => i), 20, async (i) => {
      await env.admin.custom.createNamespacedCustomObject(GROUP, VERSION, BENCH_NS, PLURAL, vipBody(i, s));
    });
    const lastCreate = Date.now();
    const nodes = Array.from({ length: s.nodes }, (_, i) => nodeName(i));
    log(`created ${s.vips} VirtualIPs in ${lastCreate - createStart} ms`);
    const vipsAt = await seen.when(() => seen.vips.size === s.vips && [...seen.vips.values()].every(Boolean));
    // Node Secrets: read them in full until each carries every VirtualIP and none changed while reading;
    // they became current when they last changed.
    let secretsAt = 0;
    for (;;) {
      const readStart = Date.now();
      const complete = await Promise.all(nodes.map(async (n) => (await readInstances(env, n)).keys.size === s.vips));
      const changedWhileReading = [...seen.secrets.values()].some((x) => x.changedAt >= readStart);
      if (complete.every(Boolean) && !changedWhileReading) {
        secretsAt = Math.max(...nodes.map((n) => seen.secrets.get(n)?.changedAt ?? readStart));
        break;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const convergeMs = Math.max(vipsAt, secretsAt) - lastCreate;
    log(`converged ${convergeMs} ms after the last create (statuses ${vipsAt - lastCreate} ms, node Secrets ${secretsAt - lastCreate} ms)`);

    // 2: one VirtualIP update at a time -> every node Secret carries the new address.
    const beforeUpdates = await op.metrics();
    const latencies: number[] = [];
    for (let u = 0; u < s.updates; u++) {
      const i = (u * 37) % s.vips;
      const address = updateAddress(u);
      const before = new Map(nodes.map((n) => [n, seen.secrets.get(n)?.hash ?? ""]));
      const start = Date.now();
      await env.admin.custom.patchNamespacedCustomObject(GROUP, VERSION, BENCH_NS, PLURAL, `vip-${i}`, { spec: { address } }, undefined, undefined, undefined, {
        headers: { "Content-Type": k8s.PatchUtils.PATCH_FORMAT_JSON_MERGE_PATCH },
      });
      await seen.when(() => nodes.every((n) => (seen.secrets.get(n)?.hash ?? "") !== before.get(n)));
      latencies.push(Math.max(...nodes.map((n) => seen.secrets.get(n)?.changedAt ?? 0)) - start);
      // Outside the timing: the change seen is the one that carries the new address.
      const probe = nodes[u % nodes.length] ?? nodes[0] ?? "";
      if (!(await readInstances(env, probe)).addresses.has(address)) throw new Error(`node ${probe}: config changed without ${address}`);
    }
    latencies.sort((a, b) => a - b);
    const afterUpdates = await op.metrics();
    const rendersDuringUpdates =
      sampleSum(afterUpdates, "keepalived_vip_operator_render_duration_seconds_count") - sampleSum(beforeUpdates, "keepalived_vip_operator_render_duration_seconds_count");
    log(`update -> node Secrets: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms over ${latencies.length} updates`);

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
      routerIds: s.routerIds,
      convergeMs,
      convergeStatusMs: vipsAt - lastCreate,
      convergeSecretsMs: secretsAt - lastCreate,
      createMs: lastCreate - createStart,
      updateToSecretsP50Ms: percentile(latencies, 50),
      updateToSecretsP99Ms: percentile(latencies, 99),
      updates: latencies.length,
      peakRssMB: peakRssMB(op),
      idleSeconds: s.idleMs / 1000,
      idleWrites,
      idleLeaderLeaseWrites: idleLeaseWrites,
      totalWrites: writesOf(after),
      renders,
      meanRenderMs: renders > 0 ? Math.round((renderSeconds / renders) * 1000) : 0,
      rendersPerUpdate: latencies.length > 0 ? Math.round((rendersDuringUpdates / latencies.length) * 100) / 100 : 0,
      meanSecretApplyMs: meanMs(after, "secret"),
      meanVirtualIPApplyMs: meanMs(after, "virtualip"),
      configBytesPerNode: 0,
      // Other work on the machine skews every figure: the 1-minute load average at start and end.
      loadAverage: [Math.round(loadAtStart * 100) / 100, Math.round((loadavg()[0] ?? 0) * 100) / 100],
    };
    const cfg = (await env.admin.core.readNamespacedSecret(`keepalived-vip-node-${nodeName(0)}`, NS)).body.data?.["keepalived.conf"] ?? "";
    result.configBytesPerNode = Buffer.from(cfg, "base64").length;
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
