import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HeartbeatSightings } from "../../../src/operator/heartbeats.js";
import type { RawObject } from "../../../src/kube/watch.js";

/** An agent Lease at a resourceVersion; renewTime is the agent's clock and must not matter. */
function lease(version: string, renewTime = "1999-01-01T00:00:00.000000Z", durationSeconds = 10): RawObject {
  return {
    metadata: { namespace: "keepalived-vip-nodes", name: "keepalived-vip-agent-node-a", resourceVersion: version },
    spec: { holderIdentity: "node-a", leaseDurationSeconds: durationSeconds, renewTime },
  };
}

void describe("HeartbeatSightings: liveness on the operator's clock", () => {
  void test("a Lease seen for the first time is live for one duration, whatever its renewTime says", () => {
    const h = new HeartbeatSightings();
    assert.equal(h.isLive(lease("1", "1999-01-01T00:00:00.000000Z"), 1_000_000), true);
    assert.equal(h.expiry(lease("1"), 1_005_000), 1_010_000);
    assert.equal(h.isLive(lease("1"), 1_009_999), true);
    assert.equal(h.isLive(lease("1"), 1_010_000), false);
  });

  void test("each new resourceVersion renews it at the time it is seen; an unchanged one expires", () => {
    const h = new HeartbeatSightings();
    h.isLive(lease("1"), 0);
    assert.equal(h.isLive(lease("2", "2099-01-01T00:00:00.000000Z"), 8_000), true);
    assert.equal(h.expiry(lease("2"), 17_000), 18_000);
    assert.equal(h.isLive(lease("2"), 18_000), false, "a renewTime far in the future keeps nothing alive");
  });

  void test("renewedAt is known only after a change was seen", () => {
    const h = new HeartbeatSightings();
    assert.equal(h.renewedAt(lease("1"), 100), undefined);
    assert.equal(h.renewedAt(lease("2"), 200), 200);
    assert.equal(h.renewedAt(lease("2"), 300), 200);
  });

  void test("while the Lease watch is down no agent expires; once it is current again every Lease counts as seen then", () => {
    const h = new HeartbeatSightings();
    h.isLive(lease("1"), 0);
    h.watchDown();
    assert.equal(h.isLive(lease("1"), 60_000), true, "an unseen renewal is not silence");
    assert.equal(h.expiry(lease("1"), 60_000), Infinity);
    h.watchUp(70_000);
    assert.equal(h.isLive(lease("1"), 79_999), true, "live for one duration from the recovery");
    assert.equal(h.isLive(lease("1"), 80_000), false, "and silent after it, without a renewal");
    assert.equal(h.isLive(lease("2"), 85_000), true, "a renewal after the recovery counts as usual");
    assert.equal(h.expiry(lease("2"), 86_000), 95_000);
  });

  void test("watchUp without a watchDown changes nothing", () => {
    const h = new HeartbeatSightings();
    h.isLive(lease("1"), 0);
    h.watchUp(5_000);
    assert.equal(h.expiry(lease("1"), 6_000), 10_000);
  });

  void test("with a step-free clock, a wall clock stepped forward expires nobody; real time passing still does", () => {
    let mono = 0;
    const h = new HeartbeatSightings(() => mono);
    h.isLive(lease("1"), 1_000_000);
    mono = 1_000;
    assert.equal(h.isLive(lease("1"), 1_031_000), true, "30 s of wall clock step, 1 s of real time");
    assert.equal(h.expiry(lease("1"), 1_031_000), 1_040_000, "the 9 s left, as of the stepped clock");
    mono = 10_000;
    assert.equal(h.isLive(lease("1"), 1_040_000), false, "10 s of real time without a renewal");
    assert.equal(h.isLive(lease("2"), 1_040_000), true);
  });

  void test("no Lease, no resourceVersion or no duration: not live", () => {
    const h = new HeartbeatSightings();
    assert.equal(h.isLive(undefined, 0), false);
    assert.equal(h.isLive({ metadata: { name: "x" }, spec: { leaseDurationSeconds: 10 } }, 0), false);
    assert.equal(h.isLive({ metadata: { name: "x", resourceVersion: "1" }, spec: {} }, 0), false);
  });

  void test("retain forgets Leases that are gone: a returning one starts over", () => {
    const h = new HeartbeatSightings();
    h.isLive(lease("1"), 0);
    h.retain(new Set());
    assert.equal(h.renewedAt(lease("2"), 50_000), undefined, "first sighting again");
    assert.equal(h.isLive(lease("2"), 55_000), true);
  });
});
