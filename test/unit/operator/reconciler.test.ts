// The reconciler end to end on a fake ClusterWriter and a fake clock: what it
// writes for a change, that a converged cluster costs no write, retries, deletion and leadership.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { nodeConfigSecretName } from "../../../src/api/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { agentLease, apiError, FINALIZER, nextRv, nodeObject, serviceObject, startReconciler, vipObject, type Harness } from "./reconciler-fixture.js";

const WEB = { service: "web", address: "192.0.2.60", virtualRouterId: 51 };
const NODE_A = nodeConfigSecretName("node-a");
const NODE_B = nodeConfigSecretName("node-b");

/** Two nodes, a LoadBalancer Service and a VirtualIP on both nodes, converged. */
async function converged(opts: Parameters<typeof startReconciler>[0] & { leases?: boolean } = {}): Promise<Harness> {
  const h = startReconciler(opts);
  h.put("Node", nodeObject("node-a", "192.0.2.11"));
  h.put("Node", nodeObject("node-b", "192.0.2.12"));
  if (opts.leases) for (const n of ["node-a", "node-b"]) h.put("Lease", agentLease(n, { running: [] }));
  h.put("Service", serviceObject("web"));
  h.put("VirtualIP", vipObject("web", WEB));
  await h.settle();
  return h;
}

/** The published node.json of a node's config Secret as last written. */
function nodeJson(h: Harness, secret: string): { instances?: unknown } & Record<string, unknown> {
  const last = h.writer.of(`secret/${secret}`).at(-1);
  const data = (last?.body as { data?: Record<string, string> } | undefined)?.data ?? {};
  return JSON.parse(Buffer.from(data["node.json"] ?? "", "base64").toString("utf8")) as Record<string, unknown>;
}

/** Deletes the VirtualIP as the API server does while a finalizer holds it: a deletionTimestamp and a new resourceVersion. */
function markDeleted(h: Harness, key: string): void {
  const live = h.cache.get("VirtualIP", key) as RawObject;
  h.put("VirtualIP", { ...live, metadata: { ...live.metadata, deletionTimestamp: new Date(h.clock.now()).toISOString(), resourceVersion: nextRv() } });
}

async function planRuns(h: Harness): Promise<number> {
  const m = await h.metrics.reconciles.get();
  return m.values.filter((v) => v.labels.kind === "plan" && v.labels.result === "success").reduce((n, v) => n + v.value, 0);
}

void describe("Reconciler: a new VirtualIP", () => {
  void test("gets its instance and node Secrets, its Service's ingress, the finalizer and a status with its address", async () => {
    const h = await converged();
    const what = h.writer.writes.map((w) => w.what);
    assert.ok(
      what.some((w) => w.startsWith("secret/keepalived-vip-instance-")),
      "an instance Secret",
    );
    assert.ok(what.includes(`secret/${NODE_A}`) && what.includes(`secret/${NODE_B}`), "a node Secret per node");
    assert.match(JSON.stringify(nodeJson(h, NODE_A)), /"instance":"vip_4_51"/);
    assert.deepEqual(h.writer.of("service-status/default/web").at(-1)?.body, { loadBalancer: { ingress: [{ ip: "192.0.2.60" }] } });
    assert.deepEqual(
      h.writer.of("finalizers/default/web").map((w) => w.body),
      [[FINALIZER]],
    );
    const status = h.writer.of("virtualip-status/default/web").at(-1)?.body as { address?: string; virtualRouterId?: number } | undefined;
    assert.equal(status?.address, "192.0.2.60");
    assert.equal(status?.virtualRouterId, 51);
    // The data plane first: every config Secret is written before the VirtualIP's status.
    const lastSecret = Math.max(...what.map((w, i) => (w.startsWith("secret/") ? i : -1)));
    assert.ok(lastSecret < what.indexOf("virtualip-status/default/web"));
    // Each object once: nothing is written twice on the way to convergence.
    assert.equal(new Set(what).size, what.length, what.join(", "));
  });
});

void describe("Reconciler: idle writes", () => {
  void test("a full pass over an unchanged cache writes nothing", async () => {
    const h = await converged({ leases: true });
    const before = h.writer.writes.length;
    const passes = await planRuns(h);
    // A new leadership term plans everything again (render and every status).
    h.reconciler.stopLeading();
    h.reconciler.startLeading();
    await h.settle();
    assert.ok((await planRuns(h)) > passes, "a planning pass ran");
    assert.deepEqual(h.writer.writes.slice(before), []);
  });

  void test("changes the plan does not read (a Node heartbeat, a Lease renewal) write nothing", async () => {
    const h = await converged({ leases: true });
    const before = h.writer.writes.length;
    const node = h.cache.get("Node", "node-a") as RawObject;
    h.put("Node", {
      ...node,
      metadata: { ...node.metadata, resourceVersion: nextRv() },
      status: { ...(node.status as Record<string, unknown>), conditions: [{ type: "Ready", status: "True" }] },
    });
    h.put("Lease", agentLease("node-a", { running: [] }));
    await h.settle();
    assert.deepEqual(h.writer.writes.slice(before), []);
  });
});

void describe("Reconciler: config Secrets", () => {
  void test("one edited or deleted behind the operator's back is written again, once, and no other", async () => {
    const h = await converged();
    const key = `${h.config.planNamespace}/${NODE_A}`;
    const live = h.cache.get("Secret", key) as RawObject;
    let before = h.writer.writes.length;
    h.put("Secret", { ...live, metadata: { ...live.metadata, resourceVersion: nextRv() }, data: { "node.json": Buffer.from("{}").toString("base64") } });
    await h.settle();
    assert.deepEqual(
      h.writer.writes.slice(before).map((w) => w.what),
      [`secret/${NODE_A}`],
    );
    before = h.writer.writes.length;
    h.remove("Secret", key);
    await h.settle();
    assert.deepEqual(
      h.writer.writes.slice(before).map((w) => w.what),
      [`secret/${NODE_A}`],
    );
  });

  void test("a VirtualIP's new address reaches the Secrets that carry it", async () => {
    const h = await converged();
    const before = h.writer.writes.length;
    const live = h.cache.get("VirtualIP", "default/web") as RawObject;
    h.put("VirtualIP", {
      ...live,
      metadata: { ...live.metadata, generation: 2, resourceVersion: nextRv() },
      spec: { ...(live.spec as Record<string, unknown>), address: "192.0.2.61" },
    });
    await h.settle();
    const data = h.writer.writes
      .slice(before)
      .filter((w) => w.what.startsWith("secret/"))
      .flatMap((w) => Object.values((w.body as { data?: Record<string, string> }).data ?? {}))
      .map((d) => Buffer.from(d, "base64").toString("utf8"));
    assert.ok(
      data.some((d) => d.includes('"192.0.2.61"')),
      "a config Secret written with the new address",
    );
  });
});

void describe("Reconciler: when a pass runs", () => {
  void test("a change after a quiet spell is planned at once, not a debounce time later", async () => {
    const h = await converged();
    await h.clock.advance(100);
    const passes = await planRuns(h);
    const vip = h.cache.get("VirtualIP", "default/web") as RawObject;
    h.put("VirtualIP", {
      ...vip,
      metadata: { ...vip.metadata, generation: 2, resourceVersion: nextRv() },
      spec: { ...(vip.spec as object), address: "192.0.2.61" },
    });
    await h.clock.advance(2);
    await h.reconciler.queue.idle();
    assert.ok((await planRuns(h)) > passes, "planned within 2 ms (the debounce time is 20 ms)");
    const instanceJson = (w: { body?: unknown }): string => {
      const data = (w.body as { data?: Record<string, string> } | undefined)?.data ?? {};
      return Object.values(data)
        .map((d) => Buffer.from(d, "base64").toString("utf8"))
        .join("");
    };
    assert.ok(
      h.writer.of("secret/keepalived-vip-instance-").some((w) => instanceJson(w).includes('"192.0.2.61"')),
      "the new address is published",
    );
  });
});

void describe("Reconciler: how passes are planned (metric)", () => {
  void test("one full pass to converge (a pool's status write is no reason for another); a VirtualIP's change incremental; a Node's new label full", async () => {
    const h = await converged();
    const passes = async (): Promise<Record<string, number>> =>
      Object.fromEntries((await h.metrics.renderPasses.get()).values.map((v) => [`${v.labels.pass}/${v.labels.reason}`, v.value]));
    const full = (p: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(p).filter(([k]) => k.startsWith("full/")));
    const converging = await passes();
    assert.deepEqual(full(converging), { "full/first": 1 }, JSON.stringify(converging));
    assert.ok(h.writer.of("pool-status/").length > 0, "the pool's status was written meanwhile");
    const vip = h.cache.get("VirtualIP", "default/web") as RawObject;
    h.put("VirtualIP", {
      ...vip,
      metadata: { ...vip.metadata, generation: 2, resourceVersion: nextRv() },
      spec: { ...(vip.spec as object), address: "192.0.2.61" },
    });
    await h.settle();
    const moved = await passes();
    assert.deepEqual(full(moved), { "full/first": 1 });
    assert.ok((moved["incremental/"] ?? 0) > (converging["incremental/"] ?? 0), "the address change was planned incrementally");
    const node = h.cache.get("Node", "node-a") as RawObject;
    h.put("Node", { ...node, metadata: { ...node.metadata, labels: { zone: "a" }, resourceVersion: nextRv() } });
    await h.settle();
    assert.deepEqual(full(await passes()), { "full/first": 1, "full/nodes": 1 });
  });
});

void describe("Reconciler: writes that fail", () => {
  void test("a failed Secret write is retried until it lands, once", async () => {
    const h = startReconciler();
    h.writer.failures.set("applySecret", [apiError(500), apiError(500)]);
    h.put("Node", nodeObject("node-a", "192.0.2.11"));
    h.put("Service", serviceObject("web"));
    h.put("VirtualIP", vipObject("web", WEB));
    await h.settle(2000);
    assert.equal(h.writer.failures.get("applySecret")?.length, 0, "both failures were met");
    assert.equal(h.writer.of(`secret/${NODE_A}`).length, 1);
    assert.ok(h.cache.get("Secret", `${h.config.planNamespace}/${NODE_A}`), "the stored Secret is cached");
    const errors = (await h.metrics.reconciles.get()).values.find((v) => v.labels.kind === "secret" && v.labels.result === "error");
    assert.equal(errors?.value, 2);
  });

  void test("a VirtualIP gone before its write (404) is no error and is not retried", async () => {
    const h = await converged();
    h.writer.failures.set("applyVirtualIPStatus", [apiError(404)]);
    const live = h.cache.get("VirtualIP", "default/web") as RawObject;
    h.put("VirtualIP", {
      ...live,
      metadata: { ...live.metadata, generation: 2, resourceVersion: nextRv() },
      spec: { ...(live.spec as object), address: "192.0.2.61" },
    });
    await h.settle();
    const errors = (await h.metrics.reconciles.get()).values.find((v) => v.labels.kind === "virtualip" && v.labels.result === "error");
    assert.equal(errors, undefined);
    assert.equal(h.writer.failures.get("applyVirtualIPStatus")?.length, 0);
  });
});

void describe("Reconciler: deletion (ADR 0017)", () => {
  void test("the finalizer goes only after the configs dropped the VirtualIP and every node confirmed", async () => {
    const h = await converged({ leases: true });
    const before = h.writer.writes.length;
    markDeleted(h, "default/web");
    await h.settle();
    const after = h.writer.writes.slice(before).map((w) => w.what);
    assert.ok(after.includes(`secret/${NODE_A}`) && after.includes(`secret/${NODE_B}`), "node configs without it");
    assert.doesNotMatch(JSON.stringify(nodeJson(h, NODE_A)), /vip_4_51/);
    assert.deepEqual(h.writer.of("service-status/default/web").at(-1)?.body, {}, "the ingress given up");
    assert.deepEqual(h.writer.of("finalizers/default/web").length, 1, "the nodes have not confirmed yet: the finalizer stays");
    // node-a confirms; node-b still runs the address.
    h.put("Lease", agentLease("node-a", { running: [] }));
    h.put("Lease", agentLease("node-b", { running: ["192.0.2.60"] }));
    await h.settle();
    assert.equal(h.writer.of("finalizers/default/web").length, 1, "node-b still runs it");
    h.put("Lease", agentLease("node-b", { running: [] }));
    await h.settle();
    assert.deepEqual(h.writer.of("finalizers/default/web").at(-1)?.body, []);
    assert.equal(h.cache.get("VirtualIP", "default/web"), undefined, "gone with its last finalizer");
    assert.equal(h.writer.of("event/default/web/DeletionUnconfirmed").length, 0);
  });

  void test("a deletion seen while the VirtualIP's status write waits in the queue keeps the finalizer until a render left it out", async () => {
    // No agents: nothing to wait for once the configs dropped it. --workers 1: the pass's keys wait in the queue.
    const h = await converged({ flags: { workers: "1" } });
    let release = (): void => undefined;
    h.writer.gate = new Promise((r) => (release = r));
    const live = h.cache.get("VirtualIP", "default/web") as RawObject;
    h.put("VirtualIP", {
      ...live,
      metadata: { ...live.metadata, generation: 2, resourceVersion: nextRv() },
      spec: { ...(live.spec as object), vrrp: { priorities: { "node-a": 150 } } },
    });
    await h.clock.advance(25);
    markDeleted(h, "default/web");
    release();
    h.writer.gate = undefined;
    await h.settle();
    const what = h.writer.writes.map((w) => w.what);
    const removed = h.writer.writes.findIndex((w) => w.what === "finalizers/default/web" && JSON.stringify(w.body) === "[]");
    assert.ok(removed > 0, "the finalizer went");
    const lastNodeConfig = Math.max(what.lastIndexOf(`secret/${NODE_A}`), what.lastIndexOf(`secret/${NODE_B}`));
    assert.ok(lastNodeConfig < removed, what.join(", "));
    assert.doesNotMatch(JSON.stringify(nodeJson(h, NODE_A)), /vip_4_51/);
  });

  void test("nodes that never confirm are given up on at the deletion timeout, with a Warning Event", async () => {
    const h = await converged({ leases: true, flags: { "deletion-timeout": "60s" } });
    const deletedAt = h.clock.now();
    markDeleted(h, "default/web");
    // The agents go silent (their Leases expire after 10 s); the timeout runs from when the deletion was seen.
    await h.clock.advance(59_000);
    await h.settle(500);
    assert.ok(h.clock.now() < deletedAt + 60_000);
    assert.equal(h.writer.of("finalizers/default/web").length, 1, "still waiting before the timeout");
    const status = h.cache.get("VirtualIP", "default/web")?.status as { conditions?: { type: string; reason: string }[] } | undefined;
    assert.equal(status?.conditions?.find((c) => c.type === "Ready")?.reason, "Deleting");
    await h.clock.advance(1_000);
    await h.settle();
    assert.deepEqual(h.writer.of("finalizers/default/web").at(-1)?.body, []);
    assert.equal(h.writer.of("event/default/web/DeletionUnconfirmed").length, 1);
  });
});

void describe("Reconciler: leadership", () => {
  void test("a replica that lost leadership writes nothing; leading again, it catches up", async () => {
    const h = await converged();
    h.reconciler.stopLeading();
    const before = h.writer.writes.length;
    h.put("Service", serviceObject("api"));
    h.put("VirtualIP", vipObject("api", { service: "api", address: "192.0.2.70", virtualRouterId: 52 }));
    await h.settle();
    assert.deepEqual(h.writer.writes.slice(before), []);
    h.reconciler.startLeading();
    await h.settle();
    assert.ok(h.writer.of("virtualip-status/default/api").length > 0);
    assert.deepEqual(h.writer.of("service-status/default/api").at(-1)?.body, { loadBalancer: { ingress: [{ ip: "192.0.2.70" }] } });
  });
});

void describe("Reconciler: leadership lost mid-pass", () => {
  void test("keys queued before leadership was lost write nothing; only the writes in flight land", async () => {
    // --workers 1: two slots (the pass and one write), so most of the pass's keys wait in the queue.
    const h = await converged({ flags: { workers: "1" } });
    const before = h.writer.writes.length;
    let release = (): void => undefined;
    h.writer.gate = new Promise((r) => (release = r));
    h.put("Node", nodeObject("node-c", "192.0.2.13"));
    await h.clock.advance(25);
    h.reconciler.stopLeading();
    release();
    h.writer.gate = undefined;
    await h.settle();
    const after = h.writer.writes.slice(before).map((w) => w.what);
    // A new node changes the instance and every node's config (4 Secrets); at most the two slots were writing.
    assert.ok(after.length <= 2, after.join(", "));
    assert.ok(!after.includes(`secret/${NODE_A}`) || !after.includes(`secret/${NODE_B}`), after.join(", "));
  });
});

void describe("Reconciler: stale objects", () => {
  void test("the config Secret of a deleted Node is deleted", async () => {
    const h = await converged();
    h.remove("Node", "node-b");
    await h.settle();
    assert.equal(h.writer.of(`secret/${NODE_B}`).filter((w) => w.verb === "delete").length, 1);
    assert.equal(h.cache.get("Secret", `${h.config.planNamespace}/${NODE_B}`), undefined);
  });
});

void describe("Reconciler: agent liveness across a Lease watch outage", () => {
  /** Converged with Leases, and both nodes' agents have reported (MASTER and BACKUP). */
  async function reported(): Promise<Harness> {
    const h = await converged({ leases: true });
    const live = h.cache.get("VirtualIP", "default/web") as RawObject;
    const since = new Date(h.clock.now()).toISOString();
    const nodes = [
      { name: "node-a", state: "MASTER", since, priority: 250 },
      { name: "node-b", state: "BACKUP", since, priority: 175 },
    ];
    h.put("VirtualIP", { ...live, metadata: { ...live.metadata, resourceVersion: nextRv() }, status: { ...(live.status as Record<string, unknown>), nodes } });
    await h.settle();
    return h;
  }
  const unknownWrites = (h: Harness, from: number): string[] =>
    h.writer.writes.slice(from).flatMap((w) => (w.what.startsWith("node-entry/") && JSON.stringify(w.body).includes("UNKNOWN") ? [w.what] : []));

  void test("Leases that stop changing make their nodes UNKNOWN once they expire (the watch up)", async () => {
    const h = await reported();
    const before = h.writer.writes.length;
    await h.settle(12_000);
    assert.deepEqual(unknownWrites(h, before).sort(), ["node-entry/default/web/node-a", "node-entry/default/web/node-b"]);
  });

  void test("while the watch is down no node expires; after it recovers each Lease has one more duration", async () => {
    const h = await reported();
    const before = h.writer.writes.length;
    h.reconciler.onLeaseWatch(false);
    await h.settle(30_000);
    assert.deepEqual(unknownWrites(h, before), [], "renewals the operator could not see are not silence");
    h.reconciler.onLeaseWatch(true);
    await h.settle(8_000);
    h.put("Lease", agentLease("node-a", { running: [] }));
    await h.settle(4_000);
    assert.deepEqual(unknownWrites(h, before), ["node-entry/default/web/node-b"], "node-b never renewed after the recovery; node-a did");
  });
});
