// End to end on three simulated nodes with real keepalived: deleting a
// VirtualIP while one node's link is down keeps the object (and its address)
// until that node is back and has let the address go, or until
// --deletion-timeout passes, which a condition and a Warning Event say,
// naming the node; the address is never on two nodes meanwhile (sampled in
// every node namespace). And a join that would push a VRRP instance over the
// API's object size limit is refused without touching the instance it tried
// to join (ADR 0017, docs/architecture.md).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startEnv, type Env } from "./env.js";
import { describeStatus, waitFor, waitForSteadyState } from "./failover.js";
import { virtualIPManifest } from "./objects.js";
import { monotonicNow } from "../support/clock.js";

const DELETION_TIMEOUT_S = 25;
let env: Env;

before(async () => {
  env = await startEnv({ operatorFlags: [`--deletion-timeout=${DELETION_TIMEOUT_S}s`] });
});

after(async () => {
  await env?.stop();
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Samples which nodes carry `address` until stopped; resolves every sample with more than one holder. */
function sampleHolders(address: string): { stop(): Promise<{ samples: number; doubles: string[][] }> } {
  let running = true;
  const doubles: string[][] = [];
  let samples = 0;
  const loop = (async () => {
    while (running) {
      const h = await env.holders(address);
      samples++;
      if (h.length > 1) doubles.push(h);
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, doubles };
    },
  };
}

async function ready(name: string): Promise<{ reason?: string; message?: string } | undefined> {
  return (await env.getVirtualIP(name))?.status?.conditions?.find((c) => c.type === "Ready");
}

async function events(name: string): Promise<{ type: string; reason: string; message: string }[]> {
  const res = await env.kubectl(["get", "events", "-n", "default", "--field-selector", `involvedObject.name=${name}`, "-o", "json"]);
  return (JSON.parse(res.stdout) as { items: { type?: string; reason?: string; message?: string }[] }).items.map((e) => ({
    type: e.type ?? "",
    reason: e.reason ?? "",
    message: e.message ?? "",
  }));
}

void describe("deletion waits for the nodes", () => {
  void test("a node whose link is down holds the object until it is back; the address is never on two nodes", { timeout: 240_000 }, async () => {
    const address = "192.0.2.80";
    await env.apply(virtualIPManifest({ name: "cut", address, virtualRouterId: 80, advertisementInterval: "100ms" }));
    const master = await waitForSteadyState(env, { name: "cut", address, timeoutMs: 60_000 });
    const sampler = sampleHolders(address);
    try {
      // The master loses its link: keepalived there goes FAULT, another node takes over; its agent cannot reach the API.
      await env.linkDown(master);
      await waitFor(
        "another node to take the address over",
        async () => {
          const h = await env.holders(address);
          return h.length === 1 && h[0] !== master ? h[0] : undefined;
        },
        { timeoutMs: 30_000 },
      );
      const deletedAt = monotonicNow();
      await env.kubectl(["delete", "virtualip", "cut", "--wait=false"]);
      await waitFor("the address gone from the connected nodes", async () => ((await env.holders(address)).length === 0 ? true : undefined), {
        timeoutMs: 30_000,
      });
      const waiting = await waitFor(
        `Ready naming ${master}`,
        async () => {
          const r = await ready("cut");
          return r?.reason === "Deleting" && r.message?.includes(`node ${master}`) ? r.message : undefined;
        },
        { timeoutMs: 30_000 },
      );
      assert.match(waiting, new RegExp(`waiting for the nodes to confirm that 192\\.0\\.2\\.80 is gone: .*node ${master}`));
      // The object stays while the cut-off node has not confirmed (well within the timeout).
      while (monotonicNow() - deletedAt < 10_000) {
        const v = await env.getVirtualIP("cut");
        assert.ok(v?.metadata.deletionTimestamp, "the VirtualIP went while its node was cut off");
        await sleep(250);
      }
      await env.linkUp(master);
      await waitFor("the VirtualIP gone once its node is back", async () => ((await env.getVirtualIP("cut")) === undefined ? true : undefined), {
        timeoutMs: 30_000,
      });
      assert.ok(monotonicNow() - deletedAt < DELETION_TIMEOUT_S * 1000, "it went because the node confirmed, not by the timeout");
      assert.ok(!(await events("cut")).some((e) => e.reason === "DeletionUnconfirmed"), "nobody was given up on");
      await waitFor("the address gone from every node", async () => ((await env.holders(address)).length === 0 ? true : undefined), { timeoutMs: 30_000 });
    } finally {
      await env.linkUp(master).catch(() => undefined);
      const { samples, doubles } = await sampler.stop();
      assert.ok(samples > 20, `${samples} samples`);
      assert.deepEqual(doubles, [], `the address was on two nodes in ${doubles.length} of ${samples} samples`);
    }
  });

  void test(
    "a node that stays cut off is given up on after --deletion-timeout, with a condition and a Warning Event naming it",
    { timeout: 240_000 },
    async () => {
      const address = "192.0.2.81";
      await env.apply(virtualIPManifest({ name: "lost", address, virtualRouterId: 81, advertisementInterval: "100ms" }));
      const master = await waitForSteadyState(env, { name: "lost", address, timeoutMs: 60_000 });
      const sampler = sampleHolders(address);
      try {
        await env.linkDown(master);
        const deletedAt = monotonicNow();
        await env.kubectl(["delete", "virtualip", "lost", "--wait=false"]);
        let last = "";
        const message = await waitFor(
          `Ready saying ${master} is not live`,
          async () => {
            const r = await ready("lost");
            last = r?.message ?? "(no VirtualIP)";
            return r?.message?.includes(`the agent of node ${master} is not live; given up on at`) ? r.message : undefined;
          },
          { timeoutMs: 40_000 },
        ).catch(async (err: unknown) => Promise.reject(new Error(`${String(err)}; last Ready message: ${last}\n${await env.diagnostics(30)}`)));
        assert.match(message, /^Being deleted: waiting for the nodes to confirm that 192\.0\.2\.81 is gone/);
        await waitFor("the VirtualIP gone after the timeout", async () => ((await env.getVirtualIP("lost")) === undefined ? true : undefined), {
          timeoutMs: (DELETION_TIMEOUT_S + 30) * 1000,
        });
        assert.ok(monotonicNow() - deletedAt >= (DELETION_TIMEOUT_S - 2) * 1000, `went after ${monotonicNow() - deletedAt} ms, before the timeout`);
        const given = (await events("lost")).find((e) => e.reason === "DeletionUnconfirmed");
        assert.equal(given?.type, "Warning");
        assert.match(
          given?.message ?? "",
          new RegExp(
            `^node ${master} did not confirm that 192\\.0\\.2\\.81 is gone within the deletion timeout \\(${DELETION_TIMEOUT_S}s\\): the agent of node ${master} is not live$`,
          ),
        );
        // Back, the node lets the address go as soon as its agent reads the plan.
        await env.linkUp(master);
        await waitFor("the address gone from every node", async () => ((await env.holders(address)).length === 0 ? true : undefined), { timeoutMs: 30_000 });
      } finally {
        await env.linkUp(master).catch(() => undefined);
        const { samples, doubles } = await sampler.stop();
        assert.deepEqual(doubles, [], `the address was on two nodes in ${doubles.length} of ${samples} samples`);
      }
    },
  );
});

void describe("size limit on real nodes", () => {
  void test(
    "an oversize join is refused (TooLarge, or IPVSUnavailable on kernels without IPVS) and the instance it tried to join keeps running untouched",
    { timeout: 240_000 },
    async () => {
      const address = "192.0.2.90";
      await env.apply(virtualIPManifest({ name: "victim", address, virtualRouterId: 90, advertisementInterval: "100ms" }));
      const master = await waitForSteadyState(env, { name: "victim", address, timeoutMs: 60_000 });
      const secrets = async (): Promise<string> =>
        (
          await env.kubectl([
            "get",
            "secrets",
            "-n",
            env.namespace,
            "-l",
            "app.kubernetes.io/component=instance-config",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}",
          ])
        ).stdout.trim();
      const before = await secrets();
      assert.ok(before !== "", "no instance Secret");

      // A Service of 300 ports x 100 endpoints, and a VirtualIP joining the victim's instance (same router id and settings) with ipvs to it.
      const ports = Array.from({ length: 300 }, (_, i) => ({ name: `p${i}`, port: 10_000 + i, protocol: "TCP" }));
      const docs: unknown[] = [
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "huge", namespace: "default" },
          spec: { type: "LoadBalancer", allocateLoadBalancerNodePorts: false, ports },
        },
        ...[0, 1, 2].map((i) => ({
          apiVersion: "discovery.k8s.io/v1",
          kind: "EndpointSlice",
          metadata: { name: `huge-${i}`, namespace: "default", labels: { "kubernetes.io/service-name": "huge" } },
          addressType: "IPv4",
          ports: ports.slice(i * 100, (i + 1) * 100),
          endpoints: Array.from({ length: 100 }, (_, j) => ({ addresses: [`198.51.100.${j + 1}`], conditions: { ready: true } })),
        })),
        {
          apiVersion: "keepalived-vip.io/v1alpha1",
          kind: "VirtualIP",
          metadata: { name: "joiner", namespace: "default" },
          spec: {
            serviceRef: { name: "huge" },
            address: "192.0.2.91",
            virtualRouterId: 90,
            forwarding: "ipvs",
            vrrp: { version: 3, advertisementInterval: "100ms" },
          },
        },
      ];
      for (const d of docs) await env.apply(JSON.stringify(d));
      // The joiner uses ipvs forwarding (only ipvs puts endpoints in the instance). Where the
      // nodes' kernels have no IPVS, their agents say so and the joiner is refused up front
      // (IPVSUnavailable) before its size matters; either way the victim must not be touched.
      const ipvs = (
        await env.kubectl(["get", "leases", "-n", env.namespace, "-o", "jsonpath={range .items[*]}{.metadata.annotations.keepalived-vip\\.io/ipvs} {end}"])
      ).stdout
        .trim()
        .split(/\s+/);
      const expected = ipvs.includes("true") ? "TooLarge" : "IPVSUnavailable";
      const refused = await waitFor(
        `${expected} on the joiner`,
        async () => {
          const r = await ready("joiner");
          return r?.reason === expected ? r.message : undefined;
        },
        { timeoutMs: 60_000 },
      );
      assert.match(
        refused ?? "",
        expected === "TooLarge" ? /VirtualIP default\/joiner is left out: .* over the \d+-byte limit/ : /spec\.forwarding: ipvs forwarding needs IPVS/,
      );
      const until = monotonicNow() + 5_000;
      while (monotonicNow() < until) {
        assert.deepEqual(await env.holders(address), [master], `the victim's address moved or doubled: ${describeStatus(await env.getVirtualIP("victim"))}`);
        assert.deepEqual(await env.holders("192.0.2.91"), [], "the refused joiner's address reached a node");
        await sleep(200);
      }
      assert.equal(await secrets(), before, "the victim's instance Secret was rewritten");
      assert.equal((await ready("victim"))?.reason, "Active");
      assert.equal(await env.whoAnswers(address), master);
    },
  );
});
