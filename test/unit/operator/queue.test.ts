import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock, flushMicrotasks } from "../../../src/shared/clock.js";
import { KeyedQueue, type HandlerResult } from "../../../src/shared/queue.js";

/** A handler whose runs stay open until the test releases them. */
function gatedHandler() {
  const runs: string[] = [];
  const open = new Map<string, (() => void)[]>();
  let active = 0;
  let maxActive = 0;
  const perKeyActive = new Map<string, number>();
  let maxPerKey = 0;
  const handler = async (key: string): Promise<void> => {
    runs.push(key);
    active++;
    maxActive = Math.max(maxActive, active);
    perKeyActive.set(key, (perKeyActive.get(key) ?? 0) + 1);
    maxPerKey = Math.max(maxPerKey, perKeyActive.get(key) ?? 0);
    await new Promise<void>((resolve) => {
      const list = open.get(key) ?? [];
      list.push(resolve);
      open.set(key, list);
    });
    active--;
    perKeyActive.set(key, (perKeyActive.get(key) ?? 1) - 1);
  };
  const release = async (key: string): Promise<void> => {
    const list = open.get(key) ?? [];
    const r = list.shift();
    assert.ok(r, `no open run for ${key}`);
    r();
    await flushMicrotasks();
  };
  return { handler, runs, release, stats: () => ({ maxActive, maxPerKey }) };
}

void describe("KeyedQueue", () => {
  void test("a burst of adds for one waiting key is one run", async () => {
    const clock = new FakeClock();
    const block = gatedHandler();
    const q2 = new KeyedQueue({ clock, concurrency: 1, handler: block.handler });
    // q2: key "busy" occupies the only worker, so "a" waits while it is added 100 times.
    q2.add("busy");
    for (let i = 0; i < 100; i++) q2.add("a");
    await block.release("busy");
    await block.release("a");
    await q2.idle();
    assert.deepEqual(block.runs, ["busy", "a"]);
  });

  void test("adds while a key runs give exactly one more run, never two at once", async () => {
    const g = gatedHandler();
    const q = new KeyedQueue({ clock: new FakeClock(), concurrency: 4, handler: g.handler });
    q.add("k");
    await flushMicrotasks();
    for (let i = 0; i < 10; i++) q.add("k");
    assert.equal(g.runs.length, 1);
    await g.release("k");
    assert.equal(g.runs.length, 2);
    await g.release("k");
    await q.idle();
    assert.deepEqual(g.runs, ["k", "k"]);
    assert.equal(g.stats().maxPerKey, 1);
  });

  void test("concurrency bounds the number of keys running at once", async () => {
    const g = gatedHandler();
    const q = new KeyedQueue({ clock: new FakeClock(), concurrency: 2, handler: g.handler });
    for (const k of ["a", "b", "c", "d"]) q.add(k);
    await flushMicrotasks();
    assert.deepEqual(g.runs, ["a", "b"]);
    await g.release("a");
    assert.deepEqual(g.runs, ["a", "b", "c"]);
    await g.release("b");
    await g.release("c");
    await g.release("d");
    await q.idle();
    assert.equal(g.stats().maxActive, 2);
    assert.deepEqual(g.runs, ["a", "b", "c", "d"]);
  });

  void test("a failing key is retried with doubling backoff and forgotten after success", async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    let failuresLeft = 3;
    const errors: number[] = [];
    const q = new KeyedQueue({
      clock,
      backoffBaseMs: 100,
      handler: async () => {
        await flushMicrotasks();
        times.push(clock.now());
        if (failuresLeft-- > 0) throw new Error("boom");
      },
      onError: (_k, _e, attempt) => errors.push(attempt),
    });
    const t0 = clock.now();
    q.add("k");
    await clock.advance(1000);
    assert.deepEqual(
      times.map((t) => t - t0),
      [0, 100, 300, 700],
    );
    assert.deepEqual(errors, [1, 2, 3]);
    assert.equal(clock.pendingTimers(), 0);
  });

  void test("addAfter debounces to the earliest deadline", async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const q = new KeyedQueue({ clock, handler: () => Promise.resolve(void times.push(clock.now())) });
    const t0 = clock.now();
    q.addAfter("plan", 50);
    await clock.advance(10);
    q.addAfter("plan", 50);
    q.addAfter("plan", 50);
    await clock.advance(10);
    q.addAfter("plan", 5);
    await clock.advance(100);
    assert.deepEqual(
      times.map((t) => t - t0),
      [25],
    );
  });

  void test("requeueAfterMs from the handler runs the key again later", async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const q = new KeyedQueue({
      clock,
      handler: (): Promise<HandlerResult> => {
        times.push(clock.now());
        return Promise.resolve(times.length < 3 ? { requeueAfterMs: 200 } : {});
      },
    });
    const t0 = clock.now();
    q.add("k");
    await clock.advance(1000);
    assert.deepEqual(
      times.map((t) => t - t0),
      [0, 200, 400],
    );
  });

  void test("shutDown drops waiting and delayed keys", async () => {
    const clock = new FakeClock();
    const runs: string[] = [];
    const g = gatedHandler();
    const q = new KeyedQueue({
      clock,
      concurrency: 1,
      handler: async (k) => {
        runs.push(k);
        if (k === "a") await g.handler(k);
      },
    });
    q.add("a");
    q.add("b");
    q.addAfter("c", 100);
    await flushMicrotasks();
    const done = q.shutDown();
    await g.release("a");
    await done;
    await clock.advance(500);
    q.add("d");
    await flushMicrotasks();
    assert.deepEqual(runs, ["a"]);
  });
});
