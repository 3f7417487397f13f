// The operator's side of pools: the status it applies on each pool and when
// the live one needs a write. Pure.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildPoolStatus, poolStatusBody, poolStatusNeedsApply, type DesiredPoolStatus } from "../../../src/operator/pools.js";
import type { PoolPlan } from "../../../src/render/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { agentHostAddresses } from "../../../src/operator/gather.js";

const T0 = Date.parse("2024-07-01T00:00:00Z");
const iso = (ms: number): string => new Date(ms).toISOString();
const inUse: PoolPlan = {
  name: "lan",
  allocated: 3,
  available: 61,
  ready: { status: "True", reason: "InUse", message: "VirtualIPPool lan hands out 3 addresses; 61 free" },
};

function livePool(generation: number, status?: Record<string, unknown>): RawObject {
  return { metadata: { name: "lan", generation }, ...(status ? { status } : {}) };
}

void describe("buildPoolStatus", () => {
  void test("a usable pool reports the planned counts and condition", () => {
    assert.deepEqual(buildPoolStatus(inUse, new Map()), inUse);
  });

  void test("a pool that fails the schema reports its parse error, with no counts", () => {
    const error = "VirtualIPPool lan: spec.addresses.0: must be a CIDR, a range first-last of two addresses, or one address";
    assert.deepEqual(buildPoolStatus(inUse, new Map([["lan", error]])), {
      name: "lan",
      allocated: 0,
      available: 0,
      ready: { status: "False", reason: "InvalidSpec", message: error },
    });
  });
});

void describe("pool status writes", () => {
  const desired: DesiredPoolStatus = { ...inUse };

  void test("the body carries counts, the observed generation and a Ready condition", () => {
    assert.deepEqual(poolStatusBody(desired, livePool(4), iso(T0)), {
      observedGeneration: 4,
      allocated: 3,
      available: 61,
      conditions: [{ type: "Ready", ...inUse.ready, observedGeneration: 4, lastTransitionTime: iso(T0) }],
    });
  });

  void test("lastTransitionTime is kept while Ready keeps its status, and set anew when it changes", () => {
    const live = livePool(4, { conditions: [{ type: "Ready", status: "True", reason: "InUse", message: "old counts", lastTransitionTime: iso(T0 - 1000) }] });
    const kept = poolStatusBody(desired, live, iso(T0)).conditions as { lastTransitionTime: string }[];
    assert.equal(kept[0]?.lastTransitionTime, iso(T0 - 1000));
    const overlap: DesiredPoolStatus = { name: "lan", allocated: 0, available: 0, ready: { status: "False", reason: "Overlap", message: "overlaps" } };
    const changed = poolStatusBody(overlap, live, iso(T0)).conditions as { lastTransitionTime: string }[];
    assert.equal(changed[0]?.lastTransitionTime, iso(T0));
  });

  void test("a write is needed only when something differs, and never for a pool that is gone", () => {
    const current = livePool(4, poolStatusBody(desired, livePool(4), iso(T0)));
    assert.equal(poolStatusNeedsApply(desired, current), false);
    assert.equal(poolStatusNeedsApply(desired, undefined), false);
    const cases: { name: string; live: RawObject; desired?: DesiredPoolStatus }[] = [
      { name: "no status yet", live: livePool(4) },
      { name: "a new generation", live: { ...current, metadata: { name: "lan", generation: 5 } } },
      { name: "other counts", live: current, desired: { ...desired, allocated: 4, available: 60 } },
      {
        name: "another message",
        live: current,
        desired: { ...desired, ready: { ...desired.ready, message: "VirtualIPPool lan hands out 4 addresses; 60 free" } },
      },
      { name: "another reason", live: current, desired: { ...desired, ready: { status: "False", reason: "Overlap", message: desired.ready.message } } },
    ];
    for (const c of cases) assert.equal(poolStatusNeedsApply(c.desired ?? desired, c.live), true, c.name);
  });
});

void describe("agentHostAddresses", () => {
  void test("reads each agent's published host addresses; anything but a canonical IP literal is dropped", () => {
    const lease = (annotation: string | undefined): RawObject => ({
      metadata: { name: "l", annotations: annotation === undefined ? {} : { "keepalived-vip.io/host-addresses": annotation } },
    });
    const byNode = new Map<string, RawObject>([
      ["node-b", lease("192.0.2.12, 2001:db8::12,not-an-ip,192.0.2.012")],
      ["node-a", lease("192.0.2.11")],
      ["node-c", lease(undefined)],
    ]);
    assert.deepEqual(agentHostAddresses(byNode), { "node-a": ["192.0.2.11"], "node-b": ["192.0.2.12", "2001:db8::12"] });
  });
});
