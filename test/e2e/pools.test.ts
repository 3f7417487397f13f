// End to end, address pools on three simulated nodes with the demo pool
// (192.0.2.50-192.0.2.99, router ids 50-99): a hostile VirtualIP for a node's
// own address and one outside every pool never reach any node's interfaces,
// an allocated one answers from the client namespace, and editing an older
// VirtualIP onto the live address never moves it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { runCommand } from "../support/index.js";
import { startEnv, type Env } from "./env.js";
import { describeStatus, waitFor, waitForSteadyState } from "./failover.js";
import { virtualIPManifest } from "./objects.js";
import { monotonicNow } from "../support/clock.js";

let env: Env;

before(async () => {
  env = await startEnv({ pool: "demo" });
});

after(async () => {
  await env?.stop();
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Nodes that carry `address` as a host route (/32 or /128): what keepalived adds for a VIP. */
async function vipHolders(address: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of env.nodes.nodes) {
    const res = await runCommand("ip", ["-n", n.netns, "-j", "addr", "show"], { check: false });
    const links = JSON.parse(res.stdout || "[]") as { addr_info?: { local?: string; prefixlen?: number }[] }[];
    if (links.some((l) => (l.addr_info ?? []).some((a) => a.local === address && (a.prefixlen === 32 || a.prefixlen === 128)))) out.push(n.name);
  }
  return out;
}

async function readyReason(name: string): Promise<string | undefined> {
  return (await env.getVirtualIP(name))?.status?.conditions?.find((c) => c.type === "Ready")?.reason;
}

void describe("pools on real nodes", () => {
  void test("hostile addresses never reach an interface; an allocated one answers; an edit onto it never moves it", { timeout: 240_000 }, async () => {
    // Older objects first: "edited" is older than the allocated VirtualIP it will try to take over.
    await env.apply(virtualIPManifest({ name: "edited", address: "192.0.2.60", virtualRouterId: 60, advertisementInterval: "100ms" }));
    await waitForSteadyState(env, { name: "edited", address: "192.0.2.60", timeoutMs: 60_000 });
    const nodeA = env.nodes.nodes.find((n) => n.name === "node-a")!;
    await env.apply(virtualIPManifest({ name: "own-address", address: nodeA.ipv4, virtualRouterId: 61 }));
    await env.apply(virtualIPManifest({ name: "outside", address: "192.0.2.150", virtualRouterId: 62 }));
    await env.apply(
      JSON.stringify({
        apiVersion: "keepalived-vip.io/v1alpha1",
        kind: "VirtualIP",
        metadata: { name: "allocated", namespace: "default" },
        spec: { serviceRef: { name: "nginx" }, forwarding: "kube-proxy", vrrp: { advertisementInterval: "100ms" } },
      }),
    );
    const address = await waitFor(
      "an allocated address",
      async () => ((await env.getVirtualIP("allocated"))?.status as { address?: string } | undefined)?.address,
      { timeoutMs: 30_000 },
    );
    assert.equal(address, "192.0.2.50", "the first address of the demo pool");
    const master = await waitForSteadyState(env, { name: "allocated", address, timeoutMs: 60_000 });
    assert.equal(await env.whoAnswers(address), master);
    assert.equal(await readyReason("own-address"), "AddressReserved");
    assert.equal(await readyReason("outside"), "AddressNotAllowed");
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(await vipHolders(nodeA.ipv4), [], `a node carries ${nodeA.ipv4} as a VIP`);
      assert.deepEqual(await vipHolders("192.0.2.150"), [], "a node carries 192.0.2.150");
      await sleep(200);
    }

    await env.kubectl(["patch", "virtualip", "edited", "--type=merge", "-p", JSON.stringify({ spec: { address } })]);
    await waitFor("Conflict on the edited VirtualIP", async () => ((await readyReason("edited")) === "Conflict" ? true : undefined), { timeoutMs: 30_000 });
    const until = monotonicNow() + 5_000;
    while (monotonicNow() < until) {
      assert.deepEqual(
        await vipHolders(address),
        [master],
        `the live address moved or doubled after the edit: ${describeStatus(await env.getVirtualIP("allocated"))}`,
      );
      await sleep(100);
    }
    assert.equal(await env.whoAnswers(address), master);
    assert.equal(await readyReason("allocated"), "Active");
    assert.deepEqual(await vipHolders("192.0.2.60"), [], "the edited VirtualIP's old address is released");
  });
});
