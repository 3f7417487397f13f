// The agent as a whole, on a fake clock with fakes at every I/O seam
// (fakes.ts): config changes and reloads, a keepalived crash, VRRP state
// reports, heartbeats, and the order of a SIGTERM stop.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ANNOTATION_DEFAULT_INTERFACE, ANNOTATION_RUNNING_ADDRESSES } from "../../../src/api/index.js";
import { Agent } from "../../../src/agent/agent.js";
import { createAgentMetrics } from "../../../src/agent/metrics.js";
import type { KubeClients } from "../../../src/kube/client.js";
import { FakeClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";
import { FakeIO, NODE, instanceSecret, nodeSecret } from "./fakes.js";
import { publishedInstance } from "./instances.js";

const logger = createLogger("test", "error");
logger.silent = true;

const WEB = publishedInstance("vip_4_51", 51, "192.0.2.50");
const KEY = "default/vip_4_51";

interface Rig {
  agent: Agent;
  io: FakeIO;
  clock: FakeClock;
}

async function startAgent(setup: (io: FakeIO) => void = () => undefined): Promise<Rig> {
  const io = new FakeIO();
  setup(io);
  const clock = new FakeClock();
  const agent = new Agent({
    node: NODE,
    namespace: "keepalived-vip-nodes",
    hostIP: "192.0.2.11",
    runtimeDir: "/run/keepalived-vip",
    keepalivedPath: "keepalived",
    metricsBindAddress: "127.0.0.1:0",
    leaseDurationSeconds: 10,
    heartbeatIntervalMs: 3000,
    clients: {} as KubeClients,
    logger,
    clock,
    metrics: createAgentMetrics(false),
    io: io.io(),
  });
  await agent.start();
  await clock.advance(0);
  return { agent, io, clock };
}

/** Publishes WEB on the node and lets the sync and the reports run. */
async function publishWeb(r: Rig, inst = WEB): Promise<void> {
  r.io.publish(nodeSecret([inst.name]), [instanceSecret(inst)]);
  await r.clock.advance(0);
}

async function counter(r: Rig, name: "reloads" | "keepalivedRestarts" | "configTestFailures"): Promise<number> {
  return (await r.agent.metrics[name].get()).values[0]?.value ?? 0;
}

/** Stops the agent while the fake clock runs (the handover waits on it). */
async function stopAgent(r: Rig): Promise<void> {
  let done = false;
  const stopping = r.agent.stop().then(() => (done = true));
  for (let i = 0; i < 200 && !done; i++) await r.clock.advance(100);
  await stopping;
}

void describe("Agent: config sync", () => {
  void test("the first complete plan starts keepalived; a change installs and reloads once; the same bytes again do nothing", async () => {
    const r = await startAgent();
    assert.equal(r.io.keepalived.phase, "idle", "keepalived started without a config");
    await publishWeb(r);
    assert.equal(r.io.keepalived.starts, 1);
    assert.equal(r.io.installed.length, 1);
    assert.match(r.io.installed[0] ?? "", /virtual_router_id 51/);

    // A burst of three versions of the instance: one decision on the latest.
    for (const address of ["192.0.2.51", "192.0.2.52", "192.0.2.53"])
      r.io.instanceWatch?.onEvent("MODIFIED", instanceSecret({ ...WEB, primaryAddress: address }));
    await r.clock.advance(0);
    assert.equal(r.io.keepalived.reloads, 1, "one reload for the burst");
    assert.equal(r.io.installed.length, 2);
    assert.match(r.io.installed[1] ?? "", /192\.0\.2\.53\/32 dev eth0/);
    assert.equal(await counter(r, "reloads"), 1);

    r.io.instanceWatch?.onEvent("MODIFIED", instanceSecret({ ...WEB, primaryAddress: "192.0.2.53" }));
    await r.clock.advance(0);
    assert.equal(r.io.keepalived.reloads, 1, "unchanged bytes reloaded keepalived");
    await stopAgent(r);
  });

  void test("a config keepalived refuses is not installed: the running one stays, one Event per VirtualIP, not repeated", async () => {
    const r = await startAgent();
    await publishWeb(r);
    r.io.configTest = () => ({ ok: false, problems: ["(Line 12) unknown keyword 'bogus'"] });
    r.io.instanceWatch?.onEvent("MODIFIED", instanceSecret({ ...WEB, advertIntervalMs: 2000 }));
    await r.clock.advance(0);
    r.io.nodeWatch?.onChange(nodeSecret([WEB.name], { runtimeDir: "/run/keepalived-vip" }));
    await r.clock.advance(0);
    assert.equal(r.io.installed.length, 1, "a refused config was installed");
    assert.equal(r.io.keepalived.reloads, 0);
    assert.deepEqual(
      r.io.events.map((e) => [e.key, e.reason]),
      [[KEY, "ConfigTestFailed"]],
    );
    assert.match(r.io.events[0]?.message ?? "", /^Node node-a refused VRRP instance vip_4_51 .*its last good version keeps running$/);
    assert.equal(await counter(r, "configTestFailures"), 1);
    await stopAgent(r);
  });

  void test("the config installed by an earlier run starts keepalived before the API server answers", async () => {
    const r = await startAgent((io) => {
      io.running = {
        config: "# installed\n",
        instances: {
          node: NODE,
          instances: [{ instance: WEB.name, virtualRouterId: 51, interface: "eth0", family: 4, priority: 100, addresses: ["192.0.2.50"], virtualIPs: [KEY] }],
        },
      };
    });
    assert.equal(r.io.keepalived.phase, "running");
    assert.equal(r.io.installed.length, 0, "the installed config was written again");
    // Its VirtualIPs are reported as soon as keepalived says something about them.
    r.io.fifoLine?.('INSTANCE "vip_4_51" BACKUP 100', r.clock.now());
    await r.clock.advance(0);
    assert.deepEqual(
      r.io.statusWrites.map((w) => [w.key, w.entry?.state]),
      [[KEY, "BACKUP"]],
    );
    await stopAgent(r);
  });

  void test("readiness waits for an installed config and a running keepalived", async () => {
    const r = await startAgent();
    const ready = async (): Promise<boolean> => (await r.io.health!.readyz.keepalived!()).ok;
    assert.equal(await ready(), false);
    await publishWeb(r);
    assert.equal(await ready(), true);
    await stopAgent(r);
  });
});

void describe("Agent: VRRP state reports", () => {
  void test("a MASTER transition is reported once, with the time the FIFO line was read", async () => {
    const r = await startAgent();
    await publishWeb(r);
    r.io.fifoLine?.('INSTANCE "vip_4_51" BACKUP 100', r.clock.now());
    await r.clock.advance(1000);
    const at = r.clock.now();
    r.io.fifoLine?.('INSTANCE "vip_4_51" MASTER 100', at);
    await r.clock.advance(0);
    r.io.fifoLine?.('INSTANCE "vip_4_51" MASTER 100', at + 10);
    await r.clock.advance(1000);
    const masters = r.io.statusWrites.filter((w) => w.entry?.state === "MASTER");
    assert.equal(masters.length, 1, JSON.stringify(r.io.statusWrites));
    assert.equal(masters[0]?.key, KEY);
    assert.equal(masters[0]?.entry?.since, new Date(at).toISOString());
    assert.equal((await r.agent.metrics.transitions.get()).values.find((v) => v.labels.to === "MASTER")?.value, 1);
    await stopAgent(r);
  });

  void test("a line of an instance the node does not run is ignored", async () => {
    const r = await startAgent();
    await publishWeb(r);
    const before = r.io.statusWrites.length;
    r.io.fifoLine?.('INSTANCE "vip_4_99" MASTER 100', r.clock.now());
    await r.clock.advance(1000);
    assert.equal(r.io.statusWrites.length, before);
    await stopAgent(r);
  });

  void test("a keepalived crash removes its leftover VIPs, reports FAULT and counts a restart", async () => {
    const r = await startAgent();
    await publishWeb(r);
    r.io.fifoLine?.('INSTANCE "vip_4_51" MASTER 100', r.clock.now());
    await r.clock.advance(0);
    await r.io.keepalived.crash();
    await r.clock.advance(0);
    const crash = r.io.log.indexOf("keepalived:exited");
    assert.deepEqual(r.io.log.slice(crash, crash + 3), ["keepalived:exited", "leftovers:cleanup=vip_4_51", `status:${KEY}=FAULT`]);
    assert.equal(await counter(r, "keepalivedRestarts"), 1);
    await stopAgent(r);
  });

  void test("status writes that fail are retried on the clock and catch up", async () => {
    const r = await startAgent();
    await publishWeb(r);
    r.io.statusDown = true;
    r.io.fifoLine?.('INSTANCE "vip_4_51" MASTER 100', r.clock.now());
    await r.clock.advance(2000);
    assert.equal(r.io.statusWrites.filter((w) => w.entry?.state === "MASTER").length, 0);
    r.io.statusDown = false;
    await r.clock.advance(5000);
    assert.equal(r.io.statusWrites.filter((w) => w.entry?.state === "MASTER").length, 1);
    await stopAgent(r);
  });
});

void describe("Agent: heartbeat", () => {
  void test("the Lease is renewed at start and then every interval of the fake clock, with the node's facts", async () => {
    const r = await startAgent();
    const t0 = r.clock.now();
    await r.clock.advance(9000);
    assert.deepEqual(
      r.io.leases.map((l) => l.at - t0),
      [0, 3000, 6000, 9000],
    );
    const last = r.io.leases.at(-1)?.annotations ?? {};
    assert.equal(last[ANNOTATION_DEFAULT_INTERFACE], "eth0");
    assert.ok(ANNOTATION_RUNNING_ADDRESSES in last, "running addresses are not published");
    await stopAgent(r);
    const count = r.io.leases.length;
    await r.clock.advance(10_000);
    assert.equal(r.io.leases.length, count, "a stopped agent renewed its Lease");
  });
});

void describe("Agent: placement", () => {
  void test("a cordoned node (handover in the plan) sets the handover track file and keeps keepalived running", async () => {
    const r = await startAgent();
    await publishWeb(r);
    assert.ok(r.io.log.includes("track:write handover=0"));
    r.io.nodeWatch?.onChange(nodeSecret([WEB.name], { handover: "Unschedulable" }));
    await r.clock.advance(3000);
    assert.equal(r.io.log.filter((l) => l.startsWith("track:write")).at(-1), "track:write handover=1");
    assert.equal(r.io.keepalived.phase, "running");
    assert.equal(r.io.keepalived.reloads, 0, "a handover reloaded keepalived");
    await stopAgent(r);
  });
});

void describe("Agent: SIGTERM", () => {
  void test("handover file first, MASTERs handed over, then keepalived stops and STOPPED is reported", async () => {
    const r = await startAgent();
    await publishWeb(r);
    r.io.fifoLine?.('INSTANCE "vip_4_51" MASTER 100', r.clock.now());
    await r.clock.advance(0);
    let done = false;
    const stopping = r.agent.stop().then(() => (done = true));
    await r.clock.advance(300);
    assert.ok(r.io.log.includes("track:handover=1"), "the handover file was not set");
    assert.ok(!r.io.log.includes("keepalived:stop"), "keepalived stopped while this node was still MASTER");
    // A BACKUP took over: this node's instance drops to BACKUP; the stop goes on at once.
    r.io.fifoLine?.('INSTANCE "vip_4_51" BACKUP 1', r.clock.now());
    await r.clock.advance(0);
    for (let i = 0; i < 50 && !done; i++) await r.clock.advance(100);
    await stopping;
    const order = ["track:handover=1", "keepalived:stop", `status:${KEY}=STOPPED`].map((e) => r.io.log.lastIndexOf(e));
    assert.ok(
      order.every((i) => i >= 0),
      JSON.stringify(r.io.log),
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      JSON.stringify(r.io.log),
    );
  });

  void test("a handover that no BACKUP takes ends at its timeout and keepalived stops anyway", async () => {
    const r = await startAgent();
    await publishWeb(r);
    r.io.fifoLine?.('INSTANCE "vip_4_51" MASTER 100', r.clock.now());
    await r.clock.advance(0);
    const t0 = r.clock.now();
    await stopAgent(r);
    assert.ok(r.io.log.includes("keepalived:stop"));
    const stoppedAt = r.clock.now() - t0;
    // Settle (200 ms) plus two advert intervals (2 s) of waiting, on the fake clock.
    assert.ok(stoppedAt >= 2200 && stoppedAt < 4000, `stopped after ${stoppedAt} ms`);
  });
});
