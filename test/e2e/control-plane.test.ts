// End to end, the control plane failing under a running VIP: with the API
// server gone for 20 s the VIP keeps answering and still fails over, and
// status catches up when it returns; killing the operator leader hands over
// to the standby without moving any VIP.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startEnv, type Env } from "./env.js";
import { describeStatus, injectFault, waitFor, waitForSteadyState } from "./failover.js";
import { virtualIPManifest, type VirtualIPSpecOptions } from "./objects.js";
import { startProbe, type Probe } from "./probe.js";
import { monotonicNow } from "../support/clock.js";

const STEADY_MS = 60_000;
const OUTAGE_MS = 20_000;

const vip: VirtualIPSpecOptions = { name: "steady", address: "192.0.2.80", virtualRouterId: 80, advertisementInterval: "200ms" };

let env: Env;
let probe: Probe;

before(async () => {
  env = await startEnv();
  await env.apply(virtualIPManifest(vip));
  await waitForSteadyState(env, { name: vip.name, address: vip.address, timeoutMs: STEADY_MS });
  probe = await startProbe(env, vip.address, { intervalMs: 20, timeoutMs: 200 });
});

after(async () => {
  await probe?.stop();
  await env?.stop();
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

void describe("an API server outage", () => {
  void test("the VIP keeps answering for 20 s without the API server, fails over meanwhile, and status catches up", { timeout: 240_000 }, async (t) => {
    const from = await waitForSteadyState(env, { name: vip.name, address: vip.address, timeoutMs: STEADY_MS });
    const failoversBefore = (await env.getVirtualIP(vip.name))?.status?.failovers ?? 0;

    const down = monotonicNow();
    await env.cp.stopApiServer();
    let up = 0;
    try {
      await sleep(3_000);
      const faultAt = await injectFault(env, "keepalived", from);
      const answer = await waitFor(
        "another node answering at the VIP without the API server",
        () => Promise.resolve(probe.samples.find((x) => x.e > faultAt && !x.r.startsWith("!") && x.r !== from)),
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      assert.notEqual(answer.r, from);
      await sleep(Math.max(0, down + OUTAGE_MS - monotonicNow()));
    } finally {
      await env.cp.startApiServer();
      up = monotonicNow();
    }

    // Throughout the outage the VIP answered, but for the one failover gap.
    t.diagnostic(`probe during the outage: ${probe.describe(down, up)}`);
    const silence = probe.longestSilence(down, up);
    assert.ok(silence < 3_000, `the VIP was silent for ${silence} ms during the outage: ${probe.describe(down, up)}`);
    const answering = Object.keys(probe.answersBetween(up - 2_000, up));
    assert.equal(answering.length, 1, probe.describe(up - 2_000, up));
    const now = answering[0]!;
    assert.notEqual(now, from);

    // Back: status names the node that holds the VIP, the crashed node is BACKUP again.
    await waitForSteadyState(env, { name: vip.name, address: vip.address, master: now, timeoutMs: 90_000 });
    // Counted once the new holder has held the VIP alone for 2 adverts + 1 s (docs/operator.md).
    let status = await env.getVirtualIP(vip.name);
    await waitFor(
      "the failover to be counted",
      async () => {
        status = await env.getVirtualIP(vip.name);
        return (status?.status?.failovers ?? 0) > failoversBefore ? true : undefined;
      },
      { timeoutMs: 15_000 },
    ).catch(() => assert.fail(describeStatus(status)));
  });
});

void describe("the operator leader", () => {
  void test("when it is killed the standby takes over and no VIP moves", { timeout: 180_000 }, async () => {
    const master = await waitForSteadyState(env, { name: vip.name, address: vip.address, timeoutMs: STEADY_MS });
    const failoversBefore = (await env.getVirtualIP(vip.name))?.status?.failovers ?? 0;
    const leaderId = await waitFor("an operator leader", () => env.leader(), { timeoutMs: 30_000 });
    const leader = env.operators.find((o) => o.identity === leaderId);
    assert.ok(leader, `leader ${leaderId} is none of ${env.operators.map((o) => o.identity).join(", ")}`);
    const standby = env.operators.find((o) => o !== leader)!;
    // The API outage above makes replicas exit (a watch error ends the process) and restart with backoff.
    await waitFor("the standby replica to run", () => Promise.resolve(standby.running() ? true : undefined), { timeoutMs: 120_000, intervalMs: 200 });

    const t0 = monotonicNow();
    await leader.kill("SIGKILL");
    try {
      const next = await waitFor("the standby to hold the leader Lease", async () => ((await env.leader()) === standby.identity ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      assert.ok(next);
      // The new leader acts: a new VirtualIP gets its node configs and a MASTER.
      const second: VirtualIPSpecOptions = { name: "after-handover", address: "192.0.2.81", virtualRouterId: 81, advertisementInterval: "200ms" };
      await env.apply(virtualIPManifest(second));
      await waitForSteadyState(env, { name: second.name, address: second.address, timeoutMs: STEADY_MS });
      const t1 = monotonicNow();
      assert.deepEqual(Object.keys(probe.answersBetween(t0, t1)), [master], probe.describe(t0, t1));
      assert.ok(probe.longestSilence(t0, t1) < 1_000, `the VIP was silent for ${probe.longestSilence(t0, t1)} ms: ${probe.describe(t0, t1)}`);
      const status = await env.getVirtualIP(vip.name);
      assert.equal(status?.status?.master, master, describeStatus(status));
      assert.equal(status?.status?.failovers ?? 0, failoversBefore, describeStatus(status));
    } finally {
      leader.start();
    }
  });
});
