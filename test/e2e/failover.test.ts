// End to end on three simulated nodes: the sample VirtualIP elects one
// MASTER that answers at the VIP, and every fault of the MASTER (keepalived
// crash, agent crash, node loss) moves the VIP and status.master to another
// node; the failed node returns as BACKUP; deleting the VirtualIP removes the VIP.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as k8s from "@kubernetes/client-node";
import { startEnv, type Env } from "./env.js";
import { FAULT_TEXT, FAULTS, measureFailover, nodeStates, recoverFault, waitFor, waitForSteadyState } from "./failover.js";
import { readVirtualIPTable, sampleVirtualIP } from "./objects.js";
import { startProbe, watchStatus, type Probe, type StatusWatch } from "./probe.js";
import { monotonicNow } from "../support/clock.js";

// The sample with 200ms adverts instead of 1s, for speed.
const sample = sampleVirtualIP("virtualip-basic.yaml", "200ms");
const STEADY_MS = 60_000;

let env: Env;
let probe: Probe;
let watch: StatusWatch;

before(async () => {
  env = await startEnv();
  await env.apply(sample.text);
  probe = await startProbe(env, sample.address, { intervalMs: 20, timeoutMs: 200 });
  watch = await watchStatus(env, sample.name);
});

after(async () => {
  watch?.stop();
  await probe?.stop();
  await env?.stop();
});

void describe("the sample VirtualIP on three nodes", () => {
  void test("elects exactly one MASTER, the others BACKUP, and the VIP answers with the MASTER's name", { timeout: 120_000 }, async () => {
    const master = await waitForSteadyState(env, { name: sample.name, address: sample.address, timeoutMs: STEADY_MS });
    const vip = await env.getVirtualIP(sample.name);
    const states = nodeStates(vip);
    assert.deepEqual(Object.values(states).sort(), ["BACKUP", "BACKUP", "MASTER"], JSON.stringify(states));
    assert.equal(states[master], "MASTER");
    assert.equal(await env.whoAnswers(sample.address), master);
    assert.deepEqual(await env.holders(sample.address), [master]);

    const { rows, text } = await readVirtualIPTable(env, true);
    const row = rows.find((r) => r.NAME === sample.name);
    assert.ok(row, `no row for ${sample.name}:\n${text}`);
    assert.equal(row.ADDRESS, sample.address, text);
    assert.equal(row.MASTER, master, text);
    assert.equal(row.VRID, "51", text);
    // -o wide lists the backups (DESIGN: "-o wide adds the backups").
    const backups = (row.BACKUPS ?? "").split(/[ ,]+/).filter((b) => b !== "" && b !== "<none>");
    const want = Object.keys(states).filter((n) => states[n] === "BACKUP");
    assert.deepEqual(backups.sort(), want.sort(), `BACKUPS column of -o wide:\n${text}`);
    const ready = vip?.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True", JSON.stringify(vip?.status));
  });

  void test("forwarding kube-proxy publishes the VIP in the Service's status.loadBalancer.ingress", { timeout: 60_000 }, async () => {
    const core = env.cp.kc.makeApiClient(k8s.CoreV1Api);
    const ips = await waitFor(
      "the VIP in Service default/nginx's load-balancer status",
      async () => {
        const svc = (await core.readNamespacedServiceStatus("nginx", "default")).body;
        const found = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);
        return found.includes(sample.address) ? found : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.ok(ips.includes(sample.address));
  });

  for (const fault of FAULTS) {
    void test(
      `${FAULT_TEXT[fault]} on the MASTER: another node answers at the VIP, status.master names it, the node returns as BACKUP`,
      { timeout: 180_000 },
      async () => {
        const from = await waitForSteadyState(env, { name: sample.name, address: sample.address, timeoutMs: STEADY_MS });
        const failoversBefore = (await env.getVirtualIP(sample.name))?.status?.failovers ?? 0;

        const r = await measureFailover(env, { fault, from, probe, watch, timeoutMs: 20_000 });
        try {
          assert.notEqual(r.answeredBy, from);
          assert.notEqual(r.statusMaster, from);
          assert.ok(r.vipMs < 10_000, `the VIP moved only after ${r.vipMs} ms`);
        } finally {
          await recoverFault(env, fault, from);
        }
        // No preemption by default: a node that took over keeps the VIP (with equal
        // priorities two BACKUPs may both take over for a moment; the higher IP stays).
        const now = await waitForSteadyState(env, { name: sample.name, address: sample.address, timeoutMs: STEADY_MS });
        assert.notEqual(now, from, `the VIP went back to ${from}`);
        const vip = await env.getVirtualIP(sample.name);
        assert.equal(nodeStates(vip)[from], "BACKUP", JSON.stringify(vip?.status));
        // Counted once the new holder has held the VIP alone for 2 adverts + 1 s (docs/operator.md).
        await waitFor(
          `failovers above ${failoversBefore}`,
          async () => (((await env.getVirtualIP(sample.name))?.status?.failovers ?? 0) > failoversBefore ? true : undefined),
          { timeoutMs: 15_000 },
        );
        const settled = monotonicNow();
        await new Promise((r) => setTimeout(r, 2_000));
        assert.deepEqual(Object.keys(probe.answersBetween(settled, monotonicNow())), [now], probe.describe(settled, monotonicNow()));
      },
    );
  }

  void test("deleting the VirtualIP removes its VIP from every node and the object goes away", { timeout: 120_000 }, async () => {
    await env.kubectl(["delete", "virtualip", sample.name, "-n", "default", "--wait=true", "--timeout=60s"], { timeoutMs: 90_000 });
    await waitFor("the VirtualIP to be gone", async () => ((await env.getVirtualIP(sample.name)) === undefined ? true : undefined), { timeoutMs: 30_000 });
    const holders = await waitFor(
      `${sample.address} gone from every node`,
      async () => {
        const h = await env.holders(sample.address);
        return h.length === 0 ? h : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(holders, []);
    assert.equal(await env.whoAnswers(sample.address, 500), undefined);
    const { rows } = await readVirtualIPTable(env);
    assert.ok(!rows.some((r) => r.NAME === sample.name));
  });
});
