// The node agent for real: three network-namespace nodes, each running
// `keepalived-vip agent` (and so a real keepalived) with the agent's own
// ServiceAccount token bound by config/rbac/agent_*.yaml, against a real
// kube-apiserver. The published plan (one instance Secret per VRRP instance,
// one node Secret per node) is written here from planCluster output, as the
// operator writes it, and sometimes only in part, as the operator may leave
// it between two writes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_DEFAULT_INTERFACE,
  ANNOTATION_INSTANCE,
  ANNOTATION_NODE,
  API_VERSION,
  COMPONENT_INSTANCE_CONFIG,
  COMPONENT_NODE_CONFIG,
  GROUP,
  KIND,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  MANAGED_BY_VALUE,
  PLURAL,
  SECRET_KEY_INSTANCE,
  SECRET_KEY_NODE,
  VERSION,
  agentLeaseName,
  instanceSecretName,
  nodeConfigSecretName,
  parseVirtualIP,
  type NodeStatus,
  type VirtualIP,
  type VirtualIPSpecInput,
} from "../../../src/api/index.js";
import { applyObject, createKubeClients, errorStatus, type KubeClients } from "../../../src/kube/client.js";
import { planCluster, renderNodeConfigs, type ClusterPlan, type ClusterView } from "../../../src/render/index.js";
import {
  podBoundKubeconfig,
  createNodes,
  installProjectCRDs,
  kubectl,
  NODE_SANS,
  REPO_ROOT,
  runCommand,
  startControlPlane,
  type ControlPlane,
  type NetNode,
  type NodeProcess,
  type Nodes,
} from "../../support/index.js";
import { testPool } from "../../support/pools.js";
import { keepalivedPids as pidsOf, readJsonLog, waitFor } from "./support.js";

const NS = "keepalived-vip-system";
const SA = "keepalived-vip-agent";
const MANAGER = "keepalived-vip-tests";

let cp: ControlPlane;
let nodes: Nodes;
let admin: KubeClients;
/** Per node: a kubeconfig whose agent token is bound to a Pod on that node (the admission policies key on it). */
const agentKubeconfigs = new Map<string, string>();
const agents = new Map<string, NodeProcess>();
/** Window of the API outage test: reports in it waited for the API server, not for the agent. */
const outages: Array<{ from: number; to: number }> = [];

// --- fixtures ----------------------------------------------------------------

interface VipDef {
  name: string;
  spec: Partial<VirtualIPSpecInput> & { address: string; virtualRouterId: number };
}

const WEB: VipDef = { name: "web", spec: { address: "192.0.2.50", virtualRouterId: 51 } };
const DB: VipDef = { name: "db", spec: { address: "192.0.2.51", virtualRouterId: 52 } };
/** A third VirtualIP, published in part by the tests of the published plan, then removed. */
const CACHE: VipDef = { name: "cache", spec: { address: "192.0.2.52", virtualRouterId: 53 } };

function vipObject(def: VipDef): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: def.name, namespace: "default" },
    spec: { serviceRef: { name: def.name }, forwarding: "kube-proxy", ...def.spec },
  };
}

/** Reads the VirtualIPs back from the API server, parsed as the operator would. */
async function readVips(defs: VipDef[]): Promise<VirtualIP[]> {
  const out: VirtualIP[] = [];
  for (const d of defs) {
    const res = await admin.custom.getNamespacedCustomObject(GROUP, VERSION, "default", PLURAL, d.name);
    const parsed = parseVirtualIP(res.body);
    if (!parsed.ok) throw new Error(parsed.error);
    out.push(parsed.value);
  }
  return out;
}

/** The cluster as the operator sees it; `cordoned` nodes are unschedulable (the plan hands them over, docs/adr/0018). */
function clusterView(vips: VirtualIP[], cordoned: readonly string[] = []): ClusterView {
  return {
    virtualIPs: vips,
    nodes: nodes.nodes.map((n) => ({
      metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name } },
      ...(cordoned.includes(n.name) ? { spec: { unschedulable: true } } : {}),
      status: { addresses: [{ type: "InternalIP", address: n.ipv4 }] },
    })),
    services: vips.map((v) => ({ metadata: { name: v.spec.serviceRef.name, namespace: "default" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } })),
    endpointSlices: [],
    secrets: [],
    nodeInterfaces: {},
    pools: [testPool()],
  };
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** Writes one node's Secret (node.json) as the operator does (server-side apply). */
async function writeNodeSecret(node: string, data: { json: string; hash: string }): Promise<void> {
  await applyObject(
    admin,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: nodeConfigSecretName(node),
        namespace: NS,
        labels: { [LABEL_COMPONENT]: COMPONENT_NODE_CONFIG, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE },
        annotations: { [ANNOTATION_NODE]: node, [ANNOTATION_CONFIG_HASH]: data.hash },
      },
      type: "Opaque",
      data: { [SECRET_KEY_NODE]: b64(data.json) },
    },
    { fieldManager: MANAGER },
  );
}

/** Writes one instance Secret (instance.json) under its key in the plan, as the operator does. */
async function writeInstanceSecret(key: string, data: { json: string; hash: string }): Promise<void> {
  await applyObject(
    admin,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: instanceSecretName(key),
        namespace: NS,
        labels: { [LABEL_COMPONENT]: COMPONENT_INSTANCE_CONFIG, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE },
        annotations: { [ANNOTATION_INSTANCE]: key, [ANNOTATION_CONFIG_HASH]: data.hash },
      },
      type: "Opaque",
      data: { [SECRET_KEY_INSTANCE]: b64(data.json) },
    },
    { fieldManager: MANAGER },
  );
}

async function deleteInstanceSecret(key: string): Promise<void> {
  try {
    await admin.core.deleteNamespacedSecret(instanceSecretName(key), NS);
  } catch (err) {
    if (errorStatus(err) !== 404) throw err;
  }
}

/** Names of the instance Secrets in the namespace. */
async function instanceSecretNames(): Promise<string[]> {
  const res = await admin.core.listNamespacedSecret(NS, undefined, undefined, undefined, undefined, `${LABEL_COMPONENT}=${COMPONENT_INSTANCE_CONFIG}`);
  return res.body.items.map((s) => s.metadata?.name ?? "");
}

/** Plans the cluster from the stored VirtualIPs (no problems expected). */
async function planFor(defs: VipDef[], cordoned: readonly string[] = []): Promise<ClusterPlan> {
  const plan = planCluster(clusterView(await readVips(defs), cordoned));
  assert.deepEqual(plan.problems, [], "the test cluster view should render without problems");
  return plan;
}

/**
 * Renders the cluster from the stored VirtualIPs and writes the whole plan
 * as the operator does: the instance Secrets first, then the node Secrets,
 * then the instance Secrets no longer planned go. Returns the plan.
 */
async function publishConfigs(defs: VipDef[], cordoned: readonly string[] = []): Promise<ClusterPlan> {
  const plan = await planFor(defs, cordoned);
  for (const p of plan.published) await writeInstanceSecret(p.name, p);
  for (const p of plan.nodes) await writeNodeSecret(p.node, p);
  const wanted = new Set(plan.published.map((p) => instanceSecretName(p.name)));
  for (const name of await instanceSecretNames()) if (!wanted.has(name)) await admin.core.deleteNamespacedSecret(name, NS);
  return plan;
}

/** The keepalived.conf `node` should assemble from `plan`. */
function expectedConfig(plan: ClusterPlan, node: string): string {
  const found = renderNodeConfigs(plan).find((c) => c.node === node);
  assert.ok(found, `no config for ${node} in the plan`);
  return found.config;
}

// --- observation helpers -----------------------------------------------------

async function statusNodes(name: string): Promise<NodeStatus[]> {
  const res = await admin.custom.getNamespacedCustomObject(GROUP, VERSION, "default", PLURAL, name);
  const status = (res.body as { status?: { nodes?: NodeStatus[] } }).status;
  return [...(status?.nodes ?? [])].sort((a, b) => a.name.localeCompare(b.name));
}

function statesOf(entries: NodeStatus[]): Record<string, string> {
  return Object.fromEntries(entries.map((e) => [e.name, e.state]));
}

/** Names of the nodes whose eth0 carries `address`. */
async function holders(address: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes.nodes) {
    const res = await runCommand("ip", ["-n", n.netns, "-j", "addr", "show", "dev", "eth0"]);
    const links = JSON.parse(res.stdout) as Array<{ addr_info: Array<{ local: string }> }>;
    if (links.some((l) => l.addr_info.some((a) => a.local === address))) out.push(n.name);
  }
  return out;
}

async function pingFromClient(address: string): Promise<boolean> {
  const res = await nodes.exec("client", "ping", ["-c1", "-W1", address], { check: false });
  return res.code === 0;
}

/** Scrapes the agent's /metrics inside its node. */
async function metricsOf(node: string): Promise<string> {
  const res = await nodes.exec(node, "curl", ["-fsS", "--max-time", "5", "http://127.0.0.1:9101/metrics"]);
  return res.stdout;
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

interface LogLine {
  message: string;
  [k: string]: unknown;
}

function agentLog(node: string): LogLine[] {
  return readJsonLog<LogLine>(agents.get(node)?.logFile);
}

/** The live keepalived.conf of a node. */
function liveConfigOf(node: NetNode): string {
  return readFileSync(join(node.runtimeDir, "keepalived.conf"), "utf8");
}

/** keepalived_vip_agent_config_waiting of every node. */
async function waitingGauges(): Promise<number[]> {
  return Promise.all(nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_config_waiting")));
}

/** What a node has installed and how often it reloaded, for every node. */
async function snapshot(): Promise<{ configs: string[]; reloads: number[] }> {
  const reloads = await Promise.all(nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_reloads_total")));
  return { configs: nodes.nodes.map(liveConfigOf), reloads };
}

/** resourceVersion of every node Secret. */
async function nodeSecretVersions(): Promise<string[]> {
  return Promise.all(
    nodes.nodes.map(async (n) => (await admin.core.readNamespacedSecret(nodeConfigSecretName(n.name), NS)).body.metadata?.resourceVersion ?? ""),
  );
}

/** The last line of a node's agent log with this message. */
function lastLog(node: string, message: string): LogLine | undefined {
  return agentLog(node)
    .reverse()
    .find((l) => l.message === message);
}

/** Pids of keepalived processes (parent and children) inside a node. */
function keepalivedPids(node: string): number[] {
  return pidsOf(nodes, node);
}

function startAgent(node: NetNode): NodeProcess {
  const proc = nodes.spawn(
    node,
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO_ROOT, "src/main.ts"),
      "agent",
      "--kubeconfig",
      agentKubeconfigs.get(node.name) ?? "",
      "--keepalived-path",
      "/usr/sbin/keepalived",
      "--heartbeat-interval",
      "1s",
      "--lease-duration",
      "5s",
    ],
    { env: { ...process.env, NODE_NAME: node.name, POD_NAMESPACE: NS, HOST_IP: node.ipv4, LOG_LEVEL: "info" } },
  );
  agents.set(node.name, proc);
  return proc;
}

async function master(name: string): Promise<string | undefined> {
  const entries = await statusNodes(name);
  const masters = entries.filter((e) => e.state === "MASTER").map((e) => e.name);
  return masters.length === 1 ? masters[0] : undefined;
}

/** Waits until the VirtualIP has one MASTER in its status and its address is on that node only; returns the node. */
async function settledMaster(def: VipDef, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    `${def.name} settled on one MASTER`,
    async () => {
      const m = await master(def.name);
      const h = await holders(def.spec.address);
      return m !== undefined && h.length === 1 && h[0] === m ? m : undefined;
    },
    timeoutMs,
  );
}

// --- lifecycle ---------------------------------------------------------------

before(async () => {
  cp = await startControlPlane({ extraSANs: [...NODE_SANS] });
  nodes = await createNodes({ count: 3, withClient: true, hostPorts: [cp.port] });
  admin = createKubeClients({ kubeconfig: cp.kubeconfigPath });
  await installProjectCRDs(cp);
  await cp.ensureNamespace(NS);
  // The agent's RBAC and admission policies as shipped; the plan's namespace is the agent's own here.
  const rbac = readdirSync(join(REPO_ROOT, "config/rbac"))
    .filter((f) => f.startsWith("agent_") && f.endsWith(".yaml"))
    .map((f) => readFileSync(join(REPO_ROOT, "config/rbac", f), "utf8").replaceAll("keepalived-vip-nodes", NS))
    .join("\n---\n");
  await kubectl(cp, ["apply", "-f", "-"], { input: rbac });
  for (const n of nodes.nodes) {
    await admin.core.createNode({ metadata: { name: n.name } });
    agentKubeconfigs.set(n.name, await podBoundKubeconfig(cp, { namespace: NS, serviceAccount: SA, node: n.name, site: "node" }));
  }
  for (const def of [WEB, DB]) await applyObject(admin, vipObject(def), { fieldManager: MANAGER });
  await publishConfigs([WEB, DB]);
});

/** Prints the state change -> status write latency the agents logged while the API server was up. */
function printLatencies(): void {
  const healthy: number[] = [];
  for (const node of agents.keys()) {
    for (const l of agentLog(node)) {
      const at = Date.parse(String(l.timestamp));
      const during = outages.some((o) => at >= o.from && at <= o.to);
      if (l.message === "Reported node status" && !during) healthy.push(Number(l.latencyMs));
    }
  }
  if (healthy.length === 0) return;
  const sorted = healthy.sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  console.log(
    `Transition -> API write latency (API server up), ${sorted.length} reports: min ${sorted[0]} ms, median ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${sorted[sorted.length - 1]} ms`,
  );
}

after(async () => {
  printLatencies();
  await Promise.all([...agents.values()].map((a) => a.stop(2000)));
  // AGENT_IT_LOG_DIR=<dir> keeps the agents' logs (the node directories are removed below).
  const keep = process.env.AGENT_IT_LOG_DIR;
  if (keep) {
    mkdirSync(keep, { recursive: true });
    for (const [node, a] of agents) if (a.logFile) copyFileSync(a.logFile, join(keep, `${node}.log`));
  }
  await nodes?.destroy();
  await cp?.stop();
});

// --- tests -------------------------------------------------------------------

void describe("agent RBAC (config/rbac/agent_*.yaml)", () => {
  const canI: Array<{ args: string[]; want: "yes" | "no" }> = [
    { args: ["patch", `${PLURAL}.${GROUP}`, "--subresource=status", "-n", "default"], want: "yes" },
    { args: ["patch", `${PLURAL}.${GROUP}`, "-n", "default"], want: "no" },
    { args: ["get", `${PLURAL}.${GROUP}`, "-n", "default"], want: "no" },
    { args: ["create", "events", "-n", "default"], want: "yes" },
    { args: ["watch", "secrets", "-n", NS], want: "yes" },
    { args: ["get", "secrets", "-n", "default"], want: "no" },
    { args: ["update", "secrets", "-n", NS], want: "no" },
    { args: ["create", "leases.coordination.k8s.io", "-n", NS], want: "yes" },
    { args: ["update", "leases.coordination.k8s.io", "-n", NS], want: "yes" },
    { args: ["create", "leases.coordination.k8s.io", "-n", "default"], want: "no" },
    { args: ["get", "nodes"], want: "no" },
    { args: ["list", "nodes"], want: "no" },
  ];
  for (const c of canI) {
    void test(`agent can-i ${c.args.join(" ")}: ${c.want}`, async () => {
      const res = await kubectl(cp, ["auth", "can-i", ...c.args, `--as=system:serviceaccount:${NS}:${SA}`], { check: false });
      assert.equal(res.stdout.trim(), c.want, res.stderr);
    });
  }

  void test("a Role narrowed by resourceNames still allows the agent's list and watch by name", async () => {
    const ns = "rbac-narrow";
    await cp.ensureNamespace(ns);
    const manifests = [
      { apiVersion: "v1", kind: "Secret", metadata: { name: "mine", namespace: ns }, stringData: { a: "b" } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "other", namespace: ns }, stringData: { a: "c" } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "one-secret", namespace: ns },
        rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: ["mine"], verbs: ["get", "list", "watch"] }],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "one-secret", namespace: ns },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "one-secret" },
        subjects: [{ kind: "ServiceAccount", name: "narrow", namespace: ns }],
      },
    ];
    await kubectl(cp, ["apply", "-f", "-"], { input: manifests.map((m) => JSON.stringify(m)).join("\n") });
    const kc = await cp.kubeconfigFor(ns, "narrow");
    const byName = await kubectl(cp, ["get", "secrets", "-n", ns, "--field-selector=metadata.name=mine", "-o", "name"], { kubeconfig: kc, check: false });
    assert.equal(byName.stdout.trim(), "secret/mine", byName.stderr);
    const all = await kubectl(cp, ["get", "secrets", "-n", ns, "-o", "name"], { kubeconfig: kc, check: false });
    assert.notEqual(all.code, 0);
    assert.match(all.stderr, /forbidden/i);
    const watch = await kubectl(cp, ["get", "secrets", "-n", ns, "--field-selector=metadata.name=mine", "--watch", "--request-timeout=2s", "-o", "name"], {
      kubeconfig: kc,
      check: false,
    });
    assert.doesNotMatch(watch.stderr, /forbidden/i);
  });
});

void describe("agent with keepalived in three nodes", () => {
  void test("first election is reported: one MASTER, the others BACKUP, and the VIP answers from that node only", async () => {
    for (const n of nodes.nodes) startAgent(n);
    for (const def of [WEB, DB]) {
      const entries = await waitFor(`three entries with one MASTER on ${def.name}`, async () => {
        const e = await statusNodes(def.name);
        const states = e.map((x) => x.state).sort();
        return e.length === 3 && states.join() === "BACKUP,BACKUP,MASTER" ? e : undefined;
      });
      const m = entries.find((e) => e.state === "MASTER")!;
      // Ranked default priorities (ADR 0014): distinct, from 250 down to 100.
      assert.deepEqual(
        entries.map((e) => e.priority).sort((a, b) => (a ?? 0) - (b ?? 0)),
        [100, 175, 250],
      );
      for (const e of entries) assert.ok(e.since && e.lastReportTime, "since and lastReportTime are set");
      const held = await waitFor(`${def.spec.address} on exactly one eth0`, async () => {
        const h = await holders(def.spec.address);
        return h.length === 1 ? h : undefined;
      });
      assert.deepEqual(held, [m.name], `status MASTER ${m.name} but the address is on ${held.join(",")}`);
      assert.ok(await waitFor(`ping ${def.spec.address}`, () => pingFromClient(def.spec.address), 10_000), `${def.spec.address} does not answer`);
    }
  });

  void test("each agent publishes its default interface and renews its heartbeat Lease", async () => {
    for (const n of nodes.nodes) {
      const lease = await admin.coordination.readNamespacedLease(agentLeaseName(n.name), NS);
      assert.equal(lease.body.spec?.holderIdentity, n.name);
      assert.equal(lease.body.spec?.leaseDurationSeconds, 5);
      assert.equal(lease.body.metadata?.annotations?.[ANNOTATION_DEFAULT_INTERFACE], "eth0");
      const first = new Date(lease.body.spec?.renewTime ?? 0).getTime();
      await waitFor(
        `Lease of ${n.name} renewed`,
        async () => {
          const again = await admin.coordination.readNamespacedLease(agentLeaseName(n.name), NS);
          return new Date(again.body.spec?.renewTime ?? 0).getTime() > first;
        },
        5000,
      );
    }
  });

  void test("the agent serves metrics and health probes", async () => {
    const node = nodes.nodes[0]!.name;
    const text = await metricsOf(node);
    assert.equal(
      metricValue(text, "keepalived_vip_agent_vrrp_state", { state: "MASTER" }) + metricValue(text, "keepalived_vip_agent_vrrp_state", { state: "BACKUP" }),
      2,
    );
    assert.ok(metricValue(text, "keepalived_vip_agent_report_latency_seconds_count") >= 1);
    for (const probe of ["healthz", "readyz"]) {
      const res = await nodes.exec(node, "curl", ["-fsS", `http://127.0.0.1:9101/${probe}`]);
      assert.match(res.stdout, probe === "readyz" ? /^\[\+\]keepalived ok\n\[\+\]watches ok\nok\n$/ : /^\[\+\]keepalived ok\nok\n$/);
    }
  });

  void test("a priority change is reloaded without a transition", async () => {
    const webMaster = await settledMaster(WEB);
    const dbMaster = await settledMaster(DB);
    const target = nodes.nodes.find((n) => n.name !== webMaster)!.name;
    const before = { web: await statusNodes(WEB.name), db: await statusNodes(DB.name) };
    const reloadsBefore = metricValue(await metricsOf(target), "keepalived_vip_agent_reloads_total");
    const transitionsBefore = await Promise.all(
      nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_vrrp_transitions_total")),
    );

    await applyObject(admin, vipObject({ ...WEB, spec: { ...WEB.spec, vrrp: { priorities: { [target]: 150 } } } }), { fieldManager: MANAGER });
    await publishConfigs([WEB, DB]);

    const entry = await waitFor(`priority 150 reported by ${target}`, async () =>
      (await statusNodes(WEB.name)).find((e) => e.name === target && e.priority === 150),
    );
    assert.equal(metricValue(await metricsOf(target), "keepalived_vip_agent_reloads_total"), reloadsBefore + 1, "exactly one reload");
    await new Promise((r) => setTimeout(r, 3000));
    const after = { web: await statusNodes(WEB.name), db: await statusNodes(DB.name) };
    assert.equal(await master(WEB.name), webMaster, "no failover of web (nopreempt)");
    assert.equal(await master(DB.name), dbMaster, "no failover of db");
    assert.equal(entry.state, before.web.find((e) => e.name === target)?.state);
    for (const key of ["web", "db"] as const) {
      assert.deepEqual(
        after[key].map((e) => [e.name, e.state, e.since]),
        before[key].map((e) => [e.name, e.state, e.since]),
        `${key}: a state or since changed`,
      );
    }
    const transitionsAfter = await Promise.all(
      nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_vrrp_transitions_total")),
    );
    assert.deepEqual(transitionsAfter, transitionsBefore, "no VRRP transition on any node");
  });

  void test("a cordoned node reports the priority keepalived runs with (1, the handover floor) without a transition; uncordoned, the planned one", async () => {
    const webMaster = await settledMaster(WEB);
    const dbMaster = await settledMaster(DB);
    // A node that is MASTER of neither: lowering it moves nothing.
    const target = nodes.nodes.find((n) => n.name !== webMaster && n.name !== dbMaster)!.name;
    const planned = async (): Promise<Array<number | undefined>> => [
      (await statusNodes(WEB.name)).find((e) => e.name === target)?.priority,
      (await statusNodes(DB.name)).find((e) => e.name === target)?.priority,
    ];
    const before = await planned();
    assert.ok(
      before.every((p) => p !== undefined && p > 1),
      `planned priorities of ${target}: ${before.join(",")}`,
    );
    const keepalivedLines = (): string[] =>
      agentLog(target)
        .filter((l) => l.message === "keepalived")
        .map((l) => String(l.line));
    const linesBefore = keepalivedLines().length;
    const transitionsBefore = await Promise.all(
      nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_vrrp_transitions_total")),
    );

    await publishConfigs([WEB, DB], [target]);
    await waitFor(`priority 1 reported by ${target} for web and db`, async () => ((await planned()).every((p) => p === 1) ? true : undefined));
    // What the status says is what keepalived did: it lowered both instances to 1 (read from the track file, no reload).
    await waitFor(`keepalived on ${target} lowering both instances to 1`, () =>
      Promise.resolve(
        keepalivedLines()
          .slice(linesBefore)
          .filter((l) => /Changing effective priority from \d+ to 1$/.test(l)).length >= 2 || undefined,
      ),
    );
    assert.equal(await master(WEB.name), webMaster);
    assert.equal(await master(DB.name), dbMaster);
    assert.deepEqual(statesOf(await statusNodes(WEB.name))[target], "BACKUP");

    await publishConfigs([WEB, DB]);
    await waitFor(`the planned priorities reported by ${target} again`, async () => {
      const now = await planned();
      return now.every((p, i) => p === before[i]) ? true : undefined;
    });
    const transitionsAfter = await Promise.all(
      nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_vrrp_transitions_total")),
    );
    assert.deepEqual(transitionsAfter, transitionsBefore, "no VRRP transition on any node");
  });

  void test("a config that fails keepalived --config-test is refused instance by instance and the last good versions keep running", async () => {
    const node = nodes.nodes[0]!;
    const pidsBefore = keepalivedPids(node.name).sort();
    const liveConfig = liveConfigOf(node);
    const metrics = await metricsOf(node.name);
    const failuresBefore = metricValue(metrics, "keepalived_vip_agent_config_test_failures_total");
    const reloadsBefore = metricValue(metrics, "keepalived_vip_agent_reloads_total");
    const good = (await planFor([WEB, DB])).nodes.find((p) => p.node === node.name)!;

    // Safe to render, but the node has no such interface: only keepalived --config-test can tell.
    const broken = JSON.stringify({ ...good.published, instances: good.published.instances.map((e) => ({ ...e, interface: "nosuch0" })) });
    await writeNodeSecret(node.name, { json: broken, hash: "broken" });

    // Both instances changed and both fail: each is refused on its own (ADR 0016).
    await waitFor(
      "the config-test failure metric",
      async () => metricValue(await metricsOf(node.name), "keepalived_vip_agent_config_test_failures_total") === failuresBefore + 2,
    );
    const events = await waitFor("ConfigTestFailed Events on both VirtualIPs", async () => {
      const res = await admin.core.listNamespacedEvent("default", undefined, undefined, undefined, "reason=ConfigTestFailed");
      const named = new Set(res.body.items.map((e) => e.involvedObject.name));
      return named.has("web") && named.has("db") ? res.body.items : undefined;
    });
    for (const e of events) {
      assert.equal(e.type, "Warning");
      assert.equal(e.involvedObject.kind, KIND);
      assert.match(
        e.message ?? "",
        new RegExp(`Node ${node.name} refused VRRP instance \\S+ \\(spec\\.interface\\): .*; its last good version keeps running$`),
      );
      assert.match(e.message ?? "", /interface nosuch0 .*doesn't exist|Non-existent interface/);
      assert.doesNotMatch(e.message ?? "", /keepalived\.conf|\/run\//, "no file paths");
    }
    assert.ok(
      agentLog(node.name).some((l) => l.message === "Refused keepalived config"),
      "a log line names the refusal",
    );
    assert.equal(liveConfigOf(node), liveConfig, "the live config is unchanged");
    assert.deepEqual(keepalivedPids(node.name).sort(), pidsBefore, "keepalived was neither restarted nor replaced");
    assert.equal(metricValue(await metricsOf(node.name), "keepalived_vip_agent_reloads_total"), reloadsBefore, "no reload");
    assert.equal((await holders(WEB.spec.address)).length, 1);
    for (const def of [WEB, DB]) {
      await waitFor(`${node.name}'s entry of ${def.name} says why`, async () => {
        const e = (await statusNodes(def.name)).find((x) => x.name === node.name);
        return (
          e &&
          /^spec\.interface: keepalived refused VRRP instance .*nosuch0.*the last good version keeps running$/.test(e.configRejected ?? "") &&
          ["MASTER", "BACKUP"].includes(e.state)
        );
      });
    }

    // Back to the good bytes: the same config as running, so no write and no reload.
    await writeNodeSecret(node.name, good);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(metricValue(await metricsOf(node.name), "keepalived_vip_agent_reloads_total"), reloadsBefore, "same bytes: no reload");
    for (const def of [WEB, DB]) {
      await waitFor(
        `${node.name}'s refusal of ${def.name} cleared`,
        async () => (await statusNodes(def.name)).find((x) => x.name === node.name)?.configRejected === undefined,
      );
    }
  });

  void test("an unreadable instance Secret is refused on every node that names it, naming the Secret", async () => {
    const plan = await planFor([WEB, DB]);
    const web = plan.published.find((p) => p.published.virtualIPs.includes("default/web"))!;
    const before = await Promise.all(nodes.nodes.map(async (n) => ({ config: liveConfigOf(n), metrics: await metricsOf(n.name) })));
    const failuresBefore = before.map((b) => metricValue(b.metrics, "keepalived_vip_agent_config_test_failures_total"));
    const reloadsBefore = before.map((b) => metricValue(b.metrics, "keepalived_vip_agent_reloads_total"));

    await writeInstanceSecret(web.name, { json: JSON.stringify({ ...web.published, virtualRouterId: 300 }), hash: "tampered" });

    await waitFor("a refusal on every node", async () => {
      const now = await Promise.all(nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_config_test_failures_total")));
      return now.every((v, i) => v === failuresBefore[i]! + 1);
    });
    const secret = instanceSecretName(web.name);
    await waitFor("an Event on web naming the instance Secret", async () => {
      const res = await admin.core.listNamespacedEvent("default", undefined, undefined, undefined, "reason=ConfigTestFailed");
      return res.body.items.some((e) => e.involvedObject.name === "web" && (e.message ?? "").includes(`Secret ${secret}: instance.json.virtualRouterId`));
    });
    for (const [i, n] of nodes.nodes.entries()) {
      const refusal = agentLog(n.name).find((l) => l.message === "Refused keepalived config" && JSON.stringify(l.problems).includes(secret));
      assert.ok(refusal, `${n.name} logged the refusal naming ${secret}`);
      assert.equal(liveConfigOf(n), before[i]!.config, `${n.name}: the live config is unchanged`);
    }
    assert.equal((await holders(WEB.spec.address)).length, 1);

    // The operator's bytes again: the same config as running, no reload anywhere.
    await publishConfigs([WEB, DB]);
    await new Promise((r) => setTimeout(r, 1500));
    const reloadsAfter = await Promise.all(nodes.nodes.map(async (n) => metricValue(await metricsOf(n.name), "keepalived_vip_agent_reloads_total")));
    assert.deepEqual(reloadsAfter, reloadsBefore, "same config: no reload");
  });

  void test("node Secrets before the instance Secret they name: the agents wait with the running config, then apply it when it comes", async () => {
    await applyObject(admin, vipObject(CACHE), { fieldManager: MANAGER });
    const plan = await planFor([WEB, DB, CACHE]);
    const cache = plan.published.find((p) => p.published.virtualIPs.includes("default/cache"))!;
    const before = await snapshot();

    for (const p of plan.published) if (p !== cache) await writeInstanceSecret(p.name, p);
    for (const p of plan.nodes) await writeNodeSecret(p.node, p);

    await waitFor("every agent waiting", async () => (await waitingGauges()).every((v) => v === 1));
    for (const n of nodes.nodes) {
      const line = lastLog(n.name, "Waiting for the published plan");
      assert.ok(line, `${n.name} logged that it waits`);
      assert.deepEqual(line.missing, [cache.name]);
      assert.match(String(line.problem), new RegExp(instanceSecretName(cache.name)));
      assert.equal(line.level, "info");
    }
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await snapshot(), before, "no node installed or reloaded anything while it waited");
    assert.deepEqual(await holders(CACHE.spec.address), []);
    for (const n of nodes.nodes) {
      const res = await nodes.exec(n.name, "curl", ["-fsS", "http://127.0.0.1:9101/readyz"]);
      assert.match(res.stdout, /ok\n$/, `${n.name} stays ready while it waits`);
    }

    await writeInstanceSecret(cache.name, cache);

    await waitFor("every agent running the assembled config", async () => {
      const waiting = await waitingGauges();
      return waiting.every((v) => v === 0) && nodes.nodes.every((n) => liveConfigOf(n) === expectedConfig(plan, n.name));
    });
    const after = await snapshot();
    assert.deepEqual(
      after.reloads,
      before.reloads.map((r) => r + 1),
      "one reload per node",
    );
    await settledMaster(CACHE);
    assert.ok(await waitFor(`ping ${CACHE.spec.address}`, () => pingFromClient(CACHE.spec.address), 10_000));
  });

  void test("an address change in one instance Secret alone (node Secrets untouched) reaches keepalived", async () => {
    const before = await planFor([WEB, DB, CACHE]);
    const moved: VipDef = { ...CACHE, spec: { ...CACHE.spec, address: "192.0.2.53" } };
    await applyObject(admin, vipObject(moved), { fieldManager: MANAGER });
    const after = await planFor([WEB, DB, CACHE]);
    assert.deepEqual(
      after.nodes.map((p) => p.hash),
      before.nodes.map((p) => p.hash),
      "node.json does not change",
    );
    const changed = after.published.filter((p) => before.published.find((q) => q.name === p.name)?.hash !== p.hash);
    assert.deepEqual(
      changed.map((p) => p.published.virtualIPs),
      [["default/cache"]],
      "only the cache instance changes",
    );
    const nodeVersions = await nodeSecretVersions();
    const reloadsBefore = (await snapshot()).reloads;

    await writeInstanceSecret(changed[0]!.name, changed[0]!);

    await waitFor("the new address on one node, the old one on none", async () => {
      return (await holders(moved.spec.address)).length === 1 && (await holders(CACHE.spec.address)).length === 0;
    });
    for (const n of nodes.nodes) assert.equal(liveConfigOf(n), expectedConfig(after, n.name), `${n.name} runs the assembled config`);
    assert.deepEqual(
      (await snapshot()).reloads,
      reloadsBefore.map((r) => r + 1),
      "one reload per node",
    );
    assert.deepEqual(await nodeSecretVersions(), nodeVersions, "no node Secret was written");
    assert.ok(await waitFor(`ping ${moved.spec.address}`, () => pingFromClient(moved.spec.address), 10_000));
    CACHE.spec.address = moved.spec.address;
  });

  void test("an instance Secret deleted while node Secrets still name it: the agents wait and keep the last good config", async () => {
    const cacheKey = (await planFor([WEB, DB, CACHE])).published.find((p) => p.published.virtualIPs.includes("default/cache"))!.name;
    const before = await snapshot();
    const holder = await settledMaster(CACHE);

    await deleteInstanceSecret(cacheKey);

    await waitFor("every agent waiting", async () => (await waitingGauges()).every((v) => v === 1));
    for (const n of nodes.nodes) {
      const line = lastLog(n.name, "Waiting for the published plan");
      assert.deepEqual(line?.missing, [cacheKey], `${n.name} waits for ${cacheKey}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await snapshot(), before, "nothing installed or reloaded");
    assert.deepEqual(await holders(CACHE.spec.address), [holder], "keepalived still holds the address");

    // The operator's next complete plan (the VirtualIP gone) ends the wait.
    await admin.custom.deleteNamespacedCustomObject(GROUP, VERSION, "default", PLURAL, CACHE.name);
    const plan = await publishConfigs([WEB, DB]);
    await waitFor("every agent running the plan without cache", async () => {
      const waiting = await waitingGauges();
      return waiting.every((v) => v === 0) && nodes.nodes.every((n) => liveConfigOf(n) === expectedConfig(plan, n.name));
    });
    await waitFor(`${CACHE.spec.address} released`, async () => (await holders(CACHE.spec.address)).length === 0, 10_000);
    for (const n of nodes.nodes) assert.ok(agentLog(n.name).some((l) => l.message === "Stopped waiting for the published plan"));
  });

  void test("keepalived SIGKILLed: the leftover VIP is removed, keepalived restarts, the state is reported", async () => {
    const victim = await settledMaster(WEB);
    const pids = keepalivedPids(victim);
    assert.ok(pids.length >= 2, `keepalived processes in ${victim}: ${pids.join(",")}`);
    // Freeze first so no process can clean up on a parent-death signal, then kill them all.
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    assert.ok((await holders(WEB.spec.address)).includes(victim), "the frozen master still holds the VIP");
    for (const pid of pids) process.kill(pid, "SIGKILL");

    await waitFor("the leftover VIP removed from the killed master", async () => !(await holders(WEB.spec.address)).includes(victim) || undefined, 10_000);
    assert.ok(
      agentLog(victim).some((l) => l.message === "Removed leftover VIP" && l.address === WEB.spec.address),
      "the agent (not keepalived) removed it",
    );
    const newMaster = await waitFor("another node MASTER of web, the killed one BACKUP", async () => {
      const s = statesOf(await statusNodes(WEB.name));
      const m = Object.keys(s).find((k) => s[k] === "MASTER");
      return m && m !== victim && s[victim] === "BACKUP" ? m : undefined;
    });
    assert.deepEqual(await holders(WEB.spec.address), [newMaster]);
    const restarted = keepalivedPids(victim);
    assert.ok(restarted.length >= 2 && restarted.every((p) => !pids.includes(p)), "keepalived was restarted");
    assert.equal(metricValue(await metricsOf(victim), "keepalived_vip_agent_keepalived_restarts_total"), 1);
    assert.ok(
      agentLog(victim).some((l) => l.message === "Reported node status" && l.state === "FAULT"),
      "FAULT was reported after the crash",
    );
    assert.ok(await waitFor(`ping ${WEB.spec.address}`, () => pingFromClient(WEB.spec.address), 10_000));
    await settledMaster(DB);
  });

  void test("API server down for 20 s during a failover: keepalived keeps working and the status converges once it returns", async () => {
    const victim = await settledMaster(DB);
    await cp.stopApiServer();
    const outageStart = Date.now();
    let newHolder: string;
    try {
      const pids = keepalivedPids(victim);
      for (const pid of pids) process.kill(pid, "SIGSTOP");
      for (const pid of pids) process.kill(pid, "SIGKILL");
      newHolder = await waitFor(
        "a new holder of db's VIP during the outage",
        async () => {
          const h = await holders(DB.spec.address);
          return h.length === 1 && h[0] !== victim ? h[0] : undefined;
        },
        15_000,
      );
      assert.ok(await waitFor(`ping ${DB.spec.address} during the outage`, () => pingFromClient(DB.spec.address), 10_000));
      await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - outageStart))));
      assert.deepEqual(await holders(DB.spec.address), [newHolder], "still exactly one holder at the end of the outage");
    } finally {
      await cp.startApiServer();
    }
    const back = Date.now();
    await waitFor(
      "db status to show the new holder as the only MASTER and the victim as BACKUP",
      async () => {
        const s = statesOf(await statusNodes(DB.name));
        return s[newHolder] === "MASTER" && s[victim] === "BACKUP" && Object.values(s).filter((v) => v === "MASTER").length === 1;
      },
      20_000,
      200,
    );
    const convergedMs = Date.now() - back;
    outages.push({ from: outageStart, to: Date.now() });
    console.log(`Status converged ${convergedMs} ms after the API server returned`);
    assert.ok(convergedMs < 10_000, `status took ${convergedMs} ms to converge`);
  });

  void test("agent SIGTERM: the MASTER hands over (another node holds the VIP before it lets go) and the stopped node shows STOPPED", async () => {
    const victim = await settledMaster(WEB);
    const agent = agents.get(victim)!;
    const t0 = Date.now();
    const stopped = agent.stop(30_000);
    // Follow who holds the address until the victim has let go: never nobody (ADR 0018).
    const seen: string[][] = [];
    const taker = await waitFor(
      "the VIP on another node only",
      async () => {
        const h = await holders(WEB.spec.address);
        seen.push(h);
        return h.length === 1 && h[0] !== victim ? h[0] : undefined;
      },
      20_000,
      20,
    );
    const takeoverMs = Date.now() - t0;
    console.log(`VIP moved from ${victim} to ${taker} ${takeoverMs} ms after SIGTERM of the agent (${seen.length} samples)`);
    assert.deepEqual(
      seen.filter((h) => h.length === 0),
      [],
      "a sample in which no node held the VIP",
    );
    assert.ok(
      seen.some((h) => h.includes(victim) && h.includes(taker)),
      "the new MASTER held the VIP before the old one let go",
    );
    // About four advert intervals of 1 s and the agent's own steps; generous for a busy machine.
    assert.ok(takeoverMs < 10_000, `handover took ${takeoverMs} ms`);
    await stopped;
    assert.equal(agent.child.exitCode, 0, "the agent exits 0");
    assert.deepEqual(keepalivedPids(victim), [], "keepalived stopped with the agent");
    await waitFor(
      "STOPPED entries of the stopped node and the new MASTER",
      async () => {
        const web = statesOf(await statusNodes(WEB.name));
        const db = statesOf(await statusNodes(DB.name));
        return web[victim] === "STOPPED" && db[victim] === "STOPPED" && web[taker] === "MASTER";
      },
      10_000,
    );
    assert.ok(await pingFromClient(WEB.spec.address));
  });

  void test("an agent started while the API server is down runs the last good config, and reports once it returns", async () => {
    const node = nodes.nodes.find((n) => agents.get(n.name)?.child.exitCode !== null)!;
    await cp.stopApiServer();
    const outage = { from: Date.now(), to: Number.POSITIVE_INFINITY };
    outages.push(outage);
    try {
      startAgent(node);
      await waitFor(`keepalived running in ${node.name}`, () => Promise.resolve(keepalivedPids(node.name).length >= 2 || undefined), 15_000);
      await waitFor(
        `both instances BACKUP in ${node.name}'s metrics`,
        async () => {
          const text = await metricsOf(node.name);
          return metricValue(text, "keepalived_vip_agent_vrrp_state", { state: "BACKUP" }) === 2 || undefined;
        },
        15_000,
      );
      assert.ok(agentLog(node.name).some((l) => l.message === "Starting keepalived with the installed config"));
    } finally {
      await cp.startApiServer();
    }
    await waitFor(
      `${node.name} BACKUP again in both statuses`,
      async () => {
        const web = statesOf(await statusNodes(WEB.name));
        const db = statesOf(await statusNodes(DB.name));
        return web[node.name] === "BACKUP" && db[node.name] === "BACKUP";
      },
      20_000,
    );
    outage.to = Date.now();
    for (const def of [WEB, DB]) assert.equal((await holders(def.spec.address)).length, 1, `${def.name}: one holder`);
  });

  void test("a node dropped from a VirtualIP removes its own entry", async () => {
    const remaining = nodes.nodes.filter((n) => agents.get(n.name)?.child.exitCode === null).map((n) => n.name);
    const keep = remaining[0]!;
    const dropped = remaining[1]!;
    await applyObject(
      admin,
      vipObject({ ...DB, spec: { ...DB.spec, nodeSelector: { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: [dropped] }] } } }),
      { fieldManager: MANAGER },
    );
    await publishConfigs([WEB, DB]);
    await waitFor(
      `${dropped}'s entry gone from db`,
      async () => {
        const s = statesOf(await statusNodes(DB.name));
        return !(dropped in s) && keep in s;
      },
      15_000,
    );
  });
});
