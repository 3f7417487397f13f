// Tests of the heartbeat loop with a fake clock and a fake renewal.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Heartbeat } from "../../../src/agent/heartbeat.js";
import { FakeClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";

const logger = createLogger("test", "error");
logger.silent = true;

void describe("Heartbeat", () => {
  void test("renews at once and then every interval; a failure streak ends with one recovery call", async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const calls: number[] = [];
    let failing = false;
    let failures = 0;
    let recoveries = 0;
    const hb = new Heartbeat({
      clock,
      intervalMs: 1000,
      logger,
      renew: () => {
        calls.push(clock.now() - t0);
        return failing ? Promise.reject(new Error("down")) : Promise.resolve();
      },
      onFailure: () => failures++,
      onRecovered: () => recoveries++,
    });
    hb.start();
    await clock.advance(0);
    assert.equal(hb.lastSuccess, t0);
    failing = true;
    await clock.advance(3000);
    failing = false;
    await clock.advance(2000);
    hb.stop();
    await clock.advance(5000);
    assert.deepEqual(calls, [0, 1000, 2000, 3000, 4000, 5000]);
    assert.equal(failures, 3);
    assert.equal(recoveries, 1);
    assert.equal(hb.lastSuccess, t0 + 5000);
  });
});
