// Liveness does not depend on the agents' clocks (ADR 0011), against a real
// API server: the test acts as two agents whose clocks are 60 s off (one
// behind, one ahead), writing their heartbeat Leases with skewed renewTimes
// and their status entries with skewed times. Both count as live while they
// renew, and each turns UNKNOWN about one lease duration after it stops,
// whatever its renewTime says.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { NodeStatus } from "../../../src/api/index.js";
import {
  conditionOf,
  createNode,
  createService,
  createVip,
  eventually,
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

const SKEW_MS = 60_000;
/** Each node's clock offset from the API server's and the operator's. */
const SKEW: Record<string, number> = { "node-behind": -SKEW_MS, "node-ahead": SKEW_MS };
const LEASE_SECONDS = 5;

let env: OperatorEnv;
let op: OperatorProcess;
let heartbeat: NodeJS.Timeout | undefined;
const alive = new Set(Object.keys(SKEW));

/** The node's entry with times on the node's own (skewed) clock. */
function entry(name: string, state: NodeStatus["state"]): NodeStatus {
  const at = new Date(Date.now() + (SKEW[name] ?? 0)).toISOString();
  return { name, state, priority: 100, since: at, lastReportTime: at };
}

function renew(node: string): Promise<void> {
  return renewAgentLease(env, node, { durationSeconds: LEASE_SECONDS, renewTime: Date.now() + (SKEW[node] ?? 0), iface: "eth0" });
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

const stateOf = (v: StoredVip | undefined, node: string): string | undefined => v?.status?.nodes?.find((n) => n.name === node)?.state;

before(async () => {
  env = await startOperatorEnv();
  let i = 0;
  for (const name of Object.keys(SKEW)) {
    await createNode(env, name, { ip: `192.0.2.${21 + i++}`, labels: { vip: "yes" } });
    await renew(name);
  }
  heartbeat = setInterval(() => {
    for (const n of alive) void renew(n).catch(() => undefined);
  }, 1000);
  await createService(env, "web");
  await createVip(env, "web", { service: "web", address: "192.0.2.60", virtualRouterId: 61, nodeSelector: { matchLabels: { vip: "yes" } } });
  op = await runOperator(env, { identity: "op-1" });
  await waitForReady(env, "web", "NoMaster");
});

after(async () => {
  if (heartbeat) clearInterval(heartbeat);
  await op?.stop();
  await env?.cp.stop();
});

void describe("agents whose clocks are 60 s off", () => {
  void test("both count as live while they renew: the one behind is master, neither turns UNKNOWN over several lease durations", async () => {
    await reportAsAgent(env, "web", entry("node-behind", "MASTER"));
    await reportAsAgent(env, "web", entry("node-ahead", "BACKUP"));
    const v = await vipWhere("master node-behind", (x) => x.status?.master === "node-behind");
    assert.equal(conditionOf(v, "Ready")?.reason, "Active");
    // Sample for three lease durations: a clock comparison would have made node-behind UNKNOWN at once.
    const until = Date.now() + 3 * LEASE_SECONDS * 1000;
    while (Date.now() < until) {
      const now = await readVip(env, "web");
      assert.equal(stateOf(now, "node-behind"), "MASTER", "node-behind stays MASTER");
      assert.equal(stateOf(now, "node-ahead"), "BACKUP", "node-ahead stays BACKUP");
      assert.equal(now?.status?.master, "node-behind");
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  void test("the node whose clock is ahead turns UNKNOWN soon after it stops renewing, not 60 s later", async () => {
    alive.delete("node-ahead");
    const stopped = Date.now();
    await vipWhere("node-ahead UNKNOWN", (x) => stateOf(x, "node-ahead") === "UNKNOWN", 30_000);
    const tookMs = Date.now() - stopped;
    assert.ok(tookMs < SKEW_MS / 2, `UNKNOWN after ${tookMs} ms, long before its renewTime + duration`);
    assert.equal(stateOf(await readVip(env, "web"), "node-behind"), "MASTER");
  });

  void test("the node whose clock is behind turns UNKNOWN when it stops renewing, and loses the master", async () => {
    alive.delete("node-behind");
    const v = await vipWhere("node-behind UNKNOWN and no master", (x) => stateOf(x, "node-behind") === "UNKNOWN" && x.status?.master === "", 30_000);
    assert.equal(conditionOf(v, "Ready")?.reason, "NoMaster");
  });
});
