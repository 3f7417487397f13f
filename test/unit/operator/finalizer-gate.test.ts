// The finalizer policy's gate (ADR 0024) with a fake port and the fake clock:
// it probes only while the policy is installed and the gate shut, opens the gate
// only on a probe that came back with the finalizer, backs off between probes,
// and does nothing once stopped.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FinalizerGate, type FinalizerGatePort, type ProbeResult } from "../../../src/operator/finalizer-gate.js";
import { FakeClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";

const TIMING = { probeMs: 1_000, maxProbeMs: 8_000, recheckMs: 60_000 };

/** A port whose probe answers from `answers` in turn (the last one repeats), recording the calls; `held` probes wait for release(). */
function fakePort(opts: { installed?: boolean; answers?: ProbeResult[]; open?: boolean; held?: boolean } = {}) {
  const answers = [...(opts.answers ?? ["mutated"])];
  const calls = { installed: 0, probes: [] as number[], opened: [] as number[] };
  let isOpen = opts.open ?? false;
  let failNext: Error | undefined;
  const waiting: (() => void)[] = [];
  const clock = new FakeClock(0);
  const port: FinalizerGatePort = {
    isOpen: () => isOpen,
    policyInstalled: () => {
      calls.installed++;
      return Promise.resolve(opts.installed ?? true);
    },
    probe: () => {
      calls.probes.push(clock.now());
      if (failNext) {
        const err = failNext;
        failNext = undefined;
        return Promise.reject(err);
      }
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!;
      if (opts.held) return new Promise<ProbeResult>((resolve) => waiting.push(() => resolve(answer)));
      return Promise.resolve(answer);
    },
    open: () => {
      calls.opened.push(clock.now());
      isOpen = true;
      return Promise.resolve();
    },
  };
  const gate = new FinalizerGate(port, clock, createLogger("test", "error"), TIMING);
  const release = (): void => {
    for (const answer of waiting.splice(0)) answer();
  };
  return { gate, clock, calls, release, failOnce: (err: Error) => (failNext = err), shut: () => (isOpen = false) };
}

void describe("FinalizerGate", () => {
  void test("a probe that comes back with the finalizer opens the gate, once", async () => {
    const { gate, clock, calls } = fakePort({ answers: ["mutated"] });
    gate.start();
    await clock.advance(0);
    assert.deepEqual(calls.opened, [0]);
    await clock.advance(10 * TIMING.recheckMs);
    assert.equal(calls.probes.length, 1, "no probe once the gate is open");
    assert.equal(calls.opened.length, 1);
  });

  void test("while the schema is not loaded or the policy not yet in force, it probes with a doubling wait, and opens after", async () => {
    const { gate, clock, calls } = fakePort({ answers: ["schema-not-loaded", "schema-not-loaded", "not-mutated", "not-mutated", "not-mutated", "mutated"] });
    gate.start();
    await clock.advance(60_000);
    // Probes at 0, then 1, 2, 4 and 8 s (capped) later.
    assert.deepEqual(calls.probes, [0, 1_000, 3_000, 7_000, 15_000, 23_000]);
    assert.deepEqual(calls.opened, [23_000]);
  });

  void test("without the policy installed it never probes and never opens; it looks again after recheckMs", async () => {
    const { gate, clock, calls } = fakePort({ installed: false });
    gate.start();
    await clock.advance(3 * TIMING.recheckMs);
    assert.equal(calls.probes.length, 0);
    assert.equal(calls.opened.length, 0);
    assert.equal(calls.installed, 4, "at 0 and after each recheck");
  });

  void test("an open gate is left alone; shut again (the annotation removed), it is probed and opened again", async () => {
    const { gate, clock, calls, shut } = fakePort({ open: true });
    gate.start();
    await clock.advance(TIMING.recheckMs - 1);
    assert.equal(calls.installed, 0, "an open gate needs no API call");
    shut();
    await clock.advance(1);
    assert.deepEqual(calls.opened, [TIMING.recheckMs]);
  });

  void test("leadership lost while a probe runs: its answer opens nothing, and a new term runs one loop, not two", async () => {
    const { gate, clock, calls, release } = fakePort({ answers: ["mutated"], held: true });
    gate.start();
    await clock.advance(0);
    assert.equal(calls.probes.length, 1);
    gate.stop();
    gate.start();
    await clock.advance(0);
    assert.equal(calls.probes.length, 2, "the new term probes at once");
    release();
    await clock.advance(0);
    assert.deepEqual(calls.opened, [0], "only the current term's probe opened the gate");
    assert.equal(clock.pendingTimers(), 1, "one loop left");
  });

  void test("a failed probe is tried again; a stopped gate does nothing more", async () => {
    const { gate, clock, calls, failOnce } = fakePort({ answers: ["not-mutated"] });
    failOnce(new Error("HTTP 500"));
    gate.start();
    await clock.advance(TIMING.probeMs);
    assert.equal(calls.probes.length, 2, "probed again after the failure");
    gate.stop();
    const before = calls.probes.length;
    await clock.advance(10 * TIMING.maxProbeMs);
    assert.equal(calls.probes.length, before);
    assert.equal(clock.pendingTimers(), 0);
  });
});
