// End to end with the agents from the project's container image (podman, one
// container per node namespace with only NET_ADMIN, NET_RAW, NET_BROADCAST, SYS_NICE):
// first election, then faults of the MASTER move the VIP and status.master,
// and the failed node returns as BACKUP.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startEnv, type Env } from "./env.js";
import { FAULT_TEXT, measureFailover, nodeStates, recoverFault, waitForSteadyState, type Fault } from "./failover.js";
import { virtualIPManifest, type VirtualIPSpecOptions } from "./objects.js";
import { startProbe, watchStatus, type Probe, type StatusWatch } from "./probe.js";

const STEADY_MS = 90_000;
const vip: VirtualIPSpecOptions = { name: "image", address: "192.0.2.90", virtualRouterId: 90, advertisementInterval: "200ms" };

let env: Env;
let probe: Probe;
let watch: StatusWatch;

before(async () => {
  env = await startEnv({ agents: "container" });
  await env.apply(virtualIPManifest(vip));
  probe = await startProbe(env, vip.address, { intervalMs: 20, timeoutMs: 200 });
  watch = await watchStatus(env, vip.name);
});

after(async () => {
  watch?.stop();
  await probe?.stop();
  await env?.stop();
});

void describe("agents from the container image", () => {
  void test("elect one MASTER that answers at the VIP", { timeout: 180_000 }, async () => {
    assert.equal(env.agentMode, "container");
    const master = await waitForSteadyState(env, { name: vip.name, address: vip.address, timeoutMs: STEADY_MS });
    assert.deepEqual(Object.values(nodeStates(await env.getVirtualIP(vip.name))).sort(), ["BACKUP", "BACKUP", "MASTER"]);
    assert.equal(await env.whoAnswers(vip.address), master);
    // keepalived runs inside the containers, not on the host.
    for (const node of env.nodeNames) assert.ok(env.keepalivedPids(node).length > 0, `no keepalived in ${node}`);
  });

  const faults: Fault[] = ["agent", "link", "keepalived"];
  for (const fault of faults) {
    void test(`${FAULT_TEXT[fault]} on the MASTER moves the VIP; the node returns as BACKUP`, { timeout: 180_000 }, async () => {
      const from = await waitForSteadyState(env, { name: vip.name, address: vip.address, timeoutMs: STEADY_MS });
      const r = await measureFailover(env, { fault, from, probe, watch, timeoutMs: 20_000 });
      try {
        assert.notEqual(r.answeredBy, from);
        assert.notEqual(r.statusMaster, from);
      } finally {
        await recoverFault(env, fault, from);
      }
      const now = await waitForSteadyState(env, { name: vip.name, address: vip.address, timeoutMs: STEADY_MS });
      assert.notEqual(now, from);
      assert.equal(nodeStates(await env.getVirtualIP(vip.name))[from], "BACKUP");
    });
  }
});
