// A 20 s API server outage under a running operator (a child process, so its
// pid can be watched): it keeps running, /readyz says not ready while the API
// server is away and ready again after, the leader steps down and leads again
// in the same process, and a VirtualIP change made after the outage is published.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { sleep } from "../../support/process.js";
import {
  createNode,
  createService,
  createVip,
  eventually,
  leaderHolder,
  patchVipSpec,
  readNodeConfig,
  runOperator,
  startOperatorEnv,
  waitForReady,
  type OperatorEnv,
  type OperatorProcess,
} from "./harness.js";

const OUTAGE_MS = 20_000;

let env: OperatorEnv;
let op: OperatorProcess | undefined;

before(async () => {
  env = await startOperatorEnv();
  await createNode(env, "node-a", { ip: "192.0.2.11" });
  await createService(env, "web");
  // Client-go's default timing (15 s lease, 10 s renew deadline, 2 s retry): the outage outlasts the renew deadline.
  op = await runOperator(env, { identity: "op-1" });
});

after(async () => {
  await op?.stop();
  await env?.cp.stop();
});

void describe("API server outage", () => {
  void test(
    "20 s without the API server: same process, not ready during, ready after, leading again, and a change made after it is published",
    { timeout: 180_000 },
    async () => {
      assert.ok(op);
      await createVip(env, "web", { service: "web", address: "192.0.2.50", virtualRouterId: 51 });
      await waitForReady(env, "web", "NoMaster");
      await eventually(async () => (await readNodeConfig(env, "node-a"))?.config.includes("192.0.2.50"), { what: "node-a's config with 192.0.2.50" });
      assert.equal(await leaderHolder(env), "op-1");
      const pid = op.child.pid;
      assert.ok(pid);

      await env.cp.stopApiServer();
      const stoppedAt = Date.now();
      await eventually(async () => !(await op!.ready()), { timeoutMs: 10_000, intervalMs: 100, what: "/readyz not ready while the API server is away" });
      const unreadyAfterMs = Date.now() - stoppedAt;
      let readyDuring = 0;
      while (Date.now() - stoppedAt < OUTAGE_MS) {
        assert.equal(op.exited(), false, `the operator exited during the outage:\n${op.log()}`);
        if (await op.ready()) readyDuring++;
        await sleep(500);
      }
      assert.equal(readyDuring, 0, "/readyz said ready while the API server was away");
      await env.cp.startApiServer();
      const startedAt = Date.now();

      await eventually(() => op!.ready(), { timeoutMs: 60_000, intervalMs: 200, what: "/readyz ready after the outage" });
      console.log(
        `# outage: /readyz not ready ${unreadyAfterMs} ms after the API server exited, ready again ${Date.now() - startedAt} ms after the API server was ready`,
      );
      assert.equal(op.exited(), false);
      assert.equal(op.child.pid, pid);
      // The outage outlasted the renew deadline: the leader stepped down, and leads again without a restart.
      await eventually(async () => ((await op!.metrics()).get("keepalived_vip_operator_leader") ?? 0) === 1, { timeoutMs: 30_000, what: "leading again" });
      const log = readFileSync(op.logFile, "utf8");
      assert.match(log, /"message":"Lost leadership, stopped writing; rejoining the election"/);
      assert.equal((log.match(/"message":"Became the leader"/g) ?? []).length, 2, "led, stepped down, led again");

      await patchVipSpec(env, "web", { address: "192.0.2.60" });
      await eventually(
        async () => {
          const cfg = (await readNodeConfig(env, "node-a"))?.config ?? "";
          return cfg.includes("192.0.2.60") && !cfg.includes("192.0.2.50");
        },
        { timeoutMs: 30_000, what: "node-a's config with the new address" },
      );
      console.log(`# outage: the change made after the outage published ${Date.now() - startedAt} ms after the API server was ready`);
      await waitForReady(env, "web", "NoMaster");
      assert.equal(op.child.pid, pid);
      assert.equal(op.exited(), false);
    },
  );
});
