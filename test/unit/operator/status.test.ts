import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Claim, Condition, NodeStatus } from "../../../src/api/index.js";
import type { Problem } from "../../../src/render/index.js";
import { holderSettleMs, planHolder, type HolderMemory } from "../../../src/operator/holder.js";
import { planBackups, planMaster, splitBrainThresholdMs, SPLIT_BRAIN_RECHECK_MS } from "../../../src/operator/master.js";
import { planConditions, planClaim, planNodeEntryWrites, planVirtualIPStatus, type StatusInput } from "../../../src/operator/status.js";

const T0 = Date.parse("2024-05-01T10:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();
const entry = (name: string, state: NodeStatus["state"], sinceMs = T0 - 60_000): NodeStatus => ({
  name,
  state,
  priority: 100,
  since: iso(sinceMs),
  lastReportTime: iso(sinceMs),
});
const everyoneLive = () => true;

function input(
  over: Partial<StatusInput> & { live?: StatusInput["live"] & { observedGeneration?: number } },
): StatusInput & { live: { observedGeneration?: number } } {
  return {
    key: "default/web",
    address: "192.0.2.10",
    generation: 2,
    live: {},
    deleting: false,
    participants: ["node-a", "node-b", "node-c"],
    advertIntervalMs: 1000,
    problems: [],
    isLive: everyoneLive,
    now: T0,
    ...over,
  };
}

void describe("planMaster", () => {
  const participants = new Set(["a", "b", "c"]);
  const cases: { name: string; entries: NodeStatus[]; live?: string[]; want: string; splitBrain?: boolean }[] = [
    { name: "no entries: no master", entries: [], want: "" },
    { name: "one MASTER among BACKUPs", entries: [entry("a", "BACKUP"), entry("b", "MASTER"), entry("c", "BACKUP")], want: "b" },
    { name: "a MASTER whose agent is silent is not master", entries: [entry("a", "MASTER"), entry("b", "BACKUP")], live: ["b"], want: "" },
    { name: "an UNKNOWN node is never master", entries: [entry("a", "UNKNOWN"), entry("b", "BACKUP")], want: "" },
    { name: "a MASTER of a node that no longer takes part is ignored", entries: [entry("z", "MASTER"), entry("b", "BACKUP")], want: "" },
    {
      name: "two MASTERs: the newer since wins at once",
      entries: [entry("a", "MASTER", T0 - 500), entry("b", "MASTER", T0 - 200)],
      want: "b",
      splitBrain: false,
    },
    {
      name: "two MASTERs overlapping past the threshold: split brain",
      entries: [entry("a", "MASTER", T0 - 60_000), entry("b", "MASTER", T0 - 6000)],
      want: "b",
      splitBrain: true,
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const live = c.live ? new Set(c.live) : undefined;
      const m = planMaster({ entries: c.entries, participants, isLive: (n) => !live || live.has(n), now: T0, advertIntervalMs: 1000 });
      assert.equal(m.master, c.want);
      if (c.splitBrain !== undefined) assert.equal(m.splitBrain, c.splitBrain);
    });
  }

  void test("a pending overlap says when it becomes split brain: 3 adverts + margin after the second MASTER", () => {
    const m = planMaster({
      entries: [entry("a", "MASTER", T0 - 60_000), entry("b", "MASTER", T0 - 1000)],
      participants,
      isLive: everyoneLive,
      now: T0,
      advertIntervalMs: 1000,
    });
    assert.equal(m.splitBrain, false);
    assert.equal(m.splitBrainAt, T0 - 1000 + splitBrainThresholdMs(1000));
    assert.equal(splitBrainThresholdMs(1000), 5000);
  });

  void test("with three MASTERs the overlap starts at the second-oldest since", () => {
    const m = planMaster({
      entries: [entry("a", "MASTER", T0 - 60_000), entry("b", "MASTER", T0 - 4000), entry("c", "MASTER", T0 - 100)],
      participants,
      isLive: everyoneLive,
      now: T0,
      advertIntervalMs: 1000,
    });
    assert.equal(m.master, "c");
    assert.equal(m.splitBrainAt, T0 - 4000 + 5000);
  });

  // Overlap since T0 - 6000, threshold 5000: split brain from T0 - 1000 on, if both agents are heard after that.
  const renewalCases: { name: string; renewed: Record<string, number>; splitBrain: boolean }[] = [
    { name: "both agents renewed after the threshold: split brain", renewed: { a: T0 - 500, b: T0 - 200 }, splitBrain: true },
    { name: "the old MASTER's agent went silent before it (node loss): no split brain yet", renewed: { a: T0 - 7000, b: T0 - 200 }, splitBrain: false },
    { name: "an agent never heard: no split brain yet", renewed: { b: T0 - 200 }, splitBrain: false },
  ];
  for (const c of renewalCases) {
    void test(c.name, () => {
      const m = planMaster({
        entries: [entry("a", "MASTER", T0 - 60_000), entry("b", "MASTER", T0 - 6000)],
        participants,
        isLive: everyoneLive,
        renewedAt: (n) => c.renewed[n],
        now: T0,
        advertIntervalMs: 1000,
      });
      assert.equal(m.master, "b");
      assert.equal(m.splitBrain, c.splitBrain);
      assert.equal(m.splitBrainAt, c.splitBrain ? undefined : T0 + SPLIT_BRAIN_RECHECK_MS);
    });
  }
});

void describe("planBackups", () => {
  const participants = new Set(["node-a", "node-b", "node-c", "node-d"]);
  const cases: { name: string; entries: NodeStatus[]; live?: string[]; want: string }[] = [
    { name: "every live BACKUP, sorted", entries: [entry("node-c", "BACKUP"), entry("node-b", "MASTER"), entry("node-a", "BACKUP")], want: "node-a,node-c" },
    { name: "a dead node is not a backup", entries: [entry("node-a", "BACKUP"), entry("node-c", "BACKUP")], live: ["node-a"], want: "node-a" },
    { name: "a node that no longer takes part is not a backup", entries: [entry("node-x", "BACKUP"), entry("node-d", "BACKUP")], want: "node-d" },
    { name: "FAULT and STOPPED are not backups", entries: [entry("node-a", "FAULT"), entry("node-b", "STOPPED")], want: "" },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const live = c.live ? new Set(c.live) : undefined;
      assert.equal(
        planBackups(c.entries, participants, (n) => !live || live.has(n)),
        c.want,
      );
    });
  }

  void test("the summary carries the backups and a change of backups alone is a change", () => {
    const nodes = [entry("node-a", "BACKUP"), entry("node-b", "MASTER"), entry("node-c", "BACKUP")];
    const first = planVirtualIPStatus(input({ live: { nodes } }));
    assert.equal(first.summary.backups, "node-a,node-c");
    const settled = planVirtualIPStatus(input({ live: { ...first.summary, nodes } }));
    assert.equal(settled.changed, false);
    const oneGone = planVirtualIPStatus(input({ live: { ...first.summary, nodes: nodes.slice(1) } }));
    assert.equal(oneGone.changed, true);
    assert.equal(oneGone.summary.backups, "node-c");
  });
});

void describe("planHolder", () => {
  const settleMs = 3000;
  const cases: {
    name: string;
    memory?: HolderMemory;
    seed?: string;
    sole: string;
    now?: number;
    holder: string;
    failover?: string;
    pending?: string;
    recheckAt?: number;
  }[] = [
    { name: "no memory, no MASTER: no holder", sole: "", holder: "" },
    { name: "no memory: the status' master is the holder, no failover", seed: "a", sole: "a", holder: "a" },
    { name: "no memory, no master in status: the sole MASTER is the holder at once", sole: "b", holder: "b" },
    { name: "the first holder counts no failover", memory: { holder: "" }, sole: "a", holder: "a" },
    { name: "no MASTER or two: the holder stays", memory: { holder: "a", pending: { node: "b", since: T0 - 100 } }, sole: "", holder: "a" },
    { name: "the holder alone again: nothing pending", memory: { holder: "a", pending: { node: "b", since: T0 - 100 } }, sole: "a", holder: "a" },
    { name: "another node alone: pending until it settles", memory: { holder: "a" }, sole: "b", holder: "a", pending: "b", recheckAt: T0 + settleMs },
    {
      name: "another node alone for the settle period: one failover",
      memory: { holder: "a", pending: { node: "b", since: T0 - settleMs } },
      sole: "b",
      holder: "b",
      failover: "a->b",
    },
    {
      name: "a third node alone restarts the wait",
      memory: { holder: "a", pending: { node: "b", since: T0 - settleMs } },
      sole: "c",
      holder: "a",
      pending: "c",
      recheckAt: T0 + settleMs,
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const p = planHolder({ memory: c.memory, seed: c.seed ?? "", soleMaster: c.sole, now: c.now ?? T0, settleMs });
      assert.equal(p.next.holder, c.holder);
      assert.equal(p.failover ? `${p.failover.from}->${p.failover.to}` : undefined, c.failover);
      assert.equal(p.next.pending?.node, c.pending);
      assert.equal(p.recheckAt, c.recheckAt);
    });
  }

  void test("the settle period is two advert intervals and a second", () => {
    assert.equal(holderSettleMs(1000), 3000);
    assert.equal(holderSettleMs(100), 1200);
  });
});

/** Feeds status plans one after another, as the reconciler does: the live status and the holder memory carried forward. */
function replay(
  steps: { nodes: NodeStatus[]; at: number; isLive?: (n: string) => boolean }[],
  start: { live?: StatusInput["live"]; holder?: HolderMemory } = {},
) {
  let live: StatusInput["live"] & { observedGeneration?: number } = start.live ?? {};
  let holder = start.holder;
  const events: string[] = [];
  const masters: string[] = [];
  for (const step of steps) {
    const p = planVirtualIPStatus(
      input({ live: { ...live, nodes: step.nodes }, now: step.at, ...(holder ? { holder } : {}), ...(step.isLive ? { isLive: step.isLive } : {}) }),
    );
    live = { ...p.summary, nodes: step.nodes };
    holder = p.holder;
    masters.push(p.summary.master);
    for (const e of p.events) if (e.reason === "Failover" || e.reason === "MasterElected" || e.reason === "NoMaster") events.push(`${e.reason}: ${e.message}`);
  }
  return { live, holder, events, masters };
}

void describe("planConditions", () => {
  const prev: Condition[] = [
    { type: "Ready", status: "False", reason: "NoMaster", message: "x", lastTransitionTime: "2024-01-01T00:00:00.000Z", observedGeneration: 1 },
  ];
  void test("keeps lastTransitionTime when only reason or message change", () => {
    const [c] = planConditions(prev, [{ type: "Ready", status: "False", reason: "ServiceNotFound", message: "y" }], 2, "2024-05-01T00:00:00.000Z");
    assert.equal(c?.lastTransitionTime, "2024-01-01T00:00:00.000Z");
    assert.equal(c?.reason, "ServiceNotFound");
    assert.equal(c?.observedGeneration, 2);
  });
  void test("sets lastTransitionTime when the status flips", () => {
    const [c] = planConditions(prev, [{ type: "Ready", status: "True", reason: "Active", message: "z" }], 2, "2024-05-01T00:00:00.000Z");
    assert.equal(c?.lastTransitionTime, "2024-05-01T00:00:00.000Z");
  });
  void test("sets lastTransitionTime on a new condition", () => {
    const [c] = planConditions(undefined, [{ type: "Conflict", status: "False", reason: "NoConflict", message: "z" }], 2, "2024-05-01T00:00:00.000Z");
    assert.equal(c?.lastTransitionTime, "2024-05-01T00:00:00.000Z");
  });
});

void describe("planNodeEntryWrites", () => {
  void test("marks a silent node UNKNOWN, keeping priority and last report, and removes a departed node", () => {
    const writes = planNodeEntryWrites({
      live: { nodes: [entry("a", "MASTER"), entry("b", "BACKUP"), entry("gone", "BACKUP"), entry("c", "UNKNOWN")] },
      participants: ["a", "b", "c"],
      isLive: (n) => n === "b",
      now: T0,
    });
    assert.deepEqual(writes, [
      { node: "a", entry: { name: "a", state: "UNKNOWN", since: iso(T0), priority: 100, lastReportTime: iso(T0 - 60_000) } },
      { node: "gone" },
    ]);
  });
});

void describe("planVirtualIPStatus", () => {
  void test("first status of a VirtualIP without agents: NoMaster, zero failovers, all three conditions", () => {
    const p = planVirtualIPStatus(input({}));
    assert.equal(p.changed, true);
    assert.equal(p.readyReason, "NoMaster");
    assert.equal(p.summary.master, "");
    assert.equal(p.summary.failovers, 0);
    assert.equal(p.summary.observedGeneration, 2);
    assert.deepEqual(
      p.summary.conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ["Ready", "False", "NoMaster"],
        ["Conflict", "False", "NoConflict"],
        ["SplitBrain", "False", "NoSplitBrain"],
      ],
    );
    assert.deepEqual(p.events, []);
  });

  void test("an unchanged status plans no write and no Event", () => {
    const first = planVirtualIPStatus(input({ live: { nodes: [entry("node-b", "MASTER")] } }));
    const again = planVirtualIPStatus(input({ live: { ...first.summary, nodes: [entry("node-b", "MASTER")] }, now: T0 + 60_000 }));
    assert.equal(first.changed, true);
    assert.equal(again.changed, false);
    assert.deepEqual(again.events, []);
    assert.deepEqual(again.nodeWrites, []);
  });

  void test("master moving from node-c to node-b shows at once, and counts one failover with one Event once node-b held it alone for the settle period", () => {
    const first = planVirtualIPStatus(input({ live: { nodes: [entry("node-c", "MASTER")] } }));
    const base = first.summary;
    const nodes = [entry("node-c", "BACKUP", T0 - 10), entry("node-b", "MASTER", T0 - 10)];
    const moved = planVirtualIPStatus(input({ live: { ...base, nodes }, holder: first.holder, now: T0 + 1000 }));
    assert.equal(moved.summary.master, "node-b");
    assert.equal(moved.summary.failovers, 0);
    assert.deepEqual(moved.events, []);
    assert.equal(moved.recheckAt, T0 + 1000 + holderSettleMs(1000));
    const p = planVirtualIPStatus(input({ live: { ...moved.summary, nodes }, holder: moved.holder, now: T0 + 1000 + holderSettleMs(1000) }));
    assert.equal(p.summary.failovers, 1);
    assert.equal(p.summary.lastFailoverTime, iso(T0 + 1000), "the time node-b was first seen alone");
    assert.deepEqual(p.events, [{ type: "Normal", reason: "Failover", message: "MASTER moved from node-c to node-b" }]);
    // Ready stayed True: its lastTransitionTime is kept.
    const ready = (s: typeof base) => s.conditions.find((c) => c.type === "Ready");
    assert.equal(ready(p.summary)?.lastTransitionTime, ready(base)?.lastTransitionTime);
    const after = planVirtualIPStatus(input({ live: { ...p.summary, nodes }, holder: p.holder, now: T0 + 60_000 }));
    assert.equal(after.changed, false);
  });

  void test("a takeover through a double claim counts one failover and records one Failover Event", () => {
    const settle = holderSettleMs(1000);
    const r = replay([
      { nodes: [entry("node-a", "MASTER"), entry("node-b", "BACKUP"), entry("node-c", "BACKUP")], at: T0 },
      // SIGKILL of keepalived on node-a: its agent reports FAULT; node-b and node-c both claim.
      { nodes: [entry("node-a", "FAULT", T0 + 100), entry("node-b", "BACKUP"), entry("node-c", "BACKUP")], at: T0 + 100 },
      { nodes: [entry("node-a", "FAULT", T0 + 100), entry("node-b", "MASTER", T0 + 3300), entry("node-c", "BACKUP")], at: T0 + 3300 },
      { nodes: [entry("node-a", "FAULT", T0 + 100), entry("node-b", "MASTER", T0 + 3300), entry("node-c", "MASTER", T0 + 3350)], at: T0 + 3350 },
      { nodes: [entry("node-a", "FAULT", T0 + 100), entry("node-b", "BACKUP", T0 + 3500), entry("node-c", "MASTER", T0 + 3350)], at: T0 + 3500 },
      { nodes: [entry("node-a", "BACKUP", T0 + 4000), entry("node-b", "BACKUP", T0 + 3500), entry("node-c", "MASTER", T0 + 3350)], at: T0 + 4000 },
      { nodes: [entry("node-a", "BACKUP", T0 + 4000), entry("node-b", "BACKUP", T0 + 3500), entry("node-c", "MASTER", T0 + 3350)], at: T0 + 3500 + settle },
      { nodes: [entry("node-a", "BACKUP", T0 + 4000), entry("node-b", "BACKUP", T0 + 3500), entry("node-c", "MASTER", T0 + 3350)], at: T0 + 60_000 },
    ]);
    assert.deepEqual(r.masters, ["node-a", "", "node-b", "node-c", "node-c", "node-c", "node-c", "node-c"]);
    assert.equal(r.live.failovers, 1);
    assert.equal(r.live.lastFailoverTime, iso(T0 + 3500));
    assert.deepEqual(r.events, [
      "MasterElected: Node node-a is MASTER for 192.0.2.10",
      "NoMaster: No node holds 192.0.2.10 any more (was node-a)",
      "Failover: MASTER moved from node-a to node-c",
    ]);
  });

  void test("a flap of the holder (MASTER, BACKUP, MASTER) counts no failover", () => {
    const r = replay([
      { nodes: [entry("node-a", "MASTER"), entry("node-b", "BACKUP")], at: T0 },
      { nodes: [entry("node-a", "BACKUP", T0 + 100), entry("node-b", "BACKUP")], at: T0 + 100 },
      { nodes: [entry("node-a", "MASTER", T0 + 200), entry("node-b", "BACKUP")], at: T0 + 200 },
      { nodes: [entry("node-a", "MASTER", T0 + 200), entry("node-b", "BACKUP")], at: T0 + 60_000 },
    ]);
    assert.equal(r.live.failovers, 0);
    assert.ok(!r.events.some((e) => e.startsWith("Failover")), r.events.join("; "));
  });

  void test("a new MASTER alone for less than the settle period, then the holder again, counts no failover", () => {
    const r = replay([
      { nodes: [entry("node-a", "MASTER"), entry("node-b", "BACKUP")], at: T0 },
      { nodes: [entry("node-a", "BACKUP", T0 + 100), entry("node-b", "MASTER", T0 + 100)], at: T0 + 100 },
      { nodes: [entry("node-a", "MASTER", T0 + 500), entry("node-b", "BACKUP", T0 + 500)], at: T0 + 500 },
      { nodes: [entry("node-a", "MASTER", T0 + 500), entry("node-b", "BACKUP", T0 + 500)], at: T0 + 60_000 },
    ]);
    assert.equal(r.live.failovers, 0);
    assert.equal(r.live.master, "node-a");
  });

  void test("a MASTER whose agent has not yet been heard to lose it: the newer MASTER shows at once, the failover counts once the old entry is gone", () => {
    const settle = holderSettleMs(1000);
    const both = [entry("node-a", "MASTER"), entry("node-b", "MASTER", T0 + 3000)];
    const r = replay([
      { nodes: [entry("node-a", "MASTER"), entry("node-b", "BACKUP")], at: T0 },
      { nodes: both, at: T0 + 3000 },
      { nodes: both, at: T0 + 3000 + settle },
      // node-a's Lease expires: it is no longer live.
      { nodes: both, at: T0 + 15_000, isLive: (n) => n !== "node-a" },
      { nodes: both, at: T0 + 15_000 + settle, isLive: (n) => n !== "node-a" },
    ]);
    assert.deepEqual(r.masters, ["node-a", "node-b", "node-b", "node-b", "node-b"]);
    assert.equal(r.live.failovers, 1);
    assert.deepEqual(
      r.events.filter((e) => e.startsWith("Failover")),
      ["Failover: MASTER moved from node-a to node-b"],
    );
  });

  void test("the first election is not a failover", () => {
    const p = planVirtualIPStatus(input({ live: { failovers: 0, nodes: [entry("node-a", "MASTER")] } }));
    assert.equal(p.summary.failovers, 0);
    assert.equal(p.summary.lastFailoverTime, undefined);
    assert.deepEqual(p.events, [{ type: "Normal", reason: "MasterElected", message: "Node node-a is MASTER for 192.0.2.10" }]);
  });

  void test("master going through none (node-c, then none, then node-b) still counts one failover", () => {
    const holder = { holder: "node-c", pending: { node: "node-b", since: T0 - holderSettleMs(1000) } };
    const p = planVirtualIPStatus(input({ live: { master: "", failovers: 2, nodes: [entry("node-b", "MASTER")] }, holder }));
    assert.equal(p.summary.failovers, 3);
    assert.deepEqual(p.events[0]?.message, "MASTER moved from node-c to node-b");
  });

  void test("split brain is set after the threshold, with an Event, and asked to be checked again before", () => {
    const entries = [entry("node-a", "MASTER", T0 - 60_000), entry("node-b", "MASTER", T0 - 1000)];
    const early = planVirtualIPStatus(input({ live: { nodes: entries } }));
    assert.equal(early.summary.conditions.find((c) => c.type === "SplitBrain")?.status, "False");
    assert.equal(early.recheckAt, T0 + 4000);
    const late = planVirtualIPStatus(input({ live: { ...early.summary, nodes: entries }, now: T0 + 4000 }));
    assert.equal(late.summary.conditions.find((c) => c.type === "SplitBrain")?.status, "True");
    assert.equal(late.summary.master, "node-b");
    assert.ok(late.events.some((e) => e.reason === "SplitBrain" && e.type === "Warning"));
  });

  const problems: { name: string; problems: Problem[]; want: string; conflict: string }[] = [
    {
      name: "a missing Service",
      problems: [{ virtualIP: "default/web", condition: "Ready", reason: "ServiceNotFound", message: "Service default/web not found", excluded: true }],
      want: "ServiceNotFound",
      conflict: "False",
    },
    {
      name: "an advert interval below the admin's floor",
      problems: [
        {
          virtualIP: "default/web",
          condition: "Ready",
          reason: "AdvertIntervalTooShort",
          message:
            "VirtualIP default/web: spec.vrrp.advertisementInterval: 10ms is below the smallest advert interval this cluster allows, 100ms (operator --min-advert-interval)",
          excluded: true,
        },
      ],
      want: "AdvertIntervalTooShort",
      conflict: "False",
    },
    {
      name: "a lost conflict",
      problems: [
        { virtualIP: "default/web", condition: "Ready", reason: "Conflict", message: "conflicts with default/old", excluded: true, other: "default/old" },
        {
          virtualIP: "default/web",
          condition: "Conflict",
          reason: "DuplicateAddress",
          message: "address 192.0.2.10 is used by default/old",
          excluded: true,
          other: "default/old",
        },
      ],
      want: "Conflict",
      conflict: "True",
    },
  ];
  for (const c of problems) {
    void test(`${c.name} sets Ready=False/${c.want} and a Warning Event`, () => {
      const p = planVirtualIPStatus(input({ problems: c.problems, participants: [] }));
      assert.equal(p.readyReason, c.want);
      assert.equal(p.summary.conditions.find((x) => x.type === "Conflict")?.status, c.conflict);
      assert.ok(p.events.length >= 1 && p.events.every((e) => e.type === "Warning"));
      assert.ok(
        p.events.some((e) => e.reason === c.want || e.reason === c.problems.find((x) => x.condition === "Conflict")?.reason),
        JSON.stringify(p.events),
      );
    });
  }

  void test("an invalid spec is Ready=False/InvalidSpec naming the field, and its entries are removed", () => {
    const p = planVirtualIPStatus(input({ invalid: "VirtualIP default/web: spec.virtualRouterId: Too big", live: { nodes: [entry("node-a", "BACKUP")] } }));
    assert.equal(p.readyReason, "InvalidSpec");
    assert.match(p.summary.conditions[0]?.message ?? "", /spec\.virtualRouterId/);
    assert.deepEqual(p.nodeWrites, [{ node: "node-a" }]);
  });

  void test("a VirtualIP being deleted says Deleting and writes no node entries and no Events", () => {
    const p = planVirtualIPStatus(input({ deleting: true, live: { nodes: [entry("node-a", "MASTER")] } }));
    assert.equal(p.readyReason, "Deleting");
    assert.deepEqual(p.nodeWrites, []);
    assert.deepEqual(p.events, []);
  });
});

void describe("planClaim", () => {
  const held: Claim = { address: "192.0.2.10", virtualRouterId: 51, generation: 1, time: iso(T0 - 3_600_000) };
  const base = { live: held, claimed: true, claimVoid: false, address: "192.0.2.10", virtualRouterId: 51, generation: 2, now: T0 };
  const cases: { name: string; over: Partial<Parameters<typeof planClaim>[0]>; want: Claim | undefined }[] = [
    {
      name: "a rendered VirtualIP without a claim claims now at its generation",
      over: { live: undefined },
      want: { address: "192.0.2.10", virtualRouterId: 51, generation: 2, time: iso(T0) },
    },
    { name: "a rendered VirtualIP keeps the time of its claim and confirms it at the current generation", over: {}, want: { ...held, generation: 2 } },
    {
      name: "a new address is a new claim, made now",
      over: { address: "192.0.2.11" },
      want: { address: "192.0.2.11", virtualRouterId: 51, generation: 2, time: iso(T0) },
    },
    {
      name: "a new router id is a new claim, made now",
      over: { virtualRouterId: 52 },
      want: { address: "192.0.2.10", virtualRouterId: 52, generation: 2, time: iso(T0) },
    },
    {
      name: "a VirtualIP not rendered keeps its claim, marked unusable since now (its grace period starts)",
      over: { claimed: false, address: "192.0.2.99" },
      want: { ...held, unusableSince: iso(T0) },
    },
    {
      name: "a VirtualIP still not rendered keeps the time it became unusable",
      over: { claimed: false, live: { ...held, unusableSince: iso(T0 - 60_000) } },
      want: { ...held, unusableSince: iso(T0 - 60_000) },
    },
    {
      name: "a VirtualIP rendered again is no longer unusable",
      over: { live: { ...held, unusableSince: iso(T0 - 60_000) } },
      want: { ...held, generation: 2 },
    },
    { name: "a VirtualIP not rendered and without a claim gets none", over: { claimed: false, live: undefined }, want: undefined },
    { name: "a void claim is dropped", over: { claimed: false, claimVoid: true }, want: undefined },
    {
      name: "a rendered VirtualIP without an address keeps what it has, marked unusable",
      over: { address: undefined },
      want: { ...held, unusableSince: iso(T0) },
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      assert.deepEqual(planClaim({ ...base, ...c.over }), c.want);
    });
  }

  void test("the status carries the allocation and the claim; a changed claim is a write, the same one is not", () => {
    const allocation = { address: "192.0.2.10", virtualRouterId: 51, pool: "lan" };
    const claim = planClaim({ ...base, live: undefined });
    const first = planVirtualIPStatus(input({ allocation, ...(claim ? { claim } : {}) }));
    assert.equal(first.changed, true);
    assert.deepEqual([first.summary.address, first.summary.virtualRouterId, first.summary.pool, first.summary.claim], ["192.0.2.10", 51, "lan", claim]);
    const same = planVirtualIPStatus(input({ allocation, ...(claim ? { claim } : {}), live: { ...first.summary } }));
    assert.equal(same.changed, false);
    const dropped = planVirtualIPStatus(input({ allocation, live: { ...first.summary } }));
    assert.equal(dropped.changed, true);
    assert.equal(dropped.summary.claim, undefined);
    const moved = planVirtualIPStatus(input({ allocation: { ...allocation, address: "192.0.2.11" }, ...(claim ? { claim } : {}), live: { ...first.summary } }));
    assert.equal(moved.changed, true);
  });
});

void describe("ConfigRejected (a node's keepalived refused the VirtualIP's instance)", () => {
  const rejected = (name: string, state: NodeStatus["state"], message: string): NodeStatus => ({ ...entry(name, state), configRejected: message });
  const words =
    "spec.interface: keepalived refused VRRP instance vip_4_51: (Line 12) WARNING - interface eth9 for vrrp_instance vip_4_51 doesn't exist; it does not run on this node";

  void test("Ready=False ConfigRejected, naming the VirtualIP, the nodes and keepalived's words; the master is still shown", () => {
    const p = planVirtualIPStatus(
      input({ live: { nodes: [entry("node-a", "MASTER"), rejected("node-c", "FAULT", words), rejected("node-b", "FAULT", words)] } }),
    );
    const ready = p.summary.conditions.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "False");
    assert.equal(ready?.reason, "ConfigRejected");
    assert.equal(ready?.message, `VirtualIP default/web: nodes node-b, node-c refused its keepalived config; node-b: ${words}`);
    assert.equal(p.summary.master, "node-a");
  });

  void test("only live taking-part nodes count", () => {
    const dead = planVirtualIPStatus(
      input({ live: { nodes: [entry("node-a", "MASTER"), rejected("node-b", "FAULT", words)] }, isLive: (n) => n !== "node-b" }),
    );
    assert.equal(dead.readyReason, "Active");
    const gone = planVirtualIPStatus(input({ live: { nodes: [entry("node-a", "MASTER"), rejected("node-x", "FAULT", words)] } }));
    assert.equal(gone.readyReason, "Active");
  });

  void test("a problem of the operator's own comes first", () => {
    const problem: Problem = {
      virtualIP: "default/web",
      condition: "Ready",
      reason: "InterfaceNotFound",
      message: "VirtualIP default/web: spec.interface: ...",
      excluded: true,
    };
    const p = planVirtualIPStatus(input({ live: { nodes: [rejected("node-b", "FAULT", words)] }, problems: [problem] }));
    assert.equal(p.readyReason, "InterfaceNotFound");
    assert.deepEqual(p.events.find((e) => e.reason === "InterfaceNotFound")?.type, "Warning");
  });
});
