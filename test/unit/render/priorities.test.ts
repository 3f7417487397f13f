// Ranked default priorities: distinct and in range, MASTERs spread within one
// over the nodes of a node set, few MASTERs moved when a node joins or leaves,
// explicit spec.vrrp.priorities kept, the same result in any input order.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PRIORITY_BOTTOM, PRIORITY_TOP, planPriorities, rankPriority, rendezvousOrder, type RankInput } from "../../../src/render/priorities.js";
import { planCluster } from "../../../src/render/index.js";
import { vip, view } from "./factory.js";

const nodesNamed = (k: number, prefix = "node"): string[] => Array.from({ length: k }, (_, i) => `${prefix}-${String.fromCharCode(97 + i)}`);
const instancesOver = (n: number, nodes: string[], tag = "x"): RankInput[] =>
  Array.from({ length: n }, (_, i) => ({ key: `vip_4_${i + 1}${tag === "x" ? "" : `_${tag}`}`, nodes, explicit: {} }));

/** Instance key -> the node with the highest priority (the MASTER VRRP elects). */
function masters(plan: Map<string, Record<string, number>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, prios] of plan) {
    const top = Object.entries(prios).sort((a, b) => b[1] - a[1])[0];
    if (top) out.set(key, top[0]);
  }
  return out;
}

function loads(m: Map<string, string>, nodes: string[]): number[] {
  return nodes.map((n) => [...m.values()].filter((x) => x === n).length);
}

function moved(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before.keys()].filter((k) => before.get(k) !== after.get(k));
}

void describe("rankPriority", () => {
  void test("250 for rank 0, 100 for the last rank, distinct and falling for up to 151 nodes", () => {
    for (let count = 1; count <= 151; count++) {
      const prios = Array.from({ length: count }, (_, r) => rankPriority(r, count));
      assert.equal(prios[0], PRIORITY_TOP, `count ${count}`);
      if (count > 1) assert.equal(prios[count - 1], PRIORITY_BOTTOM, `count ${count}`);
      for (let r = 1; r < count; r++)
        assert.ok((prios[r] ?? 0) < (prios[r - 1] ?? 0), `count ${count}: rank ${r} is ${prios[r]}, rank ${r - 1} ${prios[r - 1]}`);
    }
  });

  void test("three nodes are 75 apart: the next BACKUP's skew time is about 0.3 advert intervals shorter", () => {
    assert.deepEqual(
      [0, 1, 2].map((r) => rankPriority(r, 3)),
      [250, 175, 100],
    );
  });

  void test("past 151 nodes the ranks past 150 share 100 and never leave the range", () => {
    const prios = Array.from({ length: 300 }, (_, r) => rankPriority(r, 300));
    assert.equal(new Set(prios.slice(0, 151)).size, 151);
    assert.ok(prios.every((p) => p >= PRIORITY_BOTTOM && p <= PRIORITY_TOP));
  });
});

void describe("planPriorities: default priorities", () => {
  void test("every node of an instance gets a distinct priority in 100..250", () => {
    for (const k of [1, 2, 3, 5, 8, 40]) {
      const plan = planPriorities(instancesOver(10, nodesNamed(k)));
      for (const [key, prios] of plan) {
        const values = Object.values(prios);
        assert.equal(values.length, k, key);
        assert.equal(new Set(values).size, k, `${key}: ${JSON.stringify(prios)}`);
        assert.ok(
          values.every((p) => p >= PRIORITY_BOTTOM && p <= PRIORITY_TOP),
          key,
        );
      }
    }
  });

  void test("MASTERs of N instances over k nodes spread within one (every N up to 40, k up to 7)", () => {
    for (let k = 1; k <= 7; k++) {
      const nodes = nodesNamed(k);
      for (let n = 1; n <= 40; n++) {
        const l = loads(masters(planPriorities(instancesOver(n, nodes))), nodes);
        assert.ok(Math.max(...l) - Math.min(...l) <= 1, `N=${n} k=${k}: ${l.join("/")}`);
        assert.equal(
          l.reduce((a, b) => a + b, 0),
          n,
        );
      }
    }
  });

  void test("6 instances on 3 nodes: 2/2/2", () => {
    const nodes = nodesNamed(3);
    assert.deepEqual(loads(masters(planPriorities(instancesOver(6, nodes))), nodes), [2, 2, 2]);
  });

  void test("instances over different node sets are balanced within each set", () => {
    const zoneA = nodesNamed(3, "a");
    const zoneB = nodesNamed(2, "b");
    const plan = masters(planPriorities([...instancesOver(9, zoneA, "a"), ...instancesOver(4, zoneB, "b")]));
    assert.deepEqual(loads(plan, zoneA), [3, 3, 3]);
    assert.deepEqual(loads(plan, zoneB), [2, 2]);
  });

  void test("the same instances in any order give the same priorities", () => {
    const insts = instancesOver(17, nodesNamed(4));
    const a = planPriorities(insts);
    const b = planPriorities([...insts].reverse().map((i) => ({ ...i, nodes: [...i.nodes].reverse() })));
    assert.deepEqual([...a].sort(), [...b].sort());
  });

  void test("the ranks below the MASTER follow the rendezvous order", () => {
    const nodes = nodesNamed(5);
    const [inst] = instancesOver(1, nodes);
    const prios = planPriorities([inst!]).get(inst!.key) ?? {};
    const byPriority = Object.entries(prios)
      .sort((x, y) => y[1] - x[1])
      .map(([n]) => n);
    assert.deepEqual(byPriority, rendezvousOrder(inst!.key, nodes), "a single instance takes its rendezvous order as is");
  });
});

void describe("planPriorities: few MASTERs move when a node joins or leaves", () => {
  // The fewest possible: joining, the new node's share (each move lands on it);
  // leaving, the departed node's MASTERs. Bounded loads move a few more to keep
  // the spread within one; the bound below is what is promised (docs/adr/0014).
  const sizes: [number, number][] = [
    [6, 3],
    [12, 3],
    [12, 4],
    [30, 5],
    [50, 6],
    [100, 8],
  ];
  for (const [n, k] of sizes) {
    void test(`N=${n} k=${k}: a node joining takes its share and moves at most twice that`, () => {
      const nodes = nodesNamed(k);
      const before = masters(planPriorities(instancesOver(n, nodes)));
      const joined = [...nodes, "node-new"];
      const after = masters(planPriorities(instancesOver(n, joined)));
      const share = [...after.values()].filter((m) => m === "node-new").length;
      assert.ok(share >= Math.floor(n / (k + 1)), `the new node is MASTER of ${share}`);
      const m = moved(before, after);
      assert.ok(m.length <= 2 * share, `${m.length} moved for a share of ${share}`);
      const l = loads(after, joined);
      assert.ok(Math.max(...l) - Math.min(...l) <= 1, l.join("/"));
    });

    void test(`N=${n} k=${k}: a node leaving moves its MASTERs and at most as many others`, () => {
      const nodes = nodesNamed(k);
      const before = masters(planPriorities(instancesOver(n, nodes)));
      for (const gone of nodes) {
        const after = masters(
          planPriorities(
            instancesOver(
              n,
              nodes.filter((x) => x !== gone),
            ),
          ),
        );
        const own = [...before.values()].filter((x) => x === gone).length;
        const m = moved(before, after);
        assert.ok(m.length <= 2 * own, `${gone} leaving: ${m.length} moved, it was MASTER of ${own}`);
      }
    });
  }

  void test("in total over the cases above, within 1.5 times the fewest possible", () => {
    let moves = 0;
    let fewest = 0;
    for (const [n, k] of sizes) {
      const nodes = nodesNamed(k);
      const before = masters(planPriorities(instancesOver(n, nodes)));
      const after = masters(planPriorities(instancesOver(n, [...nodes, "node-new"])));
      moves += moved(before, after).length;
      fewest += [...after.values()].filter((m) => m === "node-new").length;
      for (const gone of nodes) {
        const left = masters(
          planPriorities(
            instancesOver(
              n,
              nodes.filter((x) => x !== gone),
            ),
          ),
        );
        moves += moved(before, left).length;
        fewest += [...before.values()].filter((x) => x === gone).length;
      }
    }
    assert.ok(moves <= 1.5 * fewest, `${moves} moves, fewest possible ${fewest}`);
  });
});

void describe("planPriorities: explicit priorities", () => {
  void test("listed nodes keep their value; the others get 100, 99, ... in rendezvous order, skipping listed values", () => {
    const nodes = nodesNamed(4);
    const plan = planPriorities([{ key: "vip_4_9", nodes, explicit: { "node-b": 150, "node-c": 99, "node-x": 200 } }]).get("vip_4_9") ?? {};
    assert.equal(plan["node-b"], 150);
    assert.equal(plan["node-c"], 99);
    assert.equal(plan["node-x"], undefined, "a node that does not take part gets nothing");
    const unlisted = rendezvousOrder("vip_4_9", ["node-a", "node-d"]);
    assert.deepEqual(
      unlisted.map((n) => plan[n]),
      [100, 98],
    );
  });

  void test("an instance with explicit priorities is left out of balancing", () => {
    const nodes = nodesNamed(3);
    const pinned: RankInput[] = Array.from({ length: 3 }, (_, i) => ({ key: `vip_4_${100 + i}`, nodes, explicit: { "node-a": 254 } }));
    const plan = masters(planPriorities([...pinned, ...instancesOver(6, nodes)]));
    for (const p of pinned) assert.equal(plan.get(p.key), "node-a");
    plan.forEach((_, key) => pinned.some((p) => p.key === key) && plan.delete(key));
    assert.deepEqual(loads(plan, nodes), [2, 2, 2]);
  });
});

void describe("planCluster: ranked priorities in the plan", () => {
  void test("6 VirtualIPs with distinct router ids on 3 nodes: each node has the top priority in 2, each instance distinct priorities", () => {
    const vips = Array.from({ length: 6 }, (_, i) => vip({ name: `web-${i}`, spec: { address: `192.0.2.${60 + i}`, virtualRouterId: 60 + i } }));
    const plan = planCluster(view(vips));
    const top = new Map<string, number>();
    for (const inst of plan.instances) {
      const prios = Object.values(inst.priorities);
      assert.equal(new Set(prios).size, 3, `${inst.name}: ${JSON.stringify(inst.priorities)}`);
      const master = Object.entries(inst.priorities).sort((a, b) => b[1] - a[1])[0]?.[0] ?? "";
      top.set(master, (top.get(master) ?? 0) + 1);
    }
    assert.deepEqual([...top.entries()].sort(), [
      ["node-a", 2],
      ["node-b", 2],
      ["node-c", 2],
    ]);
    // Each node's own part carries the same priorities.
    for (const n of plan.nodes) {
      for (const e of n.published.instances) {
        const inst = plan.instances.find((i) => i.name === e.instance);
        assert.equal(e.priority, inst?.priorities[n.node]);
      }
    }
  });

  void test("spec.vrrp.priorities still win", () => {
    const plan = planCluster(view([vip({ name: "web", spec: { vrrp: { priorities: { "node-c": 254 } } } })]));
    const prios = plan.instances[0]?.priorities ?? {};
    assert.equal(prios["node-c"], 254);
    assert.deepEqual(
      Object.values(prios).sort((a, b) => a - b),
      [99, 100, 254],
    );
  });
});
