// End to end on three simulated nodes, operator and agents together
// (ADR 0016): a VirtualIP naming an interface no node has is refused up front
// (InterfaceNotFound) while one created afterwards on the same nodes goes
// live; one naming an interface only node-a has runs on node-a while node-b
// and node-c refuse its instance, and says so (Ready=False ConfigRejected);
// the live VirtualIP is not disturbed by either.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { runCommand } from "../support/index.js";
import { startEnv, type Env, type VirtualIPObject } from "./env.js";
import { describeStatus, waitFor, waitForSteadyState } from "./failover.js";

let env: Env;

function manifest(name: string, address: string, virtualRouterId: number, iface?: string): string {
  return JSON.stringify({
    apiVersion: "keepalived-vip.io/v1alpha1",
    kind: "VirtualIP",
    metadata: { name, namespace: "default" },
    spec: {
      serviceRef: { name: "nginx" },
      address,
      virtualRouterId,
      forwarding: "kube-proxy",
      ...(iface ? { interface: iface } : {}),
      vrrp: { version: 3, advertisementInterval: "200ms" },
    },
  });
}

async function ready(name: string): Promise<{ vip: VirtualIPObject | undefined; reason?: string; message?: string }> {
  const vip = await env.getVirtualIP(name);
  const c = vip?.status?.conditions?.find((x) => x.type === "Ready");
  return { vip, ...(c?.reason !== undefined ? { reason: c.reason } : {}), ...(c?.message !== undefined ? { message: c.message } : {}) };
}

before(async () => {
  env = await startEnv();
  // An interface only node-a has (a veth pair inside its namespace, with an address, as keepalived wants one).
  const netns = env.nodes.node("node-a").netns;
  await runCommand("ip", ["-n", netns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"]);
  await runCommand("ip", ["-n", netns, "addr", "add", "198.51.100.11/24", "dev", "eth1"]);
  for (const link of ["eth1", "eth1p"]) await runCommand("ip", ["-n", netns, "link", "set", link, "up"]);
});

after(async () => {
  await env?.stop();
});

void describe("one VirtualIP's mistake stays its own", () => {
  void test("an interface no node has is refused up front; a VirtualIP created afterwards goes live", { timeout: 180_000 }, async () => {
    await env.apply(manifest("bad", "192.0.2.61", 61, "eth9"));
    const bad = await waitFor(
      "bad refused with InterfaceNotFound",
      async () => {
        const r = await ready("bad");
        return r.reason === "InterfaceNotFound" ? r : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.match(bad.message ?? "", /^VirtualIP default\/bad: spec\.interface: interface eth9 is on none of the selected nodes/);
    await env.apply(manifest("good", "192.0.2.62", 62));
    await waitForSteadyState(env, { name: "good", address: "192.0.2.62", timeoutMs: 60_000 });
    assert.equal((await ready("good")).reason, "Active");
    assert.deepEqual(await env.holders("192.0.2.61"), []);
  });

  void test("an interface only node-a has: node-a runs it, the others refuse it and say so; good is not disturbed", { timeout: 180_000 }, async () => {
    const goodBefore = await env.getVirtualIP("good");
    const holder = goodBefore?.status?.master;
    await env.apply(manifest("partial", "198.51.100.50", 63, "eth1"));
    const r = await waitFor(
      "partial Ready=False ConfigRejected with node-a as master",
      async () => {
        const x = await ready("partial");
        return x.reason === "ConfigRejected" && x.vip?.status?.master === "node-a" ? x : undefined;
      },
      { timeoutMs: 90_000 },
    );
    assert.match(
      r.message ?? "",
      /^VirtualIP default\/partial: nodes node-b, node-c refused its keepalived config; node-b: spec\.interface: keepalived refused VRRP instance \S+: .*eth1.*; it does not run on this node$/,
      describeStatus(r.vip),
    );
    const entries = Object.fromEntries((r.vip?.status?.nodes ?? []).map((e) => [e.name, e.state]));
    assert.deepEqual(entries, { "node-a": "MASTER", "node-b": "FAULT", "node-c": "FAULT" });
    assert.deepEqual(await env.holders("198.51.100.50"), ["node-a"]);
    const good = await env.getVirtualIP("good");
    assert.equal(good?.status?.master, holder, "good kept its master");
    assert.equal(good?.status?.failovers ?? 0, goodBefore?.status?.failovers ?? 0, "good had no failover");
    assert.equal((await ready("good")).reason, "Active");
  });
});
