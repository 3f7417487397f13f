import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { leadershipExpired, planLeaderAction, planLeaseRelease } from "../../../src/operator/leader.js";
import { formatMicroTime, type LeaseRecord } from "../../../src/kube/leader.js";

const T0 = Date.parse("2024-05-01T10:00:00Z");
const ME = "operator-a";
const OTHER = "operator-b";

function held(holder: string, rv: string, extra: Partial<LeaseRecord> = {}) {
  return {
    resourceVersion: rv,
    record: {
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      acquireTime: formatMicroTime(T0 - 60_000),
      renewTime: formatMicroTime(T0 - 1000),
      leaseTransitions: 3,
      ...extra,
    },
  };
}

void describe("planLeaderAction", () => {
  void test("creates the Lease when there is none, holding it with zero transitions", () => {
    const { action } = planLeaderAction({ lease: undefined, now: T0, identity: ME, leaseDurationMs: 15_000 });
    assert.equal(action.kind, "create");
    assert.deepEqual(action.kind === "create" && action.record, {
      holderIdentity: ME,
      leaseDurationSeconds: 15,
      acquireTime: "2024-05-01T10:00:00.000000Z",
      renewTime: "2024-05-01T10:00:00.000000Z",
      leaseTransitions: 0,
    });
  });

  void test("renews its own Lease, keeping acquireTime and transitions", () => {
    const lease = held(ME, "7");
    const { action } = planLeaderAction({ lease, now: T0, identity: ME, leaseDurationMs: 15_000 });
    assert.equal(action.kind, "renew");
    if (action.kind !== "renew") return;
    assert.equal(action.resourceVersion, "7");
    assert.equal(action.record.acquireTime, lease.record.acquireTime);
    assert.equal(action.record.leaseTransitions, 3);
    assert.equal(action.record.renewTime, formatMicroTime(T0));
  });

  // Expiry is measured from when this replica first saw the current resourceVersion.
  const expiry: { name: string; observedAt: number; observedRv: string; rv: string; now: number; want: string }[] = [
    { name: "first sight of another holder waits a full duration", observedAt: 0, observedRv: "", rv: "9", now: T0, want: "wait" },
    {
      name: "unchanged Lease of another holder, 14 s after first sight, still waits",
      observedAt: T0,
      observedRv: "9",
      rv: "9",
      now: T0 + 14_000,
      want: "wait",
    },
    {
      name: "unchanged Lease of another holder, 15 s after first sight, is taken over",
      observedAt: T0,
      observedRv: "9",
      rv: "9",
      now: T0 + 15_000,
      want: "acquire",
    },
    { name: "a renewed Lease restarts the wait", observedAt: T0, observedRv: "9", rv: "10", now: T0 + 20_000, want: "wait" },
  ];
  for (const c of expiry) {
    void test(c.name, () => {
      const observed = c.observedRv ? { resourceVersion: c.observedRv, observedAt: c.observedAt } : undefined;
      const { action, observation } = planLeaderAction({ lease: held(OTHER, c.rv), now: c.now, identity: ME, leaseDurationMs: 15_000, observed });
      assert.equal(action.kind, c.want);
      assert.equal(observation?.resourceVersion, c.rv);
      if (action.kind === "acquire") {
        assert.equal(action.record.holderIdentity, ME);
        assert.equal(action.record.leaseTransitions, 4);
        assert.equal(action.previousHolder, OTHER);
      }
      if (action.kind === "wait") assert.equal(action.expiresAt, (observed && c.rv === c.observedRv ? c.observedAt : c.now) + 15_000);
    });
  }

  void test("a released Lease (no holder) is taken at once", () => {
    const lease = held("", "11", { leaseDurationSeconds: 1 });
    const { action } = planLeaderAction({ lease, now: T0, identity: ME, leaseDurationMs: 15_000 });
    assert.equal(action.kind, "acquire");
    assert.equal(action.kind === "acquire" && action.record.leaseDurationSeconds, 15);
  });

  void test("the holder's own leaseDurationSeconds decides expiry", () => {
    const lease = held(OTHER, "12", { leaseDurationSeconds: 60 });
    const observed = { resourceVersion: "12", observedAt: T0 };
    assert.equal(planLeaderAction({ lease, now: T0 + 30_000, identity: ME, leaseDurationMs: 15_000, observed }).action.kind, "wait");
    assert.equal(planLeaderAction({ lease, now: T0 + 60_000, identity: ME, leaseDurationMs: 15_000, observed }).action.kind, "acquire");
  });
});

void describe("planLeaseRelease", () => {
  void test("clears the holder and shortens the duration to 1 s", () => {
    const rec = planLeaseRelease(held(ME, "3").record, T0);
    assert.equal(rec.holderIdentity, "");
    assert.equal(rec.leaseDurationSeconds, 1);
    assert.equal(rec.leaseTransitions, 3);
    assert.equal(rec.renewTime, formatMicroTime(T0));
  });
});

void describe("leadershipExpired", () => {
  const cases: [number, boolean][] = [
    [0, false],
    [9_999, false],
    [10_000, true],
    [25_000, true],
  ];
  for (const [sinceRenew, want] of cases) {
    void test(`${sinceRenew} ms after the last renew with a 10 s deadline: ${want ? "gives up" : "keeps leading"}`, () => {
      assert.equal(leadershipExpired(T0, T0 + sinceRenew, 10_000), want);
    });
  }
});
