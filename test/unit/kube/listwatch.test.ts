// The list+watch state machine at its I/O seam: a fake transport (scripted
// list pages, watch streams the test drives) and a fake clock for the backoff.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ListWatch, retryDelay, type ChangeOrigin, type WatchEventType } from "../../../src/kube/listwatch.js";
import {
  ApiError,
  type ListPage,
  type ListWatchTransport,
  type Query,
  type RawObject,
  type WatchStream,
  type WatchStreamHandlers,
} from "../../../src/kube/transport.js";
import { FakeClock, flushMicrotasks } from "../../../src/shared/clock.js";

function obj(name: string, rv: string, extra: Record<string, unknown> = {}): RawObject {
  return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: "ns", uid: `uid-${name}`, resourceVersion: rv }, ...extra };
}

/** One watch request the test drives. */
class FakeStream {
  aborted = false;
  private settle!: { resolve: () => void; reject: (err: Error) => void };
  readonly stream: WatchStream;

  constructor(
    readonly query: Query,
    private readonly handlers: WatchStreamHandlers,
  ) {
    const done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.stream = {
      done,
      abort: () => {
        this.aborted = true;
        this.settle.resolve();
      },
    };
  }

  open(): void {
    this.handlers.onOpen();
  }
  send(type: string, object: RawObject): void {
    this.handlers.onLine({ type, object });
  }
  end(): void {
    this.settle.resolve();
  }
  fail(err: Error): void {
    this.settle.reject(err);
  }
}

/** Answers lists from a script (a page, or an error) and records watches. */
class FakeTransport implements ListWatchTransport {
  readonly lists: Query[] = [];
  readonly watches: FakeStream[] = [];
  listAnswers: ((q: Query) => ListPage | Error)[] = [];

  list(_path: string, query: Query): Promise<ListPage> {
    this.lists.push(query);
    const answer = this.listAnswers.shift();
    if (!answer) return Promise.reject(new Error("no list answer scripted"));
    const r = answer(query);
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  }

  watch(_path: string, query: Query, handlers: WatchStreamHandlers): WatchStream {
    const s = new FakeStream(query, handlers);
    this.watches.push(s);
    return s.stream;
  }

  get lastWatch(): FakeStream {
    const w = this.watches.at(-1);
    assert.ok(w, "no watch request");
    return w;
  }
}

interface Seen {
  type: WatchEventType;
  name: string;
  rv: string;
  origin: ChangeOrigin;
}

async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await flushMicrotasks();
}

function setup(opts: { random?: number } = {}) {
  const transport = new FakeTransport();
  const clock = new FakeClock();
  const events: Seen[] = [];
  const synced: string[][] = [];
  const errors: number[] = [];
  const listStarts: number[] = [];
  const healthChanges: boolean[] = [];
  const lw = new ListWatch({
    name: "Secret",
    path: "/api/v1/namespaces/ns/secrets",
    labelSelector: "app=x",
    transport,
    clock,
    random: () => opts.random ?? 1,
    onError: (_err, retryInMs) => errors.push(retryInMs),
    onHealthChange: (ok) => healthChanges.push(ok),
    handler: {
      onEvent: (type, o, origin) => events.push({ type, name: o.metadata?.name ?? "", rv: o.metadata?.resourceVersion ?? "", origin }),
      onListStart: () => listStarts.push(transport.lists.length),
      onSynced: (items) => synced.push(items.map((i) => i.metadata?.name ?? "")),
    },
  });
  return { transport, clock, events, synced, errors, listStarts, healthChanges, lw };
}

const page = (items: RawObject[], resourceVersion: string, cont?: string) => (): ListPage => ({ items, resourceVersion, ...(cont ? { continue: cont } : {}) });

void describe("ListWatch", () => {
  void test("lists every page, delivers each object once, then watches from the list's resourceVersion with bookmarks", async () => {
    const { transport, events, synced, lw } = setup();
    transport.listAnswers = [page([obj("a", "5")], "10", "next"), page([obj("b", "7")], "10")];
    assert.deepEqual(lw.health(), { ok: false, message: "Secret: not listed yet" });
    lw.start();
    await settle();
    assert.deepEqual(transport.lists, [
      { labelSelector: "app=x", limit: "500" },
      { labelSelector: "app=x", limit: "500", continue: "next" },
    ]);
    assert.deepEqual(events, [
      { type: "ADDED", name: "a", rv: "5", origin: "list" },
      { type: "ADDED", name: "b", rv: "7", origin: "list" },
    ]);
    assert.deepEqual(synced, [["a", "b"]]);
    assert.equal(lw.synced, true);
    assert.deepEqual(lw.health(), { ok: true });
    assert.deepEqual(transport.lastWatch.query, { labelSelector: "app=x", watch: "true", resourceVersion: "10", allowWatchBookmarks: "true" });
    lw.stop();
  });

  void test("delivers watch events in order; a watch that ends is resumed from the last resourceVersion seen (a bookmark's included), without a relist", async () => {
    const { transport, clock, events, lw } = setup();
    transport.listAnswers = [page([], "10")];
    lw.start();
    await settle();
    const w = transport.lastWatch;
    w.open();
    w.send("ADDED", obj("a", "11"));
    w.send("MODIFIED", obj("a", "12"));
    w.send("DELETED", obj("a", "13"));
    w.send("BOOKMARK", { metadata: { resourceVersion: "20" } });
    await clock.advance(60_000);
    w.end();
    await settle();
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.name} ${e.rv} ${e.origin}`),
      ["ADDED a 11 watch", "MODIFIED a 12 watch", "DELETED a 13 watch"],
    );
    assert.equal(transport.lists.length, 1, "no relist");
    assert.equal(transport.watches.length, 2);
    assert.equal(transport.lastWatch.query.resourceVersion, "20");
    assert.deepEqual(lw.health(), { ok: true });
    lw.stop();
  });

  for (const how of ["an ERROR line with code 410", "HTTP 410 on the watch request"]) {
    void test(`410 Gone (${how}) relists and delivers what changed in the gap: deletions, changes, nothing for unchanged objects`, async () => {
      const { transport, clock, events, synced, listStarts, lw } = setup();
      transport.listAnswers = [
        page([obj("kept", "5"), obj("changed", "6"), obj("gone", "7")], "10"),
        page([obj("kept", "5"), obj("changed", "30"), obj("new", "31")], "40"),
      ];
      lw.start();
      await settle();
      events.length = 0;
      await clock.advance(30_000);
      transport.lastWatch.send("BOOKMARK", { metadata: { resourceVersion: "12" } });
      transport.lastWatch.end();
      await settle();
      const w = transport.lastWatch;
      assert.equal(w.query.resourceVersion, "12");
      w.open();
      if (how.startsWith("an ERROR")) w.send("ERROR", { code: 410, message: "too old resource version" });
      else w.fail(new ApiError("watch: HTTP 410: Gone", 410));
      await settle();
      assert.equal(transport.lists.length, 2, "relisted");
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.name} ${e.rv} ${e.origin}`),
        ["MODIFIED changed 30 list", "ADDED new 31 list", "DELETED gone 7 list"],
      );
      assert.deepEqual(synced.at(-1), ["kept", "changed", "new"]);
      assert.deepEqual(listStarts, [0, 1], "onListStart before each list's first request");
      assert.equal(transport.lastWatch.query.resourceVersion, "40");
      lw.stop();
    });
  }

  void test("a deletion seen by the watch is not delivered again by a later relist", async () => {
    const { transport, clock, events, lw } = setup();
    transport.listAnswers = [page([obj("a", "5")], "10"), page([], "40")];
    lw.start();
    await settle();
    transport.lastWatch.send("DELETED", obj("a", "11"));
    await clock.advance(10_000);
    transport.lastWatch.send("ERROR", { code: 410 });
    await settle();
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.name}`),
      ["ADDED a", "DELETED a"],
    );
    lw.stop();
  });

  void test("an unreachable API server: not healthy, retries with a doubling capped backoff, healthy again by itself", async () => {
    const { transport, clock, errors, healthChanges, lw } = setup({ random: 1 });
    transport.listAnswers = [page([obj("a", "5")], "10")];
    lw.start();
    await settle();
    await clock.advance(60_000);
    transport.lastWatch.fail(new Error("connect ECONNREFUSED 127.0.0.1:6443"));
    await settle();
    assert.deepEqual(lw.health(), { ok: false, message: "Secret: connect ECONNREFUSED 127.0.0.1:6443" });
    // Each retry resumes the watch from the last resourceVersion and fails again.
    for (let i = 0; i < 8; i++) {
      const before = transport.watches.length;
      await clock.advance((errors.at(-1) ?? 0) - 1);
      assert.equal(transport.watches.length, before, "retried before the backoff ended");
      await clock.advance(1);
      assert.equal(transport.watches.length, before + 1);
      transport.lastWatch.fail(new Error("connect ECONNREFUSED 127.0.0.1:6443"));
      await settle();
    }
    assert.deepEqual(errors, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
    assert.equal(lw.health().ok, false);
    await clock.advance(10_000);
    transport.lastWatch.open();
    assert.deepEqual(lw.health(), { ok: true });
    assert.equal(transport.lastWatch.query.resourceVersion, "10");
    assert.equal(transport.lists.length, 1);
    // One change each way, however many attempts failed in between.
    assert.deepEqual(healthChanges, [false, true]);
    lw.stop();
  });

  void test("a failing list (429 while the API server starts): not healthy, retried after 1 s, the first good list makes it healthy", async () => {
    const { transport, clock, synced, lw } = setup();
    transport.listAnswers = [() => new ApiError("list: HTTP 429: storage is (re)initializing", 429), page([obj("a", "5")], "10")];
    lw.start();
    await settle();
    assert.deepEqual(lw.health(), { ok: false, message: "Secret: list: HTTP 429: storage is (re)initializing" });
    assert.equal(lw.synced, false);
    await clock.advance(999);
    assert.equal(transport.lists.length, 1);
    await clock.advance(1);
    await settle();
    assert.deepEqual(synced, [["a"]]);
    assert.deepEqual(lw.health(), { ok: true });
    lw.stop();
  });

  void test("an ERROR line other than 410 is a failure: backoff, then resume from the same resourceVersion", async () => {
    const { transport, clock, errors, lw } = setup();
    transport.listAnswers = [page([], "10")];
    lw.start();
    await settle();
    transport.lastWatch.send("ERROR", { code: 500, message: "internal error" });
    await settle();
    assert.equal(transport.lastWatch.aborted, true);
    assert.deepEqual(errors, [200]);
    assert.match(lw.health().message ?? "", /internal error/);
    await clock.advance(200);
    assert.equal(transport.watches.length, 2);
    assert.equal(transport.lastWatch.query.resourceVersion, "10");
    lw.stop();
  });

  void test("410 right after a fresh list backs off instead of relisting in a loop", async () => {
    const { transport, clock, errors, lw } = setup();
    transport.listAnswers = [page([], "10"), page([], "10")];
    lw.start();
    await settle();
    transport.lastWatch.send("ERROR", { code: 410 });
    await settle();
    assert.equal(transport.lists.length, 1);
    assert.deepEqual(errors, [200]);
    await clock.advance(200);
    assert.equal(transport.lists.length, 2);
    lw.stop();
  });

  void test("a watch that closes at once without a line is a failure, not a normal end", async () => {
    const { transport, clock, errors, lw } = setup();
    transport.listAnswers = [page([], "10")];
    lw.start();
    await settle();
    transport.lastWatch.open();
    transport.lastWatch.end();
    await settle();
    assert.deepEqual(errors, [200]);
    assert.equal(lw.health().ok, false);
    await clock.advance(200);
    assert.equal(transport.watches.length, 2);
    lw.stop();
  });

  void test("a handler that throws does not stop the watch", async () => {
    const transport = new FakeTransport();
    const clock = new FakeClock();
    const seen: string[] = [];
    const warnings: string[] = [];
    const lw = new ListWatch({
      name: "Secret",
      path: "/p",
      transport,
      clock,
      logger: { debug: () => undefined, info: () => undefined, warn: (m) => warnings.push(m) },
      handler: {
        onEvent: (_t, o) => {
          seen.push(o.metadata?.name ?? "");
          if (o.metadata?.name === "bad") throw new Error("boom");
        },
      },
    });
    transport.listAnswers = [page([], "1")];
    lw.start();
    await settle();
    transport.lastWatch.send("ADDED", obj("bad", "2"));
    transport.lastWatch.send("ADDED", obj("good", "3"));
    await settle();
    assert.deepEqual(seen, ["bad", "good"]);
    assert.deepEqual(warnings, ["Watch handler failed"]);
    assert.equal(transport.watches.length, 1);
    lw.stop();
  });

  void test("stop() aborts the watch and sends no request after it", async () => {
    const { transport, clock, lw } = setup();
    transport.listAnswers = [page([], "10")];
    lw.start();
    await settle();
    lw.stop();
    await settle();
    assert.equal(transport.lastWatch.aborted, true);
    await clock.advance(60_000);
    assert.equal(transport.watches.length, 1);
    assert.equal(transport.lists.length, 1);
  });

  void test("retryNow() ends a backoff wait at once", async () => {
    const { transport, lw } = setup();
    transport.listAnswers = [() => new Error("down"), page([], "10")];
    lw.start();
    await settle();
    assert.equal(transport.lists.length, 1);
    lw.retryNow();
    await settle();
    assert.equal(transport.lists.length, 2);
    assert.equal(lw.health().ok, true);
    lw.stop();
  });
});

void describe("retryDelay", () => {
  const backoff = { initialMs: 200, maxMs: 10_000 };
  void test("429 waits what the server asks (Retry-After), not the grown backoff", () => {
    assert.equal(retryDelay(new ApiError("storage is (re)initializing", 429, 2000), 9, backoff, 1), 2000);
  });
  void test("429 without Retry-After waits 1 s, jittered", () => {
    assert.equal(retryDelay(new ApiError("too many requests", 429), 9, backoff, 1), 1000);
    assert.equal(retryDelay(new ApiError("too many requests", 429), 9, backoff, 0), 500);
  });
  void test("a Retry-After beyond the cap waits the cap", () => {
    assert.equal(retryDelay(new ApiError("slow down", 429, 60_000), 1, backoff, 1), 10_000);
  });
  void test("other errors take the exponential backoff", () => {
    assert.equal(retryDelay(new ApiError("forbidden", 403), 9, backoff, 1), 10_000);
    assert.equal(retryDelay(new Error("connect ECONNREFUSED"), 2, backoff, 1), 400);
  });
});
