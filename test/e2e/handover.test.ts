// End to end on three simulated nodes: the VIP of an
// `externalTrafficPolicy: Local` Service follows its ready endpoint (track
// files, no keepalived reload, no other VIP moving), stays where it is when
// every endpoint is gone, and a cordoned node hands its VIPs over without a
// failed request.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startEnv, type Env } from "./env.js";
import { describeStatus, waitFor, waitForSteadyState } from "./failover.js";
import { startHolderMonitor, type HolderMonitor } from "./holders.js";
import { virtualIPManifest } from "./objects.js";
import { startProbe, type Probe } from "./probe.js";
import { sleep } from "../support/process.js";
import { monotonicNow } from "../support/clock.js";

const ADVERT_MS = 500;
const LOCAL = { name: "local-web", address: "192.0.2.60", virtualRouterId: 60 };
const OTHER = { name: "other-web", address: "192.0.2.61", virtualRouterId: 61 };

let env: Env;
let monitor: HolderMonitor;

function localService(): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "local-web", namespace: "default" },
    spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", ipFamilies: ["IPv4"], ports: [{ name: "http", protocol: "TCP", port: 80, targetPort: 80 }] },
  });
}

/** The Service's one EndpointSlice with a single ready endpoint on `node`. */
function endpointSlice(node: string): string {
  return JSON.stringify({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "local-web-1", namespace: "default", labels: { "kubernetes.io/service-name": "local-web" } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["198.51.100.10"], nodeName: node, conditions: { ready: true } }],
    ports: [{ name: "http", protocol: "TCP", port: 80 }],
  });
}

/** The JSON lines of a node's agent log. */
function agentLines(node: string): Array<{ message?: string; level?: string; address?: string; line?: string }> {
  const file = env.agent(node).logFile;
  const text = file ? readFileSync(file, "utf8") : "";
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { message?: string; level?: string; address?: string; line?: string });
}

/** How many times each agent reloaded keepalived so far (from its log). */
function reloads(): Record<string, number> {
  return Object.fromEntries(
    env.nodeNames.map((n) => {
      const file = env.agent(n).logFile;
      const text = file ? readFileSync(file, "utf8") : "";
      return [n, text.split("\n").filter((l) => l.includes("Applied keepalived config") && l.includes('"reloaded"')).length];
    }),
  );
}

/** Waits until `node` is the one holder of `address`, status.master names it and it answers there. */
async function waitForHolder(name: string, address: string, node: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `${name} held and answered by ${node} only`,
    async () => {
      const vip = await env.getVirtualIP(name);
      if (vip?.status?.master !== node) return undefined;
      const holders = await env.holders(address);
      if (holders.length !== 1 || holders[0] !== node) return undefined;
      return (await env.whoAnswers(address, 1_000)) === node ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}\nstatus: ${describeStatus(await env.getVirtualIP(name))}\n${await env.diagnostics(25)}`);
  });
}

before(async () => {
  env = await startEnv();
  await env.apply(localService());
  await env.apply(endpointSlice("node-c"));
  const interval = `${ADVERT_MS}ms`;
  await env.apply(virtualIPManifest({ ...LOCAL, service: "local-web", advertisementInterval: interval }));
  await env.apply(virtualIPManifest({ ...OTHER, advertisementInterval: interval }));
  monitor = await startHolderMonitor(env, [LOCAL.address, OTHER.address]);
});

after(async () => {
  monitor?.stop();
  await env?.stop();
});

void describe("a VIP in front of an externalTrafficPolicy: Local Service", () => {
  void test("is held by the node of the only ready endpoint (node-c)", { timeout: 120_000 }, async () => {
    await waitForHolder(LOCAL.name, LOCAL.address, "node-c");
    await waitForSteadyState(env, { name: OTHER.name, address: OTHER.address, timeoutMs: 60_000 });
  });

  void test("follows the endpoint to node-a within two advert intervals, without a reload and without moving another VIP", { timeout: 120_000 }, async () => {
    const otherMaster = await waitForSteadyState(env, { name: OTHER.name, address: OTHER.address, timeoutMs: 60_000 });
    const reloadsBefore = reloads();
    const t0 = monotonicNow();
    await env.apply(endpointSlice("node-a"));
    await waitForHolder(LOCAL.name, LOCAL.address, "node-a", 30_000);
    await sleep(3 * ADVERT_MS);
    const t1 = monotonicNow();

    // VRRP's part: node-c lets go (FAULT, priority-0 advert) and node-a takes the address.
    const moves = monitor.events.filter((e) => e.address === LOCAL.address && e.at >= t0);
    const released = moves.find((e) => e.node === "node-c" && !e.added);
    const taken = moves.find((e) => e.node === "node-a" && e.added);
    assert.ok(released && taken, `address events after the move: ${JSON.stringify(moves)}`);
    const handoverMs = taken.at - released.at;
    console.log(`# endpoint moved: plan to node-a holding ${taken.at - t0} ms; node-c released -> node-a took ${handoverMs} ms (advert ${ADVERT_MS} ms)`);
    assert.ok(handoverMs <= 2 * ADVERT_MS, `node-a took the address ${handoverMs} ms after node-c released it, more than two advert intervals`);
    assert.equal(monitor.doubleClaimMs(LOCAL.address, t0, t1), 0, "two nodes held the Local VIP");

    assert.deepEqual(
      monitor.events.filter((e) => e.address === OTHER.address && e.at >= t0),
      [],
      "the other VIP moved",
    );
    assert.equal((await env.getVirtualIP(OTHER.name))?.status?.master, otherMaster);
    assert.deepEqual(reloads(), reloadsBefore, "an agent reloaded keepalived");
  });

  void test("stays where it is when every endpoint is gone", { timeout: 120_000 }, async () => {
    await env.kubectl(["delete", "endpointslice", "local-web-1", "-n", "default"]);
    const t0 = monotonicNow();
    await sleep(8 * ADVERT_MS);
    assert.deepEqual(
      monitor.events.filter((e) => e.address === LOCAL.address && e.at >= t0),
      [],
      "the Local VIP moved after its last endpoint was deleted",
    );
    await waitForHolder(LOCAL.name, LOCAL.address, "node-a", 10_000);
  });
});

void describe("a cordoned node", () => {
  void test("hands its VIPs over with no failed request, and its VIPs stay away after uncordon", { timeout: 180_000 }, async () => {
    const master = await waitForSteadyState(env, { name: OTHER.name, address: OTHER.address, timeoutMs: 60_000 });
    let probe: Probe | undefined;
    try {
      probe = await startProbe(env, OTHER.address, { intervalMs: 10, timeoutMs: 150 });
      await sleep(3 * ADVERT_MS);
      const t0 = monotonicNow();
      await env.kubectl(["cordon", master]);
      const moved = await waitFor(
        `${OTHER.name} to leave ${master}`,
        async () => {
          const holders = await env.holders(OTHER.address);
          return holders.length === 1 && holders[0] !== master ? holders[0] : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      await sleep(3 * ADVERT_MS);
      const t1 = monotonicNow();
      const failed = probe.samples.filter((x) => x.s >= t0 && x.s <= t1 && x.r.startsWith("!"));
      console.log(
        `# cordon ${master}: ${moved} took over; double claim ${monitor.doubleClaimMs(OTHER.address, t0, t1)} ms, unheld ${monitor.unheldMs(OTHER.address, t0, t1)} ms`,
      );
      assert.equal(monitor.unheldMs(OTHER.address, t0, t1), 0, "no node held the VIP for a while");
      const timeline = [
        ...monitor.events.filter((e) => e.address === OTHER.address && e.at >= t0).map((e) => `${e.at - t0} ms ${e.node} ${e.added ? "added" : "deleted"}`),
        ...failed.map((x) => `${x.s - t0}..${x.e - t0} ms ${x.r}`),
      ];
      assert.deepEqual(failed, [], `failed requests during the handover (ms after cordon): ${timeline.join("; ")}`);
      const vip = await env.getVirtualIP(OTHER.name);
      assert.equal(vip?.status?.master, moved, describeStatus(vip));
      // The cordoned node shows the priority keepalived runs it with: 1, the handover floor (BACKUP once its new VRRP process reports).
      await waitFor(
        `${master} BACKUP at priority 1 in ${OTHER.name}'s status`,
        async () => {
          const entry = (await env.getVirtualIP(OTHER.name))?.status?.nodes?.find((n) => n.name === master);
          return entry?.state === "BACKUP" && entry.priority === 1 ? true : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      // The release is the handover's last step: keepalived's new VRRP process removes the address as it
      // starts (at once when the old one ran a minute or more), else the agent does, logged as a release
      // (info); never as a leftover of a crash (warning).
      const lines = agentLines(master);
      const since = lines.map((l) => l.message).lastIndexOf("Pausing VRRP adverts for the handover");
      assert.ok(since >= 0, `${master} paused its VRRP process`);
      const handover = lines.slice(since);
      assert.ok(
        handover.some(
          (l) =>
            (l.message === "Released VIP after the handover" && l.level === "info" && l.address === OTHER.address) ||
            (l.message === "keepalived" && /removing VIPs/.test(l.line ?? "")),
        ),
        `${master} released the address`,
      );
      assert.deepEqual(
        handover.filter((l) => l.message === "Removed leftover VIP"),
        [],
        "a planned release logged as a leftover",
      );
    } finally {
      await probe?.stop();
      await env.kubectl(["uncordon", master]);
    }
    await sleep(4 * ADVERT_MS);
    assert.notEqual((await env.getVirtualIP(OTHER.name))?.status?.master, master, "the VIP went back after uncordon");
    const entry = (await env.getVirtualIP(OTHER.name))?.status?.nodes?.find((n) => n.name === master);
    assert.ok(entry?.priority !== undefined && entry.priority > 1, `${master}'s planned priority is back after uncordon: ${entry?.priority}`);
  });
});
