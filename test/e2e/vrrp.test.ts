// End to end, VRRP behaviour across VirtualIPs on three simulated nodes:
// preemption by priority, VirtualIPs sharing a router id moving together
// while one with its own id stays, edits that cause no failover elsewhere,
// and an IPv6 VIP (VRRPv3) failing over like an IPv4 one.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startEnv, type Env } from "./env.js";
import { holderSettleMs } from "../../src/operator/holder.js";
import { describeStatus, measureFailover, nodeStates, waitFor, waitForSteadyState } from "./failover.js";
import { sampleVirtualIP, virtualIPManifest, type VirtualIPSpecOptions } from "./objects.js";
import { startProbe, watchStatus, type Probe } from "./probe.js";
import { monotonicNow } from "../support/clock.js";

const STEADY_MS = 60_000;

let env: Env;
const probes: Probe[] = [];

before(async () => {
  env = await startEnv();
});

after(async () => {
  await Promise.allSettled(probes.map((p) => p.stop()));
  await env?.stop();
});

async function probeOf(address: string): Promise<Probe> {
  const p = await startProbe(env, address, { intervalMs: 20, timeoutMs: 200 });
  probes.push(p);
  return p;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function failovers(name: string): Promise<number> {
  return (await env.getVirtualIP(name))?.status?.failovers ?? 0;
}

/**
 * Waits until each probe has heard only its node for a whole second, then the
 * holder settle time (two adverts plus 1 s, ADR 0015): a move that ended just
 * before (a preemption at start or after a link came back) is then counted and
 * answered for, and cannot read as one caused by what the test does next.
 */
async function settled(expect: readonly (readonly [Probe, string])[], advertMs: number): Promise<void> {
  await waitFor(
    `${expect.map(([p, node]) => `${p.address} on ${node}`).join(", ")} for a whole second`,
    () => {
      const t = monotonicNow();
      return Promise.resolve(
        expect.every(([p, node]) => p.longestSilence(t - 1_000, t) < 200 && Object.keys(p.answersBetween(t - 1_000, t)).join() === node) ? true : undefined,
      );
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  await sleep(holderSettleMs(advertMs) + 1_000);
}

void describe("preempt: true with priorities", () => {
  const vip: VirtualIPSpecOptions = {
    name: "preferred",
    address: "192.0.2.61",
    virtualRouterId: 61,
    advertisementInterval: "200ms",
    preempt: true,
    priorities: { "node-b": 200 },
  };

  void test("the preferred node takes the VIP back when it returns", { timeout: 180_000 }, async () => {
    await env.apply(virtualIPManifest(vip));
    await waitForSteadyState(env, { name: vip.name, address: vip.address, master: "node-b", timeoutMs: STEADY_MS });
    const probe = await probeOf(vip.address);
    const watch = await watchStatus(env, vip.name);
    try {
      try {
        const r = await measureFailover(env, { fault: "link", from: "node-b", probe, watch, timeoutMs: 20_000 });
        assert.notEqual(r.answeredBy, "node-b");
        assert.notEqual(r.statusMaster, "node-b");
        await waitForSteadyState(env, { name: vip.name, address: vip.address, nodes: ["node-a", "node-c"], timeoutMs: STEADY_MS });
      } catch (err) {
        await env.linkUp("node-b");
        throw err;
      }
      const back = monotonicNow();
      await env.linkUp("node-b");
      await probe.waitForAnswerFrom("node-b", back, 20_000);
      await watch.waitForMaster("node-b", back, 30_000);
      await waitForSteadyState(env, { name: vip.name, address: vip.address, master: "node-b", timeoutMs: STEADY_MS });
      const status = await env.getVirtualIP(vip.name);
      assert.deepEqual(nodeStates(status), { "node-a": "BACKUP", "node-b": "MASTER", "node-c": "BACKUP" }, describeStatus(status));
    } finally {
      watch.stop();
    }
  });
});

void describe("VirtualIPs sharing a router id", () => {
  // preempt with priorities makes the first MASTERs certain: the group on node-a, the solo on node-c.
  const shared = (name: string, address: string, interval = "200ms"): VirtualIPSpecOptions => ({
    name,
    address,
    virtualRouterId: 71,
    advertisementInterval: interval,
    preempt: true,
    priorities: { "node-a": 150 },
  });
  const shared1 = shared("shared-1", "192.0.2.71");
  const shared2 = shared("shared-2", "192.0.2.72");
  const solo: VirtualIPSpecOptions = {
    name: "solo",
    address: "192.0.2.73",
    virtualRouterId: 73,
    advertisementInterval: "200ms",
    preempt: true,
    priorities: { "node-c": 150 },
  };
  let probe1: Probe | undefined;
  let probe2: Probe | undefined;
  let probeSolo: Probe | undefined;

  void test("move together, while a VirtualIP with its own router id moves alone", { timeout: 180_000 }, async () => {
    await env.apply([shared1, shared2, solo].map(virtualIPManifest).join("\n"));
    await waitForSteadyState(env, { name: shared1.name, address: shared1.address, master: "node-a", timeoutMs: STEADY_MS });
    await waitForSteadyState(env, { name: shared2.name, address: shared2.address, master: "node-a", timeoutMs: STEADY_MS });
    await waitForSteadyState(env, { name: solo.name, address: solo.address, master: "node-c", timeoutMs: STEADY_MS });
    probe1 = await probeOf(shared1.address);
    probe2 = await probeOf(shared2.address);
    probeSolo = await probeOf(solo.address);
    await settled(
      [
        [probe1, "node-a"],
        [probe2, "node-a"],
        [probeSolo, "node-c"],
      ],
      200,
    );
    const watch1 = await watchStatus(env, shared1.name);
    const watch2 = await watchStatus(env, shared2.name);
    const soloFailovers = await failovers(solo.name);
    try {
      // node-a loses its link: the group leaves it; the solo VirtualIP on node-c must not move.
      try {
        const r = await measureFailover(env, { fault: "link", from: "node-a", probe: probe1, watch: watch1, timeoutMs: 20_000 });
        assert.notEqual(r.answeredBy, "node-a");
        // node-b and node-c have equal priority: both may take over for a moment; one stays.
        const now = await waitFor(
          "shared-1 and shared-2 on one new MASTER",
          async () => {
            const [v1, v2] = [await env.getVirtualIP(shared1.name), await env.getVirtualIP(shared2.name)];
            const m = v1?.status?.master;
            return m && m !== "node-a" && v2?.status?.master === m ? m : undefined;
          },
          { timeoutMs: 30_000 },
        );
        await sleep(1_000);
        const t = monotonicNow();
        await sleep(1_000);
        // Both addresses answer from the one new MASTER.
        assert.deepEqual(Object.keys(probe1.answersBetween(t, monotonicNow())), [now], probe1.describe(t, monotonicNow()));
        assert.deepEqual(Object.keys(probe2.answersBetween(t, monotonicNow())), [now], probe2.describe(t, monotonicNow()));
        assert.deepEqual((await env.holders(shared1.address)).concat(await env.holders(shared2.address)), [now, now]);
        // The solo VirtualIP stayed where it was the whole time.
        assert.deepEqual(Object.keys(probeSolo.answersBetween(r.faultAt, monotonicNow())), ["node-c"], probeSolo.describe(r.faultAt, monotonicNow()));
        assert.ok(probeSolo.longestSilence(r.faultAt, monotonicNow()) < 1_000, probeSolo.describe(r.faultAt, monotonicNow()));
        assert.equal((await env.getVirtualIP(solo.name))?.status?.master, "node-c");
        assert.equal(await failovers(solo.name), soloFailovers);
      } finally {
        await env.linkUp("node-a");
      }
      // Back on the bridge, node-a takes the group back (preempt), both addresses together.
      await waitForSteadyState(env, { name: shared1.name, address: shared1.address, master: "node-a", timeoutMs: STEADY_MS });
      await waitForSteadyState(env, { name: shared2.name, address: shared2.address, master: "node-a", timeoutMs: STEADY_MS });
    } finally {
      watch1.stop();
      watch2.stop();
    }
  });

  void test("editing the priority of a BACKUP or the advert interval causes no failover of the others", { timeout: 180_000 }, async () => {
    await waitForSteadyState(env, { name: solo.name, address: solo.address, master: "node-c", timeoutMs: STEADY_MS });
    probe1 ??= await probeOf(shared1.address);
    probe2 ??= await probeOf(shared2.address);
    probeSolo ??= await probeOf(solo.address);
    await settled(
      [
        [probe1, "node-a"],
        [probe2, "node-a"],
        [probeSolo, "node-c"],
      ],
      200,
    );
    const before = { shared1: await failovers(shared1.name), shared2: await failovers(shared2.name), solo: await failovers(solo.name) };

    // 1: priority of a BACKUP of solo (node-b: 100 or 99 -> 120; unlisted nodes get 100, 99).
    const t1 = monotonicNow();
    await env.apply(virtualIPManifest({ ...solo, priorities: { "node-c": 150, "node-b": 120 } }));
    await waitFor(
      "node-b to report priority 120 for solo",
      async () => ((await env.getVirtualIP(solo.name))?.status?.nodes ?? []).find((n) => n.name === "node-b" && n.priority === 120),
      { timeoutMs: 30_000 },
    );
    await sleep(2_000);
    const t2 = monotonicNow();
    for (const [p, node] of [
      [probe1, "node-a"],
      [probe2, "node-a"],
      [probeSolo, "node-c"],
    ] as const) {
      assert.deepEqual(Object.keys(p.answersBetween(t1, t2)), [node], `${p.address}: ${p.describe(t1, t2)}`);
      assert.ok(p.longestSilence(t1, t2) < 1_000, `${p.address} was silent for ${p.longestSilence(t1, t2)} ms: ${p.describe(t1, t2)}`);
    }

    // 2: advert interval of the shared group (both members, so they stay one instance): 200ms -> 300ms.
    await env.apply([shared("shared-1", shared1.address, "300ms"), shared("shared-2", shared2.address, "300ms")].map(virtualIPManifest).join("\n"));
    await waitFor(
      "the operator to observe the new generation of shared-1",
      async () => {
        const v = await env.getVirtualIP(shared1.name);
        return v?.status?.observedGeneration !== undefined && v.status.observedGeneration === v.metadata.generation ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );
    await sleep(3_000);
    const t3 = monotonicNow();
    assert.deepEqual(Object.keys(probeSolo.answersBetween(t2, t3)), ["node-c"], probeSolo.describe(t2, t3));
    assert.ok(probeSolo.longestSilence(t2, t3) < 1_000, `solo was silent for ${probeSolo.longestSilence(t2, t3)} ms: ${probeSolo.describe(t2, t3)}`);
    assert.equal(await failovers(solo.name), before.solo);
    assert.equal((await env.getVirtualIP(solo.name))?.status?.master, "node-c");
    // The shared group itself stays one instance on node-a.
    await waitForSteadyState(env, { name: shared1.name, address: shared1.address, master: "node-a", timeoutMs: STEADY_MS });
    await waitForSteadyState(env, { name: shared2.name, address: shared2.address, master: "node-a", timeoutMs: STEADY_MS });
    for (const name of [shared1.name, shared2.name]) {
      const conflict = (await env.getVirtualIP(name))?.status?.conditions?.find((c) => c.type === "Conflict");
      assert.notEqual(conflict?.status, "True", `${name}: ${JSON.stringify(conflict)}`);
    }
  });
});

void describe("an IPv6 VIP (VRRPv3)", () => {
  // config/samples/virtualip-ipv6.yaml as it is: 2001:db8::50, adverts every 100ms.
  const sample = sampleVirtualIP("virtualip-ipv6.yaml");

  void test("elects one MASTER and fails over like IPv4 when keepalived on the MASTER crashes", { timeout: 180_000 }, async () => {
    await env.apply(sample.text);
    const from = await waitForSteadyState(env, { name: sample.name, address: sample.address, timeoutMs: STEADY_MS });
    assert.equal(await env.whoAnswers(sample.address), from);
    const probe = await probeOf(sample.address);
    const watch = await watchStatus(env, sample.name);
    try {
      const r = await measureFailover(env, { fault: "keepalived", from, probe, watch, timeoutMs: 20_000 });
      assert.notEqual(r.answeredBy, from);
      assert.notEqual(r.statusMaster, from);
      const now = await waitForSteadyState(env, { name: sample.name, address: sample.address, timeoutMs: STEADY_MS });
      assert.notEqual(now, from);
      assert.equal(nodeStates(await env.getVirtualIP(sample.name))[from], "BACKUP");
      assert.deepEqual(await env.holders(sample.address), [now]);
    } finally {
      watch.stop();
    }
  });
});
