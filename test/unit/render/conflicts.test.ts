// Grouping and conflicts: what forms one VRRP instance, what clashes, who wins.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { ClusterPlan, Problem } from "../../../src/render/index.js";
import { claimed, node, view, vip } from "./factory.js";
import type { VipInput } from "./factory.js";

const older = "2024-01-01T00:00:00Z";
const newer = "2024-02-01T00:00:00Z";

function conflictOf(plan: ClusterPlan, key: string): Problem | undefined {
  return plan.problems.find((p) => p.virtualIP === key && p.condition === "Conflict");
}

function rendered(plan: ClusterPlan): string[] {
  return Object.values(plan.virtualIPs)
    .filter((v) => v.instance !== undefined)
    .map((v) => v.key)
    .sort();
}

void describe("grouping into VRRP instances", () => {
  const cases: { name: string; first?: VipInput["spec"]; second: VipInput["spec"]; instances: number }[] = [
    { name: "same router id and settings: one instance", second: {}, instances: 1 },
    {
      name: "same explicit priorities: one instance",
      first: { vrrp: { priorities: { "node-a": 150 } } },
      second: { vrrp: { priorities: { "node-a": 150 } } },
      instances: 1,
    },
    { name: "an explicit default priority equals none", second: { vrrp: { priorities: { "node-a": 100 } } }, instances: 1 },
    { name: "a priority for a node that takes no part changes nothing", second: { vrrp: { priorities: { "node-z": 150 } } }, instances: 1 },
    { name: "another router id: two instances", second: { virtualRouterId: 52 }, instances: 2 },
    { name: "another interface: two instances", second: { interface: "eth1" }, instances: 2 },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const first = vip({ name: "a", created: older, spec: c.first ?? {} });
      const second = vip({ name: "b", created: newer, spec: { address: "192.0.2.51", ...c.second } });
      const plan = planCluster(view([first, second]));
      assert.deepEqual(plan.problems, []);
      assert.equal(plan.instances.length, c.instances);
      assert.deepEqual(rendered(plan), ["default/a", "default/b"]);
    });
  }

  void test("one instance carries both addresses and names both VirtualIPs", () => {
    const plan = planCluster(view([vip({ name: "a", created: older }), vip({ name: "b", created: newer, spec: { address: "192.0.2.49" } })]));
    assert.equal(plan.instances.length, 1);
    assert.deepEqual(plan.instances[0]?.addresses, ["192.0.2.49", "192.0.2.50"]);
    assert.deepEqual(plan.instances[0]?.virtualIPs, ["default/a", "default/b"]);
    assert.equal(plan.instances[0]?.primaryAddress, "192.0.2.50", "the oldest member's address is advertised");
  });
});

void describe("conflicts", () => {
  const clashes: { name: string; second: VipInput["spec"]; reason: string; field: RegExp }[] = [
    { name: "different priority map", second: { vrrp: { priorities: { "node-b": 200 } } }, reason: "RouterIdClash", field: /spec\.vrrp\.priorities/ },
    { name: "different preempt", second: { vrrp: { preempt: true } }, reason: "RouterIdClash", field: /spec\.vrrp\.preempt/ },
    { name: "different advert interval", second: { vrrp: { advertisementInterval: "100ms" } }, reason: "RouterIdClash", field: /advertisementInterval/ },
    { name: "different unicast", second: { vrrp: { unicast: false } }, reason: "RouterIdClash", field: /spec\.vrrp\.unicast/ },
    { name: "different version", second: { vrrp: { version: 2 } }, reason: "RouterIdClash", field: /spec\.vrrp\.version/ },
    {
      name: "explicit interface equal to the default one",
      second: { interface: "eth0" },
      reason: "RouterIdClash",
      field: /spec\.interface/,
    },
    {
      name: "overlapping but different node sets",
      second: { nodeSelector: { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["node-c"] }] } },
      reason: "RouterIdClash",
      field: /spec\.nodeSelector/,
    },
    { name: "the same address", second: { address: "192.0.2.50", virtualRouterId: 99 }, reason: "DuplicateAddress", field: /spec\.address: 192\.0\.2\.50/ },
  ];
  for (const c of clashes) {
    void test(`${c.name}: the newer is left out with ${c.reason}`, () => {
      const nodes = ["node-a", "node-b", "node-c"].map((n) => node(n, [`192.0.2.${11 + n.charCodeAt(5) - 97}`], { labels: { "kubernetes.io/hostname": n } }));
      const a = vip({ name: "a", created: older });
      const b = vip({ name: "b", created: newer, spec: { address: "192.0.2.51", ...c.second } });
      const plan = planCluster(view([b, a], { nodes }));
      const problem = conflictOf(plan, "default/b");
      assert.ok(problem, "no Conflict problem for the newer VirtualIP");
      assert.equal(problem.reason, c.reason);
      assert.equal(problem.other, "default/a");
      assert.equal(problem.excluded, true);
      assert.match(problem.message, /default\/a/);
      assert.match(problem.message, /default\/b/);
      assert.match(problem.message, c.field);
      assert.ok(plan.problems.some((p) => p.virtualIP === "default/b" && p.condition === "Ready" && p.reason === "Conflict"));
      assert.equal(conflictOf(plan, "default/a"), undefined, "the winner gets no problem");
      assert.deepEqual(rendered(plan), ["default/a"]);
      for (const n of renderNodeConfigs(plan)) assert.ok(!n.config.includes("192.0.2.51"), `${n.node} carries the loser's address`);
    });
  }

  void test("the older wins even when its name sorts last", () => {
    const plan = planCluster(view([vip({ name: "zz", created: older }), vip({ name: "aa", created: newer })]));
    assert.equal(conflictOf(plan, "default/aa")?.other, "default/zz");
  });

  void test("at the same age, namespace/name decides", () => {
    const plan = planCluster(view([vip({ name: "b", created: older }), vip({ name: "a", created: older })]));
    assert.equal(conflictOf(plan, "default/b")?.other, "default/a");
    assert.match(conflictOf(plan, "default/b")?.message ?? "", /default\/a \(created at the same time, first by namespace\/name\)/);
  });

  void test("a VirtualIP left out for a conflict causes no conflict for anyone else", () => {
    // b loses to a (same address); c shares b's router id with other settings but never meets a.
    const a = vip({ name: "a", created: "2024-01-01T00:00:00Z", spec: { address: "192.0.2.50", virtualRouterId: 1 } });
    const b = vip({ name: "b", created: "2024-02-01T00:00:00Z", spec: { address: "192.0.2.50", virtualRouterId: 2 } });
    const c = vip({ name: "c", created: "2024-03-01T00:00:00Z", spec: { address: "192.0.2.52", virtualRouterId: 2, vrrp: { preempt: true } } });
    const plan = planCluster(view([c, b, a]));
    assert.deepEqual(rendered(plan), ["default/a", "default/c"]);
    assert.deepEqual(
      plan.problems.filter((p) => p.condition === "Conflict").map((p) => p.virtualIP),
      ["default/b"],
    );
  });

  void test("the same router id and interface on disjoint nodes is no conflict", () => {
    const nodes = [node("node-a", ["192.0.2.11"], { labels: { rack: "1" } }), node("node-b", ["192.0.2.12"], { labels: { rack: "2" } })];
    const a = vip({ name: "a", created: older, spec: { nodeSelector: { matchLabels: { rack: "1" } } } });
    const b = vip({ name: "b", created: newer, spec: { address: "192.0.2.51", nodeSelector: { matchLabels: { rack: "2" } }, vrrp: { preempt: true } } });
    const plan = planCluster(view([a, b], { nodes }));
    assert.deepEqual(plan.problems, []);
    assert.equal(plan.instances.length, 2);
    for (const n of renderNodeConfigs(plan)) assert.equal(n.instances.instances.length, 1);
  });

  void test("instances sharing a name on disjoint nodes are published apart, and each node assembles its own", () => {
    const nodes = [node("node-a", ["192.0.2.11"], { labels: { rack: "1" } }), node("node-b", ["192.0.2.12"], { labels: { rack: "2" } })];
    const a = vip({ name: "a", created: older, spec: { nodeSelector: { matchLabels: { rack: "1" } } } });
    const b = vip({ name: "b", created: newer, spec: { address: "192.0.2.51", nodeSelector: { matchLabels: { rack: "2" } }, vrrp: { preempt: true } } });
    const plan = planCluster(view([a, b], { nodes }));
    assert.deepEqual(
      plan.published.map((p) => p.published.name),
      ["vip_4_51", "vip_4_51"],
    );
    assert.equal(new Set(plan.published.map((p) => p.name)).size, 2, "two published instances under one key");
    for (const p of plan.published) assert.match(p.name, /^vip_4_51#[0-9a-f]{16}$/);
    const [na, nb] = renderNodeConfigs(plan);
    assert.match(na?.config ?? "", /^ {8}192\.0\.2\.50\/32 dev eth0$/m);
    assert.doesNotMatch(na?.config ?? "", /192\.0\.2\.51|192\.0\.2\.12/);
    assert.match(nb?.config ?? "", /^ {8}192\.0\.2\.51\/32 dev eth0$/m);
    assert.doesNotMatch(nb?.config ?? "", /192\.0\.2\.50|192\.0\.2\.11/);
    assert.deepEqual(
      [na, nb].map((n) => n?.instances.instances.map((i) => [i.instance, i.addresses])),
      [[["vip_4_51", ["192.0.2.50"]]], [["vip_4_51", ["192.0.2.51"]]]],
    );
  });

  void test("the same router id in the other family is no conflict", () => {
    const nodes = [node("node-a", ["192.0.2.11", "2001:db8::11"]), node("node-b", ["192.0.2.12", "2001:db8::12"])];
    const a = vip({ name: "a", created: older });
    const b = vip({ name: "b", created: newer, spec: { address: "2001:db8::50", vrrp: { preempt: true } } });
    const plan = planCluster(view([a, b], { nodes }));
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(
      plan.instances.map((i) => i.name),
      ["vip_4_51", "vip_6_51"],
    );
  });

  void test("a default interface that differs from the explicit one on every shared node is no conflict", () => {
    const a = vip({ name: "a", created: older });
    const b = vip({ name: "b", created: newer, spec: { address: "192.0.2.51", interface: "eth1" } });
    const plan = planCluster(view([a, b]));
    assert.deepEqual(plan.problems, []);
    assert.deepEqual(
      plan.instances.map((i) => i.name),
      ["vip_4_51", "vip_4_51_eth1"],
    );
  });

  void test("an older VirtualIP without its Service and without a claim blocks no one", () => {
    const a = vip({ name: "a", created: older, spec: { serviceRef: { name: "gone" } } });
    const b = vip({ name: "b", created: newer, spec: { vrrp: { preempt: true } } });
    const plan = planCluster(view([a, b]));
    assert.equal(conflictOf(plan, "default/b"), undefined);
    assert.deepEqual(rendered(plan), ["default/b"]);
    assert.deepEqual(
      plan.problems.filter((p) => p.virtualIP === "default/a").map((p) => p.reason),
      ["ServiceNotFound"],
    );
  });

  void test("an older VirtualIP without its Service still holds its claim", () => {
    const a = claimed(vip({ name: "a", created: older, spec: { serviceRef: { name: "gone" } } }), { time: older });
    const b = vip({ name: "b", created: newer, spec: { address: "192.0.2.51", vrrp: { preempt: true } } });
    const plan = planCluster(view([a, b]));
    assert.equal(conflictOf(plan, "default/b")?.other, "default/a");
    assert.match(conflictOf(plan, "default/b")?.message ?? "", /default\/a \(which claimed it first\)/);
    assert.deepEqual(rendered(plan), []);
  });

  void test("a VirtualIP with an invalid spec claims nothing", () => {
    // The API server rejects IPv6 with VRRPv2; an object stored before that rule still must not break others.
    const a = vip({ name: "a", created: older, spec: { address: "2001:db8::50" } });
    a.spec.vrrp.version = 2;
    const b = vip({ name: "b", created: newer, spec: { address: "2001:db8::50" } });
    const nodes = [node("node-a", ["2001:db8::11"]), node("node-b", ["2001:db8::12"])];
    const plan = planCluster(view([a, b], { nodes }));
    assert.deepEqual(
      plan.problems.map((p) => [p.virtualIP, p.reason]),
      [["default/a", "InvalidSpec"]],
    );
    assert.deepEqual(rendered(plan), ["default/b"]);
  });
});
