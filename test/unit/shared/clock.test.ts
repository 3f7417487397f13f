// sleep and withTimeout on the injected clock: they wait on the clock's
// timers, never on the wall clock.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock, sleep, withTimeout } from "../../../src/shared/clock.js";

void describe("sleep and withTimeout", () => {
  void test("sleep resolves when the fake clock reaches it, not before", async () => {
    const clock = new FakeClock();
    let woke = false;
    void sleep(clock, 500).then(() => (woke = true));
    await clock.advance(499);
    assert.equal(woke, false);
    await clock.advance(1);
    assert.equal(woke, true);
  });

  void test("withTimeout: the work's value when it comes first, the fallback at the timeout, rejections pass through", async () => {
    const clock = new FakeClock();
    assert.equal(await withTimeout(clock, Promise.resolve("done"), 100, "late"), "done");
    assert.equal(clock.pendingTimers(), 0, "the timeout timer was left behind");
    const slow = withTimeout(clock, new Promise<string>(() => undefined), 100, "late");
    await clock.advance(100);
    assert.equal(await slow, "late");
    await assert.rejects(withTimeout(clock, Promise.reject(new Error("boom")), 100, "late"), /boom/);
  });
});
