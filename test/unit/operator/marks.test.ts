import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RawObject } from "../../../src/kube/watch.js";
import { ObjectCache, type CacheChange, type Kind } from "../../../src/operator/cache.js";
import { DeletionTracker } from "../../../src/operator/deletion.js";
import { HeartbeatSightings } from "../../../src/operator/heartbeats.js";
import { ChangeMarks, type MarkContext } from "../../../src/operator/marks.js";
import { agentLease, NS, nodeObject, serviceObject, vipObject } from "./reconciler-fixture.js";

function context(over: Partial<MarkContext> = {}): MarkContext {
  return {
    cache: new ObjectCache(),
    planNamespace: NS,
    referencedServices: new Set(["default/web"]),
    referencedInterfaces: new Set(),
    heartbeats: new HeartbeatSightings(),
    deletions: new DeletionTracker(),
    now: 1_000_000,
    ...over,
  };
}

function change(kind: Kind, previous: RawObject | undefined, current: RawObject | undefined): CacheChange {
  const obj = (current ?? previous) as RawObject;
  const key = obj.metadata?.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : (obj.metadata?.name ?? "");
  return { kind, key, ...(previous ? { previous } : {}), ...(current ? { current } : {}) };
}

/** Marks after the previous pass took everything. */
function fresh(): ChangeMarks {
  const m = new ChangeMarks();
  m.renderDirty = false;
  m.takeStatus();
  return m;
}

const bump = (o: RawObject, patch: Partial<RawObject> = {}): RawObject => ({
  ...o,
  ...patch,
  metadata: { ...o.metadata, resourceVersion: `${o.metadata?.resourceVersion}1`, ...patch.metadata },
});

void describe("ChangeMarks: what a cache change costs the next pass", () => {
  const node = nodeObject("node-a", "192.0.2.11");
  const web = serviceObject("web");
  const other = serviceObject("other");
  const vip = vipObject("web", { service: "web", address: "192.0.2.60", virtualRouterId: 51 });
  const rows: { name: string; change: CacheChange; relevant: boolean; render: boolean; status?: string[] | "all" }[] = [
    {
      name: "a Node heartbeat (conditions only): nothing",
      change: change("Node", node, bump(node, { status: { ...(node.status as object), conditions: [] } })),
      relevant: false,
      render: false,
    },
    { name: "a Node label: a render", change: change("Node", node, bump(node, { metadata: { labels: { zone: "a" } } })), relevant: true, render: true },
    { name: "a new VirtualIP: a render and its status", change: change("VirtualIP", undefined, vip), relevant: true, render: true, status: ["default/web"] },
    {
      name: "a VirtualIP's agent entries only: its status, no render",
      change: change("VirtualIP", vip, bump(vip, { status: { nodes: [{ name: "node-a", state: "MASTER" }] } })),
      relevant: true,
      render: false,
      status: ["default/web"],
    },
    {
      name: "the spec of a Service a VirtualIP names: a render",
      change: change("Service", web, bump(web, { spec: { ...(web.spec as object), externalTrafficPolicy: "Local" } })),
      relevant: true,
      render: true,
    },
    {
      name: "the spec of an unreferenced Service: a diff, no render",
      change: change("Service", other, bump(other, { spec: { ...(other.spec as object), externalTrafficPolicy: "Local" } })),
      relevant: true,
      render: false,
    },
    { name: "an unreferenced Service's metadata only: nothing", change: change("Service", other, bump(other)), relevant: false, render: false },
    {
      name: "a Lease that is no agent's: nothing",
      change: change("Lease", undefined, { metadata: { name: "some-lock", namespace: NS, resourceVersion: "5" } }),
      relevant: false,
      render: false,
    },
  ];
  for (const row of rows) {
    void test(row.name, () => {
      const m = fresh();
      assert.equal(m.mark(row.change, context()), row.relevant);
      assert.equal(m.renderDirty, row.render);
      const status = m.takeStatus();
      assert.deepEqual(status === "all" ? "all" : [...status], row.status ?? []);
    });
  }

  void test("an agent Lease renewal is nothing, unless a deletion waits on the nodes", () => {
    const lease = agentLease("node-a", { running: [] });
    const cache = new ObjectCache();
    cache.put("Lease", lease);
    const ctx = context({ cache });
    const m = fresh();
    // The planning pass looks at every agent: the first sighting makes it live, and every status is due once.
    m.refreshLiveness(ctx);
    assert.equal(m.takeStatus(), "all");
    assert.equal(m.mark(change("Lease", lease, bump(lease)), ctx), false);
    ctx.deletions.startedAt("default/web", ctx.now, "1");
    assert.equal(m.mark(change("Lease", lease, bump(bump(lease))), ctx), true);
    assert.deepEqual([...(m.takeStatus() as Set<string>)], ["default/web"]);
    assert.equal(m.renderDirty, false);
  });

  void test("an agent going silent marks every status when its liveness is looked at again", () => {
    const cache = new ObjectCache();
    const lease = agentLease("node-a", { durationSeconds: 10 });
    cache.put("Lease", lease);
    const ctx = context({ cache });
    const m = fresh();
    m.refreshLiveness(ctx);
    assert.equal(m.takeStatus(), "all", "first seen: live");
    m.refreshLiveness({ ...ctx, now: ctx.now + 5_000 });
    assert.deepEqual([...(m.takeStatus() as Set<string>)], [], "still live");
    m.refreshLiveness({ ...ctx, now: ctx.now + 10_000 });
    assert.equal(m.takeStatus(), "all", "expired");
  });
});
