import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DeletionTracker, planDeletion, type AgentView } from "../../../src/operator/deletion.js";
import { encodeRunningSet, parseRunningSet } from "../../../src/shared/running-set.js";

const ADDRESS = "192.0.2.50";
const SALT = "0123456789abcdef";
const T0 = 1_000_000;
const TIMEOUT = 60_000;

function agent(live: boolean, running: string[] | undefined, fresh = true): AgentView {
  return { live, running: running === undefined ? undefined : parseRunningSet(encodeRunningSet(SALT, running)), fresh };
}

function decide(agents: Record<string, AgentView>, opts: { participants?: string[]; now?: number } = {}): ReturnType<typeof planDeletion> {
  return planDeletion({
    address: ADDRESS,
    participants: opts.participants ?? Object.keys(agents),
    agents: new Map(Object.entries(agents)),
    startedAt: T0,
    now: opts.now ?? T0,
    timeoutMs: TIMEOUT,
  });
}

void describe("planDeletion: the finalizer waits for the nodes", () => {
  const table: {
    name: string;
    agents: Record<string, AgentView>;
    participants?: string[];
    now?: number;
    done: boolean;
    waiting: string[];
    givenUp?: string[];
    recheckAt?: number;
  }[] = [
    { name: "every node confirmed: done at once", agents: { a: agent(true, ["192.0.2.51"]), b: agent(true, []) }, done: true, waiting: [] },
    {
      name: "a live node still runs the address: waits, without a deadline",
      agents: { a: agent(true, [ADDRESS]), b: agent(true, []) },
      done: false,
      waiting: ["a:runs"],
    },
    {
      name: "a live node that runs it is waited for even after the timeout",
      agents: { a: agent(true, [ADDRESS]) },
      now: T0 + 10 * TIMEOUT,
      done: false,
      waiting: ["a:runs"],
    },
    {
      name: "a node whose agent is not live: waits until the timeout",
      agents: { a: agent(false, [ADDRESS]), b: agent(true, []) },
      now: T0 + TIMEOUT - 1,
      done: false,
      waiting: ["a:not-live"],
      recheckAt: T0 + TIMEOUT,
    },
    {
      name: "a node whose agent is not live: given up at the timeout",
      agents: { a: agent(false, [ADDRESS]), b: agent(true, []) },
      now: T0 + TIMEOUT,
      done: true,
      waiting: ["a:not-live"],
      givenUp: ["a"],
    },
    {
      name: "a live agent that publishes nothing readable: given up at the timeout",
      agents: { a: agent(true, undefined) },
      now: T0 + TIMEOUT,
      done: true,
      waiting: ["a:unknown"],
      givenUp: ["a"],
    },
    {
      name: "a not-live node that published it no longer runs the address has confirmed",
      agents: { a: agent(false, ["192.0.2.51"]) },
      done: true,
      waiting: [],
    },
    {
      name: "a node that did not take part but lists the address is waited for",
      agents: { a: agent(true, []), x: agent(true, [ADDRESS]) },
      participants: ["a"],
      done: false,
      waiting: ["x:runs"],
    },
    {
      name: "a node that did not take part and does not list it does not matter, live or not",
      agents: { a: agent(true, []), x: agent(false, undefined) },
      participants: ["a"],
      done: true,
      waiting: [],
    },
    {
      name: "one stuck live node keeps a silent one from being given up",
      agents: { a: agent(true, [ADDRESS]), b: agent(false, [ADDRESS]) },
      now: T0 + TIMEOUT,
      done: false,
      waiting: ["a:runs", "b:not-live"],
    },
    {
      name: "a participant without any agent view counts as not live",
      agents: {},
      participants: ["a"],
      now: T0,
      done: false,
      waiting: ["a:not-live"],
      recheckAt: T0 + TIMEOUT,
    },
    {
      name: "a set written before the deletion does not confirm: the node may have taken the address up since",
      agents: { a: agent(true, [], false) },
      done: false,
      waiting: ["a:stale"],
      recheckAt: T0 + TIMEOUT,
    },
    {
      name: "an agent cut off right after taking the address up (its last set predates it) is given up on only at the timeout",
      agents: { a: agent(false, [], false) },
      now: T0 + TIMEOUT - 1,
      done: false,
      waiting: ["a:not-live"],
      recheckAt: T0 + TIMEOUT,
    },
    {
      name: "a stale set of a node that did not take part does not matter",
      agents: { a: agent(true, []), x: agent(true, [], false) },
      participants: ["a"],
      done: true,
      waiting: [],
    },
  ];
  for (const row of table) {
    void test(row.name, () => {
      const d = decide(row.agents, { ...(row.participants ? { participants: row.participants } : {}), ...(row.now !== undefined ? { now: row.now } : {}) });
      assert.equal(d.done, row.done);
      assert.deepEqual(
        d.waiting.map((w) => `${w.node}:${w.why}`),
        row.waiting,
      );
      assert.deepEqual(d.givenUp, row.givenUp ?? []);
      assert.equal(d.recheckAt, row.recheckAt);
    });
  }

  void test("the messages name the nodes, the address and why", () => {
    const waiting = decide({ a: agent(false, [ADDRESS]), b: agent(true, [ADDRESS]) });
    assert.match(waiting.message, /waiting for the nodes to confirm that 192\.0\.2\.50 is gone: the agent of node a is not live; node b still runs it$/);
    const silent = decide({ a: agent(false, [ADDRESS]) });
    assert.match(silent.message, /given up on at 1970-01-01T00:17:40\.000Z$/);
    const gaveUp = decide({ a: agent(false, [ADDRESS]) }, { now: T0 + TIMEOUT });
    assert.match(
      gaveUp.message,
      /^Being deleted: node a did not confirm that 192\.0\.2\.50 is gone within the deletion timeout \(60s\): the agent of node a is not live$/,
    );
  });

  void test("another address on the node, refused or not, never holds this deletion up", () => {
    const d = decide({ a: agent(true, ["192.0.2.51", "192.0.2.52"]) });
    assert.equal(d.done, true);
  });
});

void describe("DeletionTracker", () => {
  void test("a Lease counts as written after the deletion by resourceVersion, else by a renewal seen after it", () => {
    const t = new DeletionTracker();
    assert.equal(t.writtenAfter("default/web", "20", 100), false, "no deletion seen");
    t.startedAt("default/web", 50, "10");
    assert.equal(t.writtenAfter("default/web", "9", 100), false);
    assert.equal(t.writtenAfter("default/web", "10", 100), false);
    assert.equal(t.writtenAfter("default/web", "11", undefined), true);
    const opaque = new DeletionTracker();
    opaque.startedAt("default/web", 50, "abc");
    assert.equal(opaque.writtenAfter("default/web", "11", undefined), false, "a first sighting proves nothing");
    assert.equal(opaque.writtenAfter("default/web", "11", 50), false);
    assert.equal(opaque.writtenAfter("default/web", "11", 51), true);
  });

  void test("remembers the taking-part nodes of the last plan that had the VirtualIP, and when its deletion was first seen", () => {
    const t = new DeletionTracker();
    t.noteParticipants({ "default/web": { nodes: ["a", "b"] } });
    t.noteParticipants({ "default/web": { nodes: [] } });
    assert.deepEqual(t.participants("default/web"), ["a", "b"], "an excluded VirtualIP keeps its last nodes");
    assert.equal(t.startedAt("default/web", 5), 5);
    assert.equal(t.startedAt("default/web", 9), 5);
    assert.deepEqual(t.deleting(), ["default/web"]);
    t.forget("default/web");
    assert.deepEqual(t.participants("default/web"), []);
    assert.deepEqual(t.deleting(), []);
    assert.equal(t.startedAt("default/web", 9), 9);
  });

  void test("parses each node's published text once, and again when it changes", () => {
    const t = new DeletionTracker();
    const one = encodeRunningSet(SALT, [ADDRESS]);
    const a = t.runningSet("a", one);
    assert.equal(t.runningSet("a", one), a);
    assert.equal(t.runningSet("a", encodeRunningSet(SALT, []))?.has(ADDRESS), false);
    assert.equal(t.runningSet("a", undefined), undefined);
  });

  void test("with a step-free clock the deletion's age is real time: a wall clock stepped an hour ahead does not time it out", () => {
    let mono = 0;
    const t = new DeletionTracker(() => mono);
    assert.equal(t.startedAt("default/web", 1_000_000, "7"), 1_000_000);
    mono = 1_000;
    assert.equal(t.startedAt("default/web", 1_000_000 + 3_600_000), 1_000_000 + 3_600_000 - 1_000, "one second old, as of the stepped clock");
  });

  void test("without one, the first time given stands", () => {
    const t = new DeletionTracker();
    t.startedAt("default/web", 1_000, "7");
    assert.equal(t.startedAt("default/web", 99_000), 1_000);
  });
});
