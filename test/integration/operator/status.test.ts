// The operator's summary status from agent reports, against a real API
// server: the test acts as three agents (server-side apply under each node's
// field manager, heartbeat Leases) and checks master, failovers, SplitBrain,
// UNKNOWN for a silent node and entry removal for a departed one.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { GROUP, PLURAL, VERSION, agentFieldManager, type NodeStatus } from "../../../src/api/index.js";
import {
  APP_NS,
  conditionOf,
  createNode,
  createService,
  createVip,
  eventsFor,
  eventually,
  isoFromNow,
  labelNode,
  patchVipSpec,
  readVip,
  renewAgentLease,
  reportAsAgent,
  runOperator,
  startOperatorEnv,
  waitForReady,
  type OperatorEnv,
  type OperatorProcess,
  type StoredVip,
} from "./harness.js";

let env: OperatorEnv;
let op: OperatorProcess;
const NODES: [string, string][] = [
  ["node-a", "192.0.2.11"],
  ["node-b", "192.0.2.12"],
  ["node-c", "192.0.2.13"],
];
let heartbeat: NodeJS.Timeout | undefined;
/** Nodes whose agents the test keeps alive (Lease renewed every second, 5 s duration). */
const alive = new Set(NODES.map(([n]) => n));

function entry(name: string, state: NodeStatus["state"], sinceMs = -1000): NodeStatus {
  return { name, state, priority: 100, since: isoFromNow(sinceMs), lastReportTime: isoFromNow(0) };
}

async function vipWhere(what: string, fn: (v: StoredVip) => boolean, timeoutMs = 20_000): Promise<StoredVip> {
  return eventually(
    async () => {
      const v = await readVip(env, "web");
      return v && fn(v) ? v : undefined;
    },
    { what, timeoutMs },
  );
}

before(async () => {
  env = await startOperatorEnv();
  for (const [name, ip] of NODES) {
    await createNode(env, name, { ip, labels: { vip: "yes" } });
    await renewAgentLease(env, name, { durationSeconds: 5, iface: "eth0" });
  }
  heartbeat = setInterval(() => {
    for (const n of alive) void renewAgentLease(env, n, { durationSeconds: 5 }).catch(() => undefined);
  }, 1000);
  await createService(env, "web");
  await createVip(env, "web", { service: "web", address: "192.0.2.50", virtualRouterId: 51, nodeSelector: { matchLabels: { vip: "yes" } } });
  op = await runOperator(env, { identity: "op-1" });
  await waitForReady(env, "web", "NoMaster");
});

after(async () => {
  if (heartbeat) clearInterval(heartbeat);
  await op?.stop();
  await env?.cp.stop();
});

void describe("master and failovers", () => {
  void test("the live MASTER becomes master: Ready=Active, no failover, an Event", async () => {
    await reportAsAgent(env, "web", entry("node-a", "MASTER"));
    await reportAsAgent(env, "web", entry("node-b", "BACKUP"));
    await reportAsAgent(env, "web", entry("node-c", "BACKUP"));
    const v = await vipWhere("master node-a", (x) => x.status?.master === "node-a");
    assert.equal(conditionOf(v, "Ready")?.reason, "Active");
    assert.equal(conditionOf(v, "Ready")?.status, "True");
    assert.equal(v.status?.failovers, 0);
    assert.equal(v.status?.nodes?.length, 3);
    await eventually(async () => (await eventsFor(env, "web")).some((e) => e.reason === "MasterElected" && e.message.includes("node-a")), {
      what: "MasterElected Event",
    });
  });

  void test("MASTER moving from node-a to node-b shows at once, then counts one failover, keeps Ready's transition time, and records the move once", async () => {
    const before = await readVip(env, "web");
    // node-b first: in between both report MASTER (the newer shows), so Ready never passes through NoMaster.
    await reportAsAgent(env, "web", entry("node-b", "MASTER", 0));
    await reportAsAgent(env, "web", entry("node-a", "BACKUP", 0));
    await vipWhere("master node-b", (x) => x.status?.master === "node-b");
    // Counted once node-b has held it alone for 2 adverts + 1 s.
    const v = await vipWhere("one failover", (x) => x.status?.failovers === 1);
    assert.ok(v.status?.lastFailoverTime);
    assert.equal(conditionOf(v, "Ready")?.lastTransitionTime, conditionOf(before, "Ready")?.lastTransitionTime);
    await eventually(async () => (await eventsFor(env, "web")).some((e) => e.reason === "Failover" && e.message === "MASTER moved from node-a to node-b"), {
      what: "Failover Event",
    });
    const failoverEvents = (await eventsFor(env, "web")).filter((e) => e.reason === "Failover");
    assert.equal(
      failoverEvents.reduce((n, e) => n + e.count, 0),
      1,
      JSON.stringify(failoverEvents),
    );
  });

  void test("two MASTERs: the newer shows at once but no failover counts; SplitBrain only after 3 adverts plus a margin, and clears again", async () => {
    await reportAsAgent(env, "web", entry("node-c", "MASTER", 0));
    const v = await vipWhere("master node-c", (x) => x.status?.master === "node-c");
    assert.equal(conditionOf(v, "SplitBrain")?.status, "False");
    assert.equal(v.status?.failovers, 1, "a double claim moves no holder");
    // advert 1 s: 3 s + 2 s margin after both were MASTER.
    const sb = await vipWhere("SplitBrain=True", (x) => conditionOf(x, "SplitBrain")?.status === "True", 15_000);
    assert.equal(conditionOf(sb, "SplitBrain")?.reason, "MultipleMasters");
    await eventually(async () => (await eventsFor(env, "web")).some((e) => e.reason === "SplitBrain" && e.type === "Warning"), { what: "SplitBrain Event" });
    await reportAsAgent(env, "web", entry("node-b", "BACKUP", 0));
    const healed = await vipWhere("SplitBrain=False", (x) => conditionOf(x, "SplitBrain")?.status === "False");
    assert.equal(healed.status?.master, "node-c");
    assert.notEqual(conditionOf(healed, "SplitBrain")?.lastTransitionTime, conditionOf(sb, "SplitBrain")?.lastTransitionTime);
    // node-c alone now: one failover from node-b, once it settled.
    const moved = await vipWhere("two failovers", (x) => x.status?.failovers === 2);
    assert.equal(moved.status?.master, "node-c");
    await eventually(async () => (await eventsFor(env, "web")).some((e) => e.reason === "Failover" && e.message === "MASTER moved from node-b to node-c"), {
      what: "Failover Event",
    });
  });
});

void describe("silent and departed nodes", () => {
  /** Who manages the status entry of `node` (from managedFields). */
  async function entryManagers(node: string): Promise<string[]> {
    const res = await env.admin.custom.getNamespacedCustomObject(GROUP, VERSION, APP_NS, PLURAL, "web");
    const mf = (res.body as { metadata?: { managedFields?: { manager: string; fieldsV1?: Record<string, unknown> }[] } }).metadata?.managedFields ?? [];
    return mf.filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes(`{\\"name\\":\\"${node}\\"}`)).map((m) => m.manager);
  }

  void test("an expired agent Lease turns the node UNKNOWN under the node's own field manager, and it cannot be master", async () => {
    alive.delete("node-c");
    // Two writes: the UNKNOWN entry first, then the summary; wait for both.
    const v = await vipWhere(
      "node-c UNKNOWN and no master",
      (x) => x.status?.nodes?.find((n) => n.name === "node-c")?.state === "UNKNOWN" && x.status.master === "",
      20_000,
    );
    assert.equal(v.status?.master, "");
    assert.equal(conditionOf(v, "Ready")?.reason, "NoMaster");
    assert.deepEqual(await entryManagers("node-c"), [agentFieldManager("node-c")]);
  });

  void test("the agent's next report simply replaces the UNKNOWN entry", async () => {
    alive.add("node-c");
    await renewAgentLease(env, "node-c", { durationSeconds: 5 });
    await reportAsAgent(env, "web", entry("node-c", "MASTER", 0));
    const v = await vipWhere("node-c MASTER again", (x) => x.status?.master === "node-c");
    assert.equal(v.status?.nodes?.find((n) => n.name === "node-c")?.state, "MASTER");
    assert.deepEqual(await entryManagers("node-c"), [agentFieldManager("node-c")]);
  });

  void test("a node that no longer takes part loses its entry", async () => {
    await labelNode(env, "node-a", { vip: null });
    const v = await vipWhere("node-a entry removed", (x) => !(x.status?.nodes ?? []).some((n) => n.name === "node-a"));
    assert.deepEqual(
      (v.status?.nodes ?? []).map((n) => n.name),
      ["node-b", "node-c"],
    );
    assert.deepEqual(await entryManagers("node-a"), []);
  });

  void test("a spec change is acted on: observedGeneration follows the generation", async () => {
    await patchVipSpec(env, "web", { vrrp: { advertisementInterval: "2s" } });
    const v = await vipWhere("observedGeneration current", (x) => x.status?.observedGeneration === x.metadata.generation && (x.metadata.generation ?? 0) > 1);
    assert.equal(conditionOf(v, "Ready")?.reason, "Active");
  });
});
