// Tests of per-instance isolation (src/agent/isolate.ts, src/agent/gate.ts)
// with the real assembler and a fake config test that refuses, as keepalived
// does, an instance on an interface the node does not have.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigGate } from "../../../src/agent/gate.js";
import {
  MAX_REJECTION_MESSAGE,
  judgeInstances,
  parseParts,
  partVersion,
  rejectionMessage,
  serializeParts,
  type InstancePart,
  type JudgeInput,
  type Rejection,
} from "../../../src/agent/isolate.js";
import type { ConfigTestVerdict } from "../../../src/agent/config.js";
import type { NodeInstanceMap, PublishedInstance, PublishedNode } from "../../../src/api/index.js";
import { assembleNodeConfig } from "../../../src/render/index.js";
import { publishedInstance } from "./instances.js";

const NODE = "node-a";
const MISSING = "eth9";

const instance = publishedInstance;

function nodeOf(entries: Array<{ key: string; iface?: string; priority?: number }>): PublishedNode {
  return {
    node: NODE,
    runtimeDir: "/run/keepalived-vip",
    instances: entries.map((e) => ({ instance: e.key, interface: e.iface ?? "eth0", priority: e.priority ?? 100, sourceIP: "192.0.2.11" })),
  };
}

/** A config test that refuses what keepalived refuses here: an interface the node does not have. */
function fakeTest(): { test: (config: string) => Promise<ConfigTestVerdict>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    test: (config) => {
      calls.push(config);
      const bad = config.includes(`interface ${MISSING}`);
      return Promise.resolve(
        bad
          ? {
              ok: false,
              problems: [`(Line 12) WARNING - interface ${MISSING} for vrrp_instance x doesn't exist`, "Non-existent interface specified in configuration"],
            }
          : { ok: true, problems: [] },
      );
    },
  };
}

function partsOf(node: PublishedNode, instances: Map<string, PublishedInstance>): Map<string, InstancePart> {
  return new Map(node.instances.map((e) => [e.instance, { entry: e, instance: instances.get(e.instance) as PublishedInstance }]));
}

function input(over: Partial<JudgeInput> & Pick<JudgeInput, "node" | "instances" | "test">): JudgeInput {
  return { lastGood: new Map(), known: new Map(), assemble: (n, i) => assembleNodeConfig(n, i), now: 1000, ...over };
}

const A = instance("vip_a", 51, "192.0.2.50");
const B = instance("vip_b", 52, "192.0.2.51");
const C = instance("vip_c", 53, "192.0.2.52");

void describe("judgeInstances", () => {
  void test("everything passes: one test, every instance runs, nothing refused", async () => {
    const t = fakeTest();
    const node = nodeOf([{ key: "vip_a" }, { key: "vip_b" }]);
    const res = await judgeInstances(
      input({
        node,
        instances: new Map([
          ["vip_a", A],
          ["vip_b", B],
        ]),
        test: t.test,
      }),
    );
    assert.equal(res.kind, "accept");
    if (res.kind !== "accept") return;
    assert.equal(res.tests, 1);
    assert.deepEqual(res.rejected, []);
    assert.deepEqual([...res.parts.keys()], ["vip_a", "vip_b"]);
  });

  void test("a new instance on a missing interface is left out alone; the others run", async () => {
    const t = fakeTest();
    const node = nodeOf([{ key: "vip_a" }, { key: "vip_b", iface: MISSING }, { key: "vip_c" }]);
    const res = await judgeInstances(
      input({
        node,
        instances: new Map([
          ["vip_a", A],
          ["vip_b", B],
          ["vip_c", C],
        ]),
        test: t.test,
      }),
    );
    assert.equal(res.kind, "accept");
    if (res.kind !== "accept") return;
    assert.deepEqual([...res.parts.keys()].sort(), ["vip_a", "vip_c"]);
    assert.ok(!res.candidate.config.includes(MISSING), "the refused instance is not in the config");
    assert.ok(res.candidate.config.includes("vip_a") && res.candidate.config.includes("vip_c"));
    assert.equal(res.rejected.length, 1);
    const r = res.rejected[0] as Rejection;
    assert.deepEqual([r.key, r.instance, r.kept, r.byKeepalived, r.virtualIPs], ["vip_b", "vip_b", false, true, ["default/vip_b"]]);
    assert.match(r.problems.join(" "), /interface eth9 .* doesn't exist/);
    assert.ok(
      t.calls.some((c) => c === res.candidate.config),
      "the accepted config itself passed the test",
    );
  });

  void test("a changed instance that fails keeps its last good version; the others take their change", async () => {
    const t = fakeTest();
    const before = nodeOf([{ key: "vip_a" }, { key: "vip_b" }]);
    const lastGood = partsOf(
      before,
      new Map([
        ["vip_a", A],
        ["vip_b", B],
      ]),
    );
    const running = assembleNodeConfig(
      before,
      new Map([
        ["vip_a", A],
        ["vip_b", B],
      ]),
    );
    assert.ok(running.ok);
    const node = nodeOf([
      { key: "vip_a", priority: 150 },
      { key: "vip_b", iface: MISSING },
    ]);
    const res = await judgeInstances(
      input({
        node,
        instances: new Map([
          ["vip_a", A],
          ["vip_b", B],
        ]),
        test: t.test,
        lastGood,
        running: running.value.config,
      }),
    );
    assert.equal(res.kind, "accept");
    if (res.kind !== "accept") return;
    assert.equal(res.parts.get("vip_a")?.entry.priority, 150, "vip_a's change is taken");
    assert.equal(res.parts.get("vip_b")?.entry.interface, "eth0", "vip_b runs its last good version");
    assert.equal(res.rejected[0]?.kept, true);
    assert.deepEqual(
      res.candidate.instances.instances.map((i) => i.instance),
      ["vip_a", "vip_b"],
    );
  });

  void test("an instance replaced by a failing one under another key (an interface change) keeps the former one for its VirtualIPs", async () => {
    const t = fakeTest();
    const oldB = instance("vip_b_eth0", 52, "192.0.2.51", { virtualIPs: ["default/vip_b"] });
    const newB = instance("vip_b_eth9", 52, "192.0.2.51", { virtualIPs: ["default/vip_b"] });
    const before = nodeOf([{ key: "vip_a" }, { key: "vip_b_eth0" }]);
    const lastGood = partsOf(
      before,
      new Map([
        ["vip_a", A],
        ["vip_b_eth0", oldB],
      ]),
    );
    const node = nodeOf([{ key: "vip_a" }, { key: "vip_b_eth9", iface: MISSING }]);
    const instances = new Map([
      ["vip_a", A],
      ["vip_b_eth9", newB],
    ]);
    const res = await judgeInstances(input({ node, instances, test: t.test, lastGood }));
    assert.equal(res.kind, "accept");
    if (res.kind !== "accept") return;
    assert.deepEqual([...res.parts.keys()].sort(), ["vip_a", "vip_b_eth0"]);
    assert.deepEqual(
      res.rejected.map((r) => [r.key, r.kept]),
      [["vip_b_eth9", true]],
    );
    assert.deepEqual(
      res.candidate.instances.instances.map((i) => i.instance),
      ["vip_a", "vip_b_eth0"],
    );
    // The next plan, the same refused version known: no test, the former instance still runs.
    const known = new Map(res.rejected.map((r) => [r.key, r]));
    const again = await judgeInstances(input({ node, instances, test: t.test, lastGood: res.parts, known, running: res.candidate.config }));
    assert.equal(again.kind === "accept" && again.tests, 0);
    assert.deepEqual(again.kind === "accept" && [...again.parts.keys()].sort(), ["vip_a", "vip_b_eth0"]);
    assert.deepEqual(again.kind === "accept" && again.rejected.map((r) => r.kept), [true]);
  });

  void test("a version refused before is not tested again: the same plan costs no test, another change one", async () => {
    const t = fakeTest();
    const instances = new Map([
      ["vip_a", A],
      ["vip_b", B],
    ]);
    const node = nodeOf([{ key: "vip_a" }, { key: "vip_b", iface: MISSING }]);
    const first = await judgeInstances(input({ node, instances, test: t.test }));
    assert.equal(first.kind, "accept");
    if (first.kind !== "accept") return;
    const known = new Map(first.rejected.map((r) => [r.key, r]));
    const again = await judgeInstances(input({ node, instances, test: t.test, lastGood: first.parts, known, running: first.candidate.config, now: 5000 }));
    assert.equal(again.kind === "accept" && again.tests, 0);
    assert.equal(again.kind === "accept" && again.rejected[0]?.since, 1000, "since stays the first refusal's");
    const other = nodeOf([
      { key: "vip_a", priority: 120 },
      { key: "vip_b", iface: MISSING },
    ]);
    const changed = await judgeInstances(input({ node: other, instances, test: t.test, lastGood: first.parts, known, running: first.candidate.config }));
    assert.equal(changed.kind === "accept" && changed.tests, 1);
    assert.equal(changed.kind === "accept" && changed.parts.get("vip_a")?.entry.priority, 120);
  });

  void test("one failure among 32 new instances costs a handful of tests, not one per instance", async () => {
    const t = fakeTest();
    const keys = Array.from({ length: 32 }, (_, i) => `vip_${String(i).padStart(2, "0")}`);
    const instances = new Map(keys.map((k, i) => [k, instance(k, i + 1, `192.0.2.${100 + i}`)]));
    const node = nodeOf(keys.map((k) => ({ key: k, ...(k === "vip_17" ? { iface: MISSING } : {}) })));
    const res = await judgeInstances(input({ node, instances, test: t.test }));
    assert.equal(res.kind, "accept");
    if (res.kind !== "accept") return;
    assert.deepEqual(
      res.rejected.map((r) => r.key),
      ["vip_17"],
    );
    assert.equal(res.parts.size, 31);
    // 1 (all) + base (global_defs only) + bisection: 2 per level over log2(32) = 5 levels.
    assert.ok(res.tests <= 1 + 1 + 2 * 5, `${res.tests} tests`);
  });

  void test("an instance that could not be assembled beside another's last good version is tried again once that one moved on", async () => {
    const t = fakeTest();
    // The address 192.0.2.77 moves from vip_3 to vip_1; vip_2 fails keepalived's test.
    const old3 = instance("vip_3", 3, "192.0.2.77");
    const before = nodeOf([{ key: "vip_3" }]);
    const lastGood = partsOf(before, new Map([["vip_3", old3]]));
    const instances = new Map([
      ["vip_1", instance("vip_1", 1, "192.0.2.77")],
      ["vip_2", instance("vip_2", 2, "192.0.2.78")],
      ["vip_3", instance("vip_3", 3, "192.0.2.79")],
    ]);
    const node = nodeOf([{ key: "vip_1" }, { key: "vip_2", iface: MISSING }, { key: "vip_3" }]);
    const res = await judgeInstances(input({ node, instances, test: t.test, lastGood }));
    assert.equal(res.kind, "accept");
    if (res.kind !== "accept") return;
    assert.deepEqual(
      res.rejected.map((r) => r.key),
      ["vip_2"],
    );
    assert.deepEqual([...res.parts.keys()].sort(), ["vip_1", "vip_3"]);
    assert.equal(res.parts.get("vip_3")?.instance.primaryAddress, "192.0.2.79");
  });

  void test("when not even the last good versions pass, it refuses and keeps what runs", async () => {
    const t = fakeTest();
    const lastGood = partsOf(nodeOf([{ key: "vip_a", iface: MISSING }]), new Map([["vip_a", A]]));
    const node = nodeOf([
      { key: "vip_a", iface: MISSING },
      { key: "vip_b", iface: MISSING },
    ]);
    const res = await judgeInstances(
      input({
        node,
        instances: new Map([
          ["vip_a", A],
          ["vip_b", B],
        ]),
        test: t.test,
        lastGood,
      }),
    );
    assert.equal(res.kind, "refuse");
  });
});

void describe("rejection messages", () => {
  const base: Rejection = {
    key: "k",
    instance: "vip_4_51",
    version: "v",
    problems: [],
    virtualIPs: ["default/web"],
    kept: false,
    byKeepalived: true,
    since: 0,
  };
  void test("name the field and quote keepalived's words", () => {
    const m = rejectionMessage({ ...base, problems: ["(Line 12) WARNING - interface eth9 for vrrp_instance vip_4_51 doesn't exist"] });
    assert.equal(
      m,
      "spec.interface: keepalived refused VRRP instance vip_4_51: (Line 12) WARNING - interface eth9 for vrrp_instance vip_4_51 doesn't exist; it does not run on this node",
    );
    assert.match(
      rejectionMessage({ ...base, kept: true, problems: ["the config has IPVS virtual servers"] }),
      /^spec\.forwarding: .*the last good version keeps running$/,
    );
  });
  void test("are bounded and carry no control characters", () => {
    const m = rejectionMessage({ ...base, problems: [`evil\n\u0000${"x".repeat(5000)}`, "\u001b[31mred"] });
    assert.ok(m.length <= MAX_REJECTION_MESSAGE, `${m.length}`);
    assert.ok(
      [...m].every((c) => c === "…" || (c >= " " && c <= "~")),
      "printable ASCII only",
    );
  });
});

void describe("accepted.json", () => {
  void test("round-trips the parts; unreadable text is an empty map", () => {
    const parts = partsOf(
      nodeOf([{ key: "vip_a" }, { key: "vip_b" }]),
      new Map([
        ["vip_a", A],
        ["vip_b", B],
      ]),
    );
    const back = parseParts(serializeParts(parts));
    assert.deepEqual([...back.keys()], ["vip_a", "vip_b"]);
    assert.equal(partVersion(back.get("vip_a") as InstancePart), partVersion(parts.get("vip_a") as InstancePart));
    assert.equal(parseParts("{").size, 0);
    assert.equal(parseParts('{"parts":[{"key":"x"}]}').size, 0);
    assert.equal(parseParts(undefined).size, 0);
  });
});

void describe("ConfigGate", () => {
  function gate(): { gate: ConfigGate; installs: string[]; t: ReturnType<typeof fakeTest> } {
    const t = fakeTest();
    const installs: string[] = [];
    const g = new ConfigGate({
      assemble: (n, i) => assembleNodeConfig(n, i),
      test: t.test,
      install: (x) => {
        installs.push(x.config);
        return Promise.resolve();
      },
      installInstances: () => Promise.resolve(),
      now: () => 1000,
    });
    return { gate: g, installs, t };
  }
  const full = (node: PublishedNode, instances: Map<string, PublishedInstance>) => {
    const r = assembleNodeConfig(node, instances);
    assert.ok(r.ok);
    return r.value;
  };

  void test("reports a refusal once, on the refused instance's VirtualIPs only, and clears it when fixed", async () => {
    const { gate: g, installs } = gate();
    const instances = new Map([
      ["vip_a", A],
      ["vip_b", B],
    ]);
    const bad = nodeOf([{ key: "vip_a" }, { key: "vip_b", iface: MISSING }]);
    let running: { config?: string; instances?: NodeInstanceMap } = {};
    const first = await g.apply({ node: bad, instances, full: full(bad, instances) }, running);
    assert.equal(first.kind, "accepted");
    if (first.kind !== "accepted") return;
    assert.equal(first.action, "apply");
    assert.deepEqual(
      first.newlyRejected.map((r) => r.key),
      ["vip_b"],
    );
    assert.deepEqual(first.touched, ["default/vip_b"]);
    assert.deepEqual([...g.rejections().keys()], ["default/vip_b"]);
    assert.equal(installs.length, 1);
    running = { config: first.candidate.config, instances: first.candidate.instances };

    const again = await g.apply({ node: bad, instances, full: full(bad, instances) }, running);
    assert.equal(again.kind === "accepted" && again.action, "none");
    assert.deepEqual(again.kind === "accepted" && again.newlyRejected, [], "no second Event");
    assert.deepEqual(again.kind === "accepted" && again.touched, []);

    const good = nodeOf([{ key: "vip_a" }, { key: "vip_b" }]);
    const fixed = await g.apply({ node: good, instances, full: full(good, instances) }, running);
    assert.equal(fixed.kind === "accepted" && fixed.action, "apply");
    assert.deepEqual(fixed.kind === "accepted" && fixed.touched, ["default/vip_b"]);
    assert.equal(g.rejections().size, 0);
  });
});
