// Per-instance isolation, safe leftover cleanup and the notify FIFO, for
// real: two network-namespace nodes running `keepalived-vip agent` (and so a
// real keepalived) with Pod-bound agent tokens against a real kube-apiserver.
// The published plan is written here from planCluster output, as the
// operator writes it; the plan is rendered without the agents' reports, so a
// VirtualIP naming an interface no node has reaches the agents, as it does
// while their reports are not in yet (ADR 0016).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_INSTANCE,
  ANNOTATION_INTERFACES,
  ANNOTATION_IPVS,
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
import { applyObject, createKubeClients, type KubeClients } from "../../../src/kube/client.js";
import { planCluster, type ClusterPlan, type ClusterView } from "../../../src/render/index.js";
import {
  createNodes,
  installProjectCRDs,
  kubectl,
  NODE_SANS,
  podBoundKubeconfig,
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
const kubeconfigs = new Map<string, string>();
const agents = new Map<string, NodeProcess>();

interface VipDef {
  name: string;
  spec: Partial<VirtualIPSpecInput> & { address: string; virtualRouterId: number };
}

const WEB: VipDef = {
  name: "web",
  spec: { address: "192.0.2.50", virtualRouterId: 51, vrrp: { preempt: true, priorities: { "node-a": 200, "node-b": 100 } } },
};
/** Names an interface no node has. */
const BAD: VipDef = { name: "bad", spec: { address: "192.0.2.51", virtualRouterId: 52, interface: "eth9" } };
/** Created after BAD, on the same nodes. */
const DB: VipDef = { name: "db", spec: { address: "192.0.2.53", virtualRouterId: 53 } };
/**
 * Their addresses are on node-a before keepalived starts, with the prefix of
 * the node's own addresses: a secondary /24 on the node network and a /24 of
 * another network (node-b is their MASTER).
 */
const SIDE: VipDef = {
  name: "side",
  spec: { address: "192.0.2.90", virtualRouterId: 54, vrrp: { preempt: true, priorities: { "node-a": 100, "node-b": 200 } } },
};
const HOSTNET: VipDef = {
  name: "hostnet",
  spec: { address: "198.51.100.5", virtualRouterId: 55, vrrp: { preempt: true, priorities: { "node-a": 100, "node-b": 200 } } },
};
const PREEXISTING = ["192.0.2.90/24", "198.51.100.5/24"];

const defs = new Map<string, VipDef>();

function vipObject(def: VipDef): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: def.name, namespace: "default" },
    spec: { serviceRef: { name: def.name }, forwarding: "kube-proxy", ...def.spec },
  };
}

async function applyVip(def: VipDef): Promise<void> {
  defs.set(def.name, def);
  await applyObject(admin, vipObject(def), { fieldManager: MANAGER });
}

async function readVips(): Promise<VirtualIP[]> {
  const out: VirtualIP[] = [];
  for (const d of defs.values()) {
    const res = await admin.custom.getNamespacedCustomObject(GROUP, VERSION, "default", PLURAL, d.name);
    const parsed = parseVirtualIP(res.body);
    if (!parsed.ok) throw new Error(parsed.error);
    out.push(parsed.value);
  }
  return out;
}

function clusterView(vips: VirtualIP[]): ClusterView {
  return {
    virtualIPs: vips,
    nodes: nodes.nodes.map((n) => ({ metadata: { name: n.name }, status: { addresses: [{ type: "InternalIP", address: n.ipv4 }] } })),
    services: vips.map((v) => ({ metadata: { name: v.spec.serviceRef.name, namespace: "default" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } })),
    endpointSlices: [],
    secrets: [],
    nodeInterfaces: {},
    pools: [testPool()],
  };
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

async function writeSecret(name: string, component: string, annotations: Record<string, string>, key: string, json: string): Promise<void> {
  await applyObject(
    admin,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: NS, labels: { [LABEL_COMPONENT]: component, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE }, annotations },
      type: "Opaque",
      data: { [key]: b64(json) },
    },
    { fieldManager: MANAGER },
  );
}

/** Plans the stored VirtualIPs and writes the whole plan as the operator does. */
async function publish(): Promise<ClusterPlan> {
  const plan = planCluster(clusterView(await readVips()));
  assert.deepEqual(plan.problems, [], "the test view renders without problems");
  for (const p of plan.published)
    await writeSecret(
      instanceSecretName(p.name),
      COMPONENT_INSTANCE_CONFIG,
      { [ANNOTATION_INSTANCE]: p.name, [ANNOTATION_CONFIG_HASH]: p.hash },
      SECRET_KEY_INSTANCE,
      p.json,
    );
  for (const p of plan.nodes)
    await writeSecret(
      nodeConfigSecretName(p.node),
      COMPONENT_NODE_CONFIG,
      { [ANNOTATION_NODE]: p.node, [ANNOTATION_CONFIG_HASH]: p.hash },
      SECRET_KEY_NODE,
      p.json,
    );
  return plan;
}

async function entries(name: string): Promise<NodeStatus[]> {
  const res = await admin.custom.getNamespacedCustomObject(GROUP, VERSION, "default", PLURAL, name);
  return [...((res.body as { status?: { nodes?: NodeStatus[] } }).status?.nodes ?? [])].sort((a, b) => a.name.localeCompare(b.name));
}

/** "address/prefix" of every address on a node's eth0. */
async function addressesOn(node: NetNode): Promise<string[]> {
  const res = await runCommand("ip", ["-n", node.netns, "-j", "addr", "show", "dev", "eth0"]);
  const links = JSON.parse(res.stdout) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
  return links.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

/** Nodes holding `address` as a VIP (node-a's pre-existing addresses do not count). */
async function holders(address: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes.nodes) {
    const a = `${address}/32`;
    if (n.name === "node-a" && PREEXISTING.includes(a)) continue;
    if ((await addressesOn(n)).includes(a)) out.push(n.name);
  }
  return out;
}

/** Waits for one MASTER in the status whose node alone holds the address. */
async function settledMaster(def: VipDef): Promise<string> {
  return waitFor(`${def.name} settled on one MASTER`, async () => {
    const masters = (await entries(def.name)).filter((e) => e.state === "MASTER").map((e) => e.name);
    const h = await holders(def.spec.address);
    return masters.length === 1 && h.length === 1 && h[0] === masters[0] ? masters[0] : undefined;
  });
}

function node(name: string): NetNode {
  const n = nodes.nodes.find((x) => x.name === name);
  assert.ok(n, name);
  return n;
}

function agentLog(name: string): Array<Record<string, unknown>> {
  return readJsonLog(agents.get(name)?.logFile);
}

function keepalivedPids(name: string): number[] {
  return pidsOf(nodes, name);
}

function liveConfig(n: NetNode): string {
  return readFileSync(join(n.runtimeDir, "keepalived.conf"), "utf8");
}

async function eventsOf(name: string): Promise<string[]> {
  const res = await admin.core.listNamespacedEvent("default", undefined, undefined, undefined, "reason=ConfigTestFailed");
  return res.body.items.filter((e) => e.involvedObject.name === name).map((e) => e.message ?? "");
}

function startAgent(n: NetNode): void {
  const proc = nodes.spawn(
    n,
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO_ROOT, "src/main.ts"),
      "agent",
      "--kubeconfig",
      kubeconfigs.get(n.name) ?? "",
      "--keepalived-path",
      "/usr/sbin/keepalived",
      "--heartbeat-interval",
      "1s",
      "--lease-duration",
      "5s",
    ],
    { env: { ...process.env, NODE_NAME: n.name, POD_NAMESPACE: NS, HOST_IP: n.ipv4, LOG_LEVEL: "info" } },
  );
  agents.set(n.name, proc);
}

before(async () => {
  cp = await startControlPlane({ extraSANs: [...NODE_SANS] });
  nodes = await createNodes({ count: 2, hostPorts: [cp.port] });
  admin = createKubeClients({ kubeconfig: cp.kubeconfigPath });
  await installProjectCRDs(cp);
  await cp.ensureNamespace(NS);
  const rbac = readdirSync(join(REPO_ROOT, "config/rbac"))
    .filter((f) => f.startsWith("agent_") && f.endsWith(".yaml"))
    .map((f) => readFileSync(join(REPO_ROOT, "config/rbac", f), "utf8").replaceAll("keepalived-vip-nodes", NS))
    .join("\n---\n");
  await kubectl(cp, ["apply", "-f", "-"], { input: rbac });
  for (const n of nodes.nodes) {
    await admin.core.createNode({ metadata: { name: n.name } });
    kubeconfigs.set(n.name, await podBoundKubeconfig(cp, { namespace: NS, serviceAccount: SA, node: n.name, site: "node" }));
  }
  // Addresses node-a had before keepalived ever started there.
  for (const a of PREEXISTING) await nodes.exec("node-a", "ip", ["addr", "add", a, "dev", "eth0"]);
  for (const def of [WEB, BAD, SIDE, HOSTNET]) await applyVip(def);
  await publish();
});

after(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop(2000)));
  await nodes?.destroy();
  await cp?.stop();
});

void describe("per-instance isolation with real keepalived", () => {
  void test("a VirtualIP on a missing interface is refused on its own: the others run, its entries say why", async () => {
    // node-b first, so that node-a never holds the addresses it had before (keepalived would take them as its own).
    startAgent(node("node-b"));
    for (const def of [SIDE, HOSTNET]) assert.equal(await settledMaster(def), "node-b");
    startAgent(node("node-a"));
    await waitFor("web on node-a (priority 200, preempt)", async () => (await settledMaster(WEB)) === "node-a" || undefined);
    const bad = await waitFor("both nodes report bad as refused", async () => {
      const e = await entries(BAD.name);
      return e.length === 2 && e.every((x) => x.state === "FAULT" && x.configRejected) ? e : undefined;
    });
    for (const e of bad) {
      assert.match(
        e.configRejected ?? "",
        /^spec\.interface: keepalived refused VRRP instance \S+: .*interface eth9 .*doesn't exist.*; it does not run on this node$/,
      );
      assert.ok((e.configRejected ?? "").length <= 1024);
    }
    for (const n of nodes.nodes) {
      assert.doesNotMatch(liveConfig(n), /eth9/, `${n.name} runs without the refused instance`);
      assert.match(liveConfig(n), /192\.0\.2\.50/);
    }
    for (const def of [WEB, SIDE, HOSTNET])
      for (const e of await entries(def.name)) assert.equal(e.configRejected, undefined, `${def.name}/${e.name} carries no refusal`);
    await waitFor("an Event on bad naming the instance", async () =>
      (await eventsOf(BAD.name)).some((m) => /refused VRRP instance \S+ \(spec\.interface\): .*eth9/.test(m)),
    );
    assert.deepEqual(await eventsOf(WEB.name), [], "no Event on web");
    assert.deepEqual(await holders(BAD.spec.address), []);
  });

  void test("a second VirtualIP created afterwards on the same nodes goes live; web is not disturbed", async () => {
    const webSince = (await entries(WEB.name)).find((e) => e.state === "MASTER")?.since;
    await applyVip(DB);
    await publish();
    await settledMaster(DB);
    const bad = await entries(BAD.name);
    assert.ok(
      bad.every((e) => e.state === "FAULT" && e.configRejected),
      "bad is still refused",
    );
    assert.equal((await entries(WEB.name)).find((e) => e.state === "MASTER")?.since, webSince, "web had no transition");
    const tests = agentLog("node-a").filter((l) => l.message === "Judged VRRP instances one by one");
    assert.ok(tests.length >= 1, "node-a judged the instances one by one at least once");
  });

  void test("an instance that turns bad keeps its last good version running; fixing it clears the refusal", async () => {
    const master = await settledMaster(DB);
    await applyVip({ ...DB, spec: { ...DB.spec, interface: "eth8" } });
    await publish();
    const refused = await waitFor("db refused on both nodes, still running", async () => {
      const e = await entries(DB.name);
      return e.length === 2 && e.every((x) => (x.configRejected ?? "").includes("the last good version keeps running")) ? e : undefined;
    });
    assert.deepEqual(refused.map((e) => e.state).sort(), ["BACKUP", "MASTER"], "the last good version keeps its states");
    assert.deepEqual(await holders(DB.spec.address), [master], "the address stays where it was");
    for (const n of nodes.nodes) assert.doesNotMatch(liveConfig(n), /eth8/);

    await applyVip(DB);
    await publish();
    await waitFor("db's refusal cleared", async () => {
      const e = await entries(DB.name);
      return e.length === 2 && e.every((x) => x.configRejected === undefined);
    });
    assert.deepEqual(await holders(DB.spec.address), [master]);
  });

  void test("each agent publishes its interfaces and whether it has IPVS on its Lease", async () => {
    for (const n of nodes.nodes) {
      const lease = await admin.coordination.readNamespacedLease(agentLeaseName(n.name), NS);
      const annotations = lease.body.metadata?.annotations ?? {};
      assert.deepEqual(annotations[ANNOTATION_INTERFACES]?.split(","), ["eth0", "lo"]);
      assert.match(annotations[ANNOTATION_IPVS] ?? "", /^(true|false)$/);
    }
  });
});

void describe("leftover cleanup after a keepalived crash", () => {
  void test("removes the VIP keepalived added, never an address that was there before nor the node's own /24", async () => {
    const victim = node("node-a");
    assert.equal(await settledMaster(WEB), "node-a");
    const before = await addressesOn(victim);
    for (const a of PREEXISTING) assert.ok(before.includes(a), `${a} on node-a before the crash`);
    const pids = keepalivedPids("node-a");
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    for (const pid of pids) process.kill(pid, "SIGKILL");
    await waitFor("web's VIP removed from node-a", async () => !(await addressesOn(victim)).includes(`${WEB.spec.address}/32`));
    const after = await addressesOn(victim);
    for (const a of PREEXISTING) assert.ok(after.includes(a), `${a} is still on node-a`);
    assert.ok(after.includes(`${victim.ipv4}/24`), "the host address is still there");
    const removed = agentLog("node-a")
      .filter((l) => l.message === "Removed leftover VIP")
      .map((l) => l.address);
    assert.ok(removed.includes(WEB.spec.address));
    for (const a of [SIDE.spec.address, HOSTNET.spec.address]) assert.ok(!removed.includes(a), `${a} was not removed`);
    assert.ok(existsSync(join(victim.runtimeDir, "addresses-before-keepalived.json")), "the snapshot is kept in the runtime directory");
    await waitFor("keepalived restarted on node-a", () => Promise.resolve(keepalivedPids("node-a").length >= 2 || undefined), 15_000);
    await settledMaster(WEB);
    for (const a of PREEXISTING) assert.ok((await addressesOn(victim)).includes(a), `${a} is still on node-a after the restart`);
  });
});

void describe("notify FIFO", () => {
  void test("a removed FIFO is made again and keepalived told (SIGHUP): later transitions are reported", async () => {
    const holder = await settledMaster(DB);
    const other = nodes.nodes.find((n) => n.name !== holder) as NetNode;
    const fifo = join(other.runtimeDir, "notify.fifo");
    rmSync(fifo);
    await waitFor("the agent made the FIFO again", () => Promise.resolve(lstatSync(fifo, { throwIfNoEntry: false })?.isFIFO() || undefined), 15_000);
    await new Promise((r) => setTimeout(r, 2000));
    // A transition on `other`, seen only through the new FIFO: the holder's keepalived stops.
    const pids = keepalivedPids(holder);
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    try {
      await waitFor(`${other.name} reported MASTER of db`, async () => (await entries(DB.name)).find((e) => e.name === other.name)?.state === "MASTER", 20_000);
    } finally {
      for (const pid of pids) process.kill(pid, "SIGCONT");
    }
    assert.ok(agentLog(other.name).some((l) => l.message === "Sent SIGHUP to keepalived to reopen the notify FIFO"));
  });
});
