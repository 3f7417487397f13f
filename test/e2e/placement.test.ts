// End to end, placement by ranked default priorities on three simulated
// nodes: six VirtualIPs with their own router ids and no priorities split
// their MASTERs 2/2/2 (each on the node the plan ranks first, as
// status.nodes[].priority shows); SIGKILL of keepalived on a MASTER moves its
// two addresses with no moment where two nodes carry one (every address
// change in every node namespace is watched), one failover and one Failover
// Event each, and no other address moves; with preemptDelay the node takes
// its addresses back only after the delay, one more failover each.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startEnv, type Env } from "./env.js";
import { startClaimMonitor, type ClaimMonitor } from "./claims.js";
import { describeStatus, waitFor, waitForSteadyState } from "./failover.js";
import { virtualIPManifest, type VirtualIPSpecOptions } from "./objects.js";
import { monotonicNow } from "../support/clock.js";
import { holderSettleMs } from "../../src/operator/holder.js";

const STEADY_MS = 90_000;
/** The VirtualIPs' advert interval (the default). */
const ADVERT_MS = 1000;
/** With preempt: true, so that the first MASTERs are the ranked ones whatever order the nodes load their config in. */
const PREEMPT_DELAY_S = 30;

const vips: VirtualIPSpecOptions[] = Array.from({ length: 6 }, (_, i) => ({
  name: `spread-${i + 1}`,
  address: `192.0.2.${81 + i}`,
  virtualRouterId: 81 + i,
  preempt: true,
  preemptDelay: `${PREEMPT_DELAY_S}s`,
}));

let env: Env;
let monitor: ClaimMonitor | undefined;

before(async () => {
  env = await startEnv();
});

after(async () => {
  await monitor?.stop();
  await env?.stop();
});

/** Failover Events of a VirtualIP: one object per distinct message, `count` the repeats. */
async function failoverEvents(name: string): Promise<{ message: string; count: number }[]> {
  const res = await env.kubectl(["get", "events", "-n", "default", "--field-selector", `involvedObject.name=${name},reason=Failover`, "-o", "json"]);
  const list = JSON.parse(res.stdout) as { items: { message?: string; count?: number }[] };
  return list.items.map((e) => ({ message: e.message ?? "", count: e.count ?? 1 }));
}

const eventCount = (events: { count: number }[]): number => events.reduce((n, e) => n + e.count, 0);

/** The node with the highest priority in status.nodes (the one the plan ranks first). */
function rankedFirst(status: Awaited<ReturnType<Env["getVirtualIP"]>>): string {
  const nodes = [...(status?.status?.nodes ?? [])].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
  return nodes[0]?.name ?? "";
}

void describe("ranked default priorities", () => {
  const masters = new Map<string, string>();

  void test(
    "six VirtualIPs without priorities split their MASTERs 2/2/2, each on its top-ranked node, with distinct priorities",
    { timeout: 300_000 },
    async () => {
      await env.apply(vips.map(virtualIPManifest).join("\n"));
      const perNode: Record<string, number> = {};
      for (const v of vips) {
        // Every node reports its priority; the highest is the planned MASTER.
        const status = await waitFor(
          `three priorities of ${v.name}`,
          async () => {
            const s = await env.getVirtualIP(v.name);
            return (s?.status?.nodes ?? []).filter((n) => n.priority !== undefined).length === 3 ? s : undefined;
          },
          { timeoutMs: STEADY_MS },
        );
        const prios = (status.status?.nodes ?? []).map((n) => n.priority);
        assert.equal(new Set(prios).size, 3, `${v.name}: priorities ${JSON.stringify(status.status?.nodes)}`);
        assert.ok(
          prios.every((p) => p !== undefined && p >= 100 && p <= 250),
          `${v.name}: ${JSON.stringify(prios)}`,
        );
        const ranked = rankedFirst(status);
        perNode[ranked] = (perNode[ranked] ?? 0) + 1;
        // A node that loaded its config later than a lower-ranked one takes over after the preempt delay.
        masters.set(v.name, await waitForSteadyState(env, { name: v.name, address: v.address, master: ranked, timeoutMs: STEADY_MS + PREEMPT_DELAY_S * 1000 }));
      }
      assert.deepEqual(perNode, { "node-a": 2, "node-b": 2, "node-c": 2 });
    },
  );

  void test(
    "SIGKILL of keepalived on a MASTER: never two nodes on one address, one failover and one Failover Event per moved address, the others stay",
    { timeout: 240_000 },
    async () => {
      assert.equal(masters.size, 6, "needs the steady state of the test before");
      const claims = await startClaimMonitor(
        env,
        vips.map((v) => v.address),
      );
      monitor = claims;
      // A preemption that ended the test before is counted once its new holder has settled (two adverts
      // plus 1 s, ADR 0015): let that happen first, or its count would read as one of this fault's.
      await new Promise((r) => setTimeout(r, holderSettleMs(ADVERT_MS) + 1000));
      const victim = masters.get(vips[0]!.name) ?? "";
      const moving = vips.filter((v) => masters.get(v.name) === victim);
      const staying = vips.filter((v) => masters.get(v.name) !== victim);
      assert.equal(moving.length, 2);
      const before = new Map<string, { failovers: number; events: number }>();
      for (const v of vips)
        before.set(v.name, { failovers: (await env.getVirtualIP(v.name))?.status?.failovers ?? 0, events: eventCount(await failoverEvents(v.name)) });

      const t0 = monotonicNow();
      assert.ok(env.killKeepalived(victim).length > 0, `no keepalived on ${victim}`);
      const moved = new Map<string, string>();
      for (const v of moving) {
        const to = await waitForSteadyState(env, { name: v.name, address: v.address, nodes: env.nodeNames.filter((n) => n !== victim), timeoutMs: 30_000 });
        moved.set(v.name, to);
      }
      // The count and the Event come once the new holder has settled (2 adverts + 1 s).
      for (const v of moving) {
        await waitFor(
          `failovers of ${v.name} to reach ${before.get(v.name)!.failovers + 1}`,
          async () => (((await env.getVirtualIP(v.name))?.status?.failovers ?? 0) > before.get(v.name)!.failovers ? true : undefined),
          {
            timeoutMs: 15_000,
          },
        );
      }
      // The killed node is back as BACKUP (its agent restarted keepalived) and waits out the preempt delay: give it time to make a mistake.
      await waitFor(
        `${victim} back as BACKUP`,
        async () => {
          const states = await Promise.all(moving.map(async (v) => (await env.getVirtualIP(v.name))?.status?.nodes?.find((n) => n.name === victim)?.state));
          return states.every((s) => s === "BACKUP") ? true : undefined;
        },
        { timeoutMs: 20_000 },
      );
      await new Promise((r) => setTimeout(r, 3_000));
      const t1 = monotonicNow();
      assert.ok(t1 - t0 < PREEMPT_DELAY_S * 1000, `the checks took ${t1 - t0} ms, past the preempt delay`);

      const doubles = claims.doubleClaims(t0 - 1_000, t1);
      assert.deepEqual(doubles, [], `double claims: ${JSON.stringify(doubles)}`);
      for (const v of moving) {
        const status = await env.getVirtualIP(v.name);
        assert.equal(status?.status?.master, moved.get(v.name));
        assert.equal(status?.status?.failovers, before.get(v.name)!.failovers + 1, `${v.name}: ${describeStatus(status)}`);
        const events = await failoverEvents(v.name);
        assert.equal(eventCount(events) - before.get(v.name)!.events, 1, `${v.name}: Failover Events ${JSON.stringify(events)}`);
        assert.ok(
          events.some((e) => e.message === `MASTER moved from ${victim} to ${moved.get(v.name)}`),
          JSON.stringify(events),
        );
        // Exactly one node carried the address at every moment after the takeover.
        const seen = claims.claims(v.address).filter((c) => c.to === undefined || c.to > t0);
        assert.deepEqual(
          seen.map((c) => c.node),
          [victim, moved.get(v.name)],
          JSON.stringify(seen),
        );
      }
      for (const v of staying) {
        const status = await env.getVirtualIP(v.name);
        assert.equal(status?.status?.master, masters.get(v.name), `${v.name} moved: ${describeStatus(status)}`);
        assert.equal(status?.status?.failovers ?? 0, before.get(v.name)!.failovers, `${v.name}: ${describeStatus(status)}`);
        assert.deepEqual(
          claims.claims(v.address).map((c) => c.node),
          [masters.get(v.name)],
          `${v.address} changed hands`,
        );
      }

      // After the preempt delay the top-ranked node takes its addresses back: one more failover each.
      for (const v of moving) {
        await waitForSteadyState(env, { name: v.name, address: v.address, master: victim, timeoutMs: (PREEMPT_DELAY_S + 30) * 1000 });
        const back = claims.claims(v.address).find((c) => c.node === victim && c.from > t0);
        assert.ok(back, `no new claim of ${v.address} by ${victim}`);
        assert.ok(
          back.from - t0 >= PREEMPT_DELAY_S * 1000,
          `${victim} took ${v.address} back after ${back.from - t0} ms, before the ${PREEMPT_DELAY_S} s preempt delay`,
        );
        await waitFor(
          `failovers of ${v.name} to reach ${before.get(v.name)!.failovers + 2}`,
          async () => (((await env.getVirtualIP(v.name))?.status?.failovers ?? 0) === before.get(v.name)!.failovers + 2 ? true : undefined),
          {
            timeoutMs: 15_000,
          },
        );
      }
      const handback = claims.doubleClaims(t1, monotonicNow());
      const overlapMs = handback.reduce((n, d) => n + (d.to - d.from), 0);
      console.log(`preemption after the delay: ${handback.length} overlaps of the old and new MASTER, ${overlapMs.toFixed(1)} ms in total`);
    },
  );
});
