// LeaderElector in-process with a fake clock and an in-memory Lease store that
// can become unreachable or hang: it steps down exactly at the renew deadline,
// never leads while another holder can, and leads again when it wins.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LeaderElector, type LeaseStore } from "../../../src/operator/leader.js";
import type { LeaseRecord, LeaseRef, ObservedLease } from "../../../src/kube/leader.js";
import { FakeClock } from "../../../src/shared/clock.js";
import type { Logger } from "../../../src/shared/logger.js";

const ME = "op-1";
const OTHER = "op-2";
const TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 };

/** One Lease in memory, with optimistic concurrency; `mode` makes it fail or hang like an absent API server. */
class MemoryLeases implements LeaseStore {
  lease: ObservedLease | undefined;
  mode: "up" | "down" | "hang" = "up";
  private rv = 0;
  private readonly hung: (() => void)[] = [];

  private gate<T>(fn: () => T): Promise<T> {
    if (this.mode === "down") return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6443"));
    if (this.mode === "hang")
      return new Promise<T>((resolve, reject) => this.hung.push(() => (this.mode === "up" ? resolve(fn()) : reject(new Error("socket hang up")))));
    return Promise.resolve(fn());
  }

  /** Lets hung requests go through (as the API server answers late). */
  release(): void {
    for (const r of this.hung.splice(0)) r();
  }

  /** A write by another replica, bypassing the API-server state of this store. */
  writeDirect(record: LeaseRecord): void {
    this.lease = { resourceVersion: String(++this.rv), record };
  }

  read(_ref: LeaseRef): Promise<ObservedLease | undefined> {
    return this.gate(() => this.lease && structuredClone(this.lease));
  }

  create(_ref: LeaseRef, record: LeaseRecord): Promise<ObservedLease> {
    return this.gate(() => {
      if (this.lease) throw Object.assign(new Error("exists"), { statusCode: 409 });
      this.lease = { resourceVersion: String(++this.rv), record };
      return structuredClone(this.lease);
    });
  }

  update(_ref: LeaseRef, update: { resourceVersion: string; record: LeaseRecord }): Promise<ObservedLease> {
    return this.gate(() => {
      if (this.lease?.resourceVersion !== update.resourceVersion) throw Object.assign(new Error("conflict"), { statusCode: 409 });
      this.lease = { resourceVersion: String(++this.rv), record: update.record };
      return structuredClone(this.lease);
    });
  }
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;

function setup() {
  const clock = new FakeClock();
  const leases = new MemoryLeases();
  const calls: string[] = [];
  const elector = new LeaderElector({
    leases,
    lease: { namespace: "ns", name: "leader" },
    identity: ME,
    timing: TIMING,
    clock,
    logger: quiet,
    onStartedLeading: () => calls.push(`start@${clock.now() - t0}`),
    onStoppedLeading: () => calls.push(`stop@${clock.now() - t0}`),
  });
  const t0 = clock.now();
  /** Advances the fake clock to `ms` after the start. */
  const at = (ms: number): Promise<void> => clock.advance(t0 + ms - clock.now());
  return { clock, leases, calls, elector, at };
}

void describe("LeaderElector: step down and return, in one process", () => {
  void test("an API outage longer than the renew deadline: steps down exactly at the deadline, keeps trying, leads again when the API returns", async () => {
    const { leases, calls, elector, at } = setup();
    elector.start();
    await at(0);
    assert.deepEqual(calls, ["start@0"]);
    await at(4000); // renewals at 0, 2000, 4000
    leases.mode = "down";
    await at(13_999);
    assert.equal(elector.isLeader(), true, "still within the renew deadline");
    await at(14_000);
    assert.equal(elector.isLeader(), false);
    assert.deepEqual(calls, ["start@0", "stop@14000"]);
    await at(30_000);
    assert.deepEqual(calls, ["start@0", "stop@14000"], "no second stop while away");
    leases.mode = "up";
    await at(33_000);
    assert.equal(elector.isLeader(), true);
    // A follower's retries are jittered (up to +20 % of the retry period).
    assert.equal(calls.length, 3);
    const back = Number(calls[2]?.replace("start@", ""));
    assert.ok(back > 30_000 && back <= 32_400, `led again at ${back}`);
    assert.equal(leases.lease?.record.holderIdentity, ME);
    assert.equal(leases.lease?.record.leaseTransitions, 0, "its own Lease, renewed: no transition");
    await elector.release();
  });

  void test("requests that hang do not delay the step-down; leads again once the API server answers", async () => {
    const { leases, calls, elector, at } = setup();
    elector.start();
    await at(2000); // renewals at 0 and 2000
    leases.mode = "hang";
    await at(12_000);
    assert.deepEqual(calls, ["start@0", "stop@12000"]);
    leases.mode = "up";
    leases.release();
    await at(20_000);
    assert.equal(elector.isLeader(), true);
    assert.equal(calls.length, 3);
    await elector.release();
  });

  void test("another replica takes the expired Lease during the outage: this one is not leading then, and waits as a follower afterwards", async () => {
    const { leases, calls, elector, at } = setup();
    elector.start();
    await at(4000);
    leases.mode = "down";
    // The other replica saw our last renewal at 4000 and takes over one lease duration later.
    await at(19_000);
    assert.equal(elector.isLeader(), false, "must have stepped down before the Lease could expire for others");
    leases.writeDirect({ holderIdentity: OTHER, leaseDurationSeconds: 15, acquireTime: "t", renewTime: "t", leaseTransitions: 1 });
    leases.mode = "up";
    // Within one lease duration of first seeing the other holder's Lease (it does not renew here): wait.
    await at(30_000);
    assert.equal(elector.isLeader(), false);
    assert.deepEqual(calls, ["start@0", "stop@14000"]);
    assert.equal(leases.lease?.record.holderIdentity, OTHER);
    await elector.release();
  });
});
