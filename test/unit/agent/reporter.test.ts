// Tests of the status reporter: coalescing, send-time recomputation, retry
// with backoff, latency accounting. Fake clock and fake apply function only.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StatusReporter, type DesiredReport } from "../../../src/agent/reporter.js";
import { FakeClock, flushMicrotasks } from "../../../src/shared/clock.js";
import type { NodeStatus } from "../../../src/api/index.js";

type Sent = { key: string; report: Exclude<DesiredReport, { kind: "skip" }>; at: number };

function entry(state: NodeStatus["state"]): DesiredReport {
  return { kind: "entry", entry: { name: "node-a", state, priority: 100 } };
}

/** A reporter whose apply records calls and can be made to fail or hang. */
function harness(opts: { desired?: Record<string, DesiredReport> } = {}) {
  const clock = new FakeClock();
  const desired: Record<string, DesiredReport> = opts.desired ?? {};
  const sent: Sent[] = [];
  const latencies: Array<[string, number]> = [];
  const failures: number[] = [];
  let failNext = 0;
  let gate: Promise<void> | undefined;
  const reporter = new StatusReporter({
    clock,
    desired: (key) => desired[key] ?? { kind: "skip" },
    apply: async (key, report) => {
      if (gate) await gate;
      if (failNext > 0) {
        failNext--;
        throw new Error("HTTP 503: unavailable");
      }
      sent.push({ key, report, at: clock.now() });
    },
    onReported: (key, _r, ms) => latencies.push([key, ms]),
    onFailed: (_k, _e, ms) => failures.push(ms),
    retryInitialMs: 200,
    retryMaxMs: 1000,
  });
  return {
    clock,
    desired,
    sent,
    latencies,
    failures,
    reporter,
    failTimes: (n: number) => (failNext = n),
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

void describe("StatusReporter", () => {
  void test("a burst of marks for one key is one write of the latest desired entry", async () => {
    const h = harness({ desired: { "default/web": entry("BACKUP") } });
    h.reporter.mark("default/web");
    h.desired["default/web"] = entry("MASTER");
    h.reporter.mark("default/web");
    h.reporter.mark("default/web");
    await h.clock.advance(0);
    assert.equal(h.sent.length, 1);
    assert.deepEqual(h.sent[0]?.report, entry("MASTER"));
  });

  void test("keys are written independently", async () => {
    const h = harness({ desired: { "a/x": entry("MASTER"), "b/y": entry("BACKUP") } });
    h.reporter.mark("a/x");
    h.reporter.mark("b/y");
    await h.clock.advance(0);
    assert.deepEqual(h.sent.map((s) => s.key).sort(), ["a/x", "b/y"]);
  });

  void test("a mark during a write in flight causes exactly one more write, with the state at that time", async () => {
    const h = harness({ desired: { k: entry("BACKUP") } });
    const release = h.hold();
    h.reporter.mark("k");
    await h.clock.advance(0);
    h.desired.k = entry("FAULT");
    h.reporter.mark("k");
    h.desired.k = entry("MASTER");
    h.reporter.mark("k");
    release();
    await h.clock.advance(0);
    await h.clock.advance(0);
    assert.deepEqual(
      h.sent.map((s) => (s.report.kind === "entry" ? s.report.entry.state : s.report.kind)),
      ["BACKUP", "MASTER"],
    );
    assert.deepEqual(h.reporter.pending(), []);
  });

  void test("failures retry with doubling delay capped at the maximum, then the current truth is sent", async () => {
    const h = harness({ desired: { k: entry("BACKUP") } });
    h.failTimes(5);
    h.reporter.mark("k");
    await h.clock.advance(0);
    h.desired.k = entry("MASTER");
    h.reporter.mark("k");
    await h.clock.advance(10_000);
    assert.deepEqual(h.failures, [200, 400, 800, 1000, 1000]);
    assert.equal(h.sent.length, 1);
    assert.deepEqual(h.sent[0]?.report, entry("MASTER"));
    assert.equal(h.sent[0]?.at, Date.parse("2024-01-01T00:00:00Z") + 200 + 400 + 800 + 1000 + 1000);
  });

  void test("a mark while waiting for a retry does not shorten the backoff", async () => {
    const h = harness({ desired: { k: entry("BACKUP") } });
    h.failTimes(1);
    h.reporter.mark("k");
    await h.clock.advance(0);
    h.reporter.mark("k");
    await h.clock.advance(199);
    assert.equal(h.sent.length, 0);
    await h.clock.advance(1);
    assert.equal(h.sent.length, 1);
  });

  void test("retryNow ends the backoff wait of failed keys at once", async () => {
    const h = harness({ desired: { k: entry("MASTER") } });
    h.failTimes(3);
    h.reporter.mark("k");
    await h.clock.advance(0);
    await h.clock.advance(200);
    await h.clock.advance(400);
    assert.deepEqual(h.failures, [200, 400, 800]);
    h.reporter.retryNow();
    await h.clock.advance(0);
    assert.equal(h.sent.length, 1);
    assert.deepEqual(h.reporter.pending(), []);
  });

  void test("latency runs from the earliest mark covered, across retries", async () => {
    const h = harness({ desired: { k: entry("MASTER") } });
    const t0 = h.clock.now();
    h.failTimes(1);
    h.reporter.mark("k", t0 - 30);
    await h.clock.advance(0);
    await h.clock.advance(200);
    assert.deepEqual(h.latencies, [["k", 230]]);
  });

  void test("skip sends nothing and forgets the key; remove is sent as such", async () => {
    const h = harness({ desired: { gone: { kind: "remove" } } });
    h.reporter.mark("unknown");
    h.reporter.mark("gone");
    await h.clock.advance(0);
    assert.deepEqual(
      h.sent.map((s) => [s.key, s.report.kind]),
      [["gone", "remove"]],
    );
    assert.deepEqual(h.reporter.pending(), []);
  });

  void test("idle resolves once every write is done; close stops retries", async () => {
    const h = harness({ desired: { k: entry("MASTER") } });
    h.reporter.mark("k");
    let idle = false;
    void h.reporter.idle().then(() => (idle = true));
    await flushMicrotasks();
    assert.equal(idle, false);
    await h.clock.advance(0);
    assert.equal(idle, true);

    h.failTimes(100);
    h.reporter.mark("k");
    await h.clock.advance(0);
    assert.equal(h.clock.pendingTimers(), 1);
    h.reporter.close();
    assert.equal(h.clock.pendingTimers(), 0);
    h.reporter.mark("k");
    await h.clock.advance(5000);
    assert.equal(h.sent.length, 1);
  });
});
