// The published plan and assembleNodeConfig: what the operator writes (one
// instance.json per VRRP instance, one node.json per node), how a node's
// keepalived.conf is assembled from it (the golden bytes, with or without the
// template cache, from the parsed JSON as an agent reads it), a wait while the
// plan is between two writes, a refusal (never a throw) of a value that is not
// safe to render, and one small write per change.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { publishedInstanceSchema, publishedNodeSchema } from "../../../src/api/index.js";
import type { PublishedInstance, PublishedNode } from "../../../src/api/index.js";
import { assembleNodeConfig, planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { AssembleResult, ClusterPlan, ClusterView } from "../../../src/render/index.js";
import type { InstanceTemplate } from "../../../src/render/keepalived.js";
import { node, secret, service, slice, view, vip } from "./factory.js";
import { SCALE_PASSWORD, scaleView } from "./scale-view.js";
import { FIXTURES, GOLDEN, loadFixture } from "./support.js";

/** The published instances of a plan by key, as an agent collects them. */
function instancesOf(plan: ClusterPlan): Map<string, PublishedInstance> {
  return new Map(plan.published.map((p) => [p.name, p.published]));
}

function nodeOf(plan: ClusterPlan, name: string): PublishedNode {
  const n = plan.nodes.find((p) => p.node === name);
  assert.ok(n, `no node ${name} in the plan`);
  return n.published;
}

/** The assembled text of an `ok` result; fails the test otherwise. */
function configOf(res: AssembleResult): string {
  assert.ok(res.ok, `not assembled: ${res.ok ? "" : res.problem}`);
  return res.value.config;
}

/** key -> hash of every published instance, and node -> hash of every node. */
function hashes(plan: ClusterPlan): { instances: Map<string, string>; nodes: Map<string, string> } {
  return { instances: new Map(plan.published.map((p) => [p.name, p.hash])), nodes: new Map(plan.nodes.map((n) => [n.node, n.hash])) };
}

/** The keys of `after` whose value is not the one in `before` (new keys included, sorted). */
function changed(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after]
    .filter(([k, v]) => before.get(k) !== v)
    .map(([k]) => k)
    .sort();
}

const cases = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();

/**
 * Three nodes (node-a, node-b in rack 1, node-c in rack 2) and three
 * instances: vip_4_51 (web and web2, ipvs, unicast, every node),
 * vip_4_52 (db, rack 1 only), vip_4_53 (mc, multicast, every node).
 */
function baseView(over: { web2Address?: string; web2RouterId?: number; extraNodes?: ReturnType<typeof node>[] } = {}): ClusterView {
  const nodes = [
    node("node-a", ["192.0.2.11"], { labels: { rack: "1" } }),
    node("node-b", ["192.0.2.12"], { labels: { rack: "1" } }),
    node("node-c", ["192.0.2.13"], { labels: { rack: "2" } }),
    ...(over.extraNodes ?? []),
  ];
  const vips = [
    vip({ name: "web", created: "2024-01-01T00:00:00Z", spec: { address: "192.0.2.50", virtualRouterId: 51, forwarding: "ipvs" } }),
    vip({
      name: "web2",
      created: "2024-02-01T00:00:00Z",
      spec: { address: over.web2Address ?? "192.0.2.51", virtualRouterId: over.web2RouterId ?? 51, forwarding: "ipvs" },
    }),
    vip({ name: "db", created: "2024-01-01T00:00:00Z", spec: { address: "192.0.2.60", virtualRouterId: 52, nodeSelector: { matchLabels: { rack: "1" } } } }),
    vip({ name: "mc", created: "2024-01-01T00:00:00Z", spec: { address: "192.0.2.70", virtualRouterId: 53, vrrp: { unicast: false } } }),
  ];
  return view(vips, {
    nodes,
    services: [service("web", { type: "LoadBalancer", ports: [{ name: "http", port: 80 }] })],
    endpointSlices: [
      slice("web-1", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.105" }, { ip: "198.51.100.106" }] }),
    ],
  });
}

void describe("the published plan assembles to the golden configs", () => {
  for (const name of cases) {
    void test(`${name}: every instance and node round-trips its schema, and the parsed JSON assembles to the golden files`, () => {
      const plan = planCluster(loadFixture(name));
      const instances = new Map<string, PublishedInstance>();
      for (const p of plan.published) {
        const parsed = publishedInstanceSchema.parse(JSON.parse(p.json));
        assert.deepEqual(parsed, p.published, `instance ${p.name}`);
        assert.equal(JSON.stringify(parsed), p.json, `instance ${p.name}: JSON of the parsed instance`);
        instances.set(p.name, parsed);
      }
      for (const n of plan.nodes) {
        const parsed = publishedNodeSchema.parse(JSON.parse(n.json));
        assert.deepEqual(parsed, n.published, `node ${n.node}`);
        assert.equal(JSON.stringify(parsed), n.json, `node ${n.node}: JSON of the parsed node`);
        const config = configOf(assembleNodeConfig(parsed, instances));
        assert.equal(config, readFileSync(join(GOLDEN, name, `${n.node}.conf`), "utf8"), `${name}/${n.node}.conf`);
      }
    });
  }

  void test("the scale view's instances and nodes round-trip their schemas", () => {
    const plan = planCluster(scaleView());
    for (const p of plan.published) assert.deepEqual(publishedInstanceSchema.parse(JSON.parse(p.json)), p.published, p.name);
    for (const n of plan.nodes) assert.deepEqual(publishedNodeSchema.parse(JSON.parse(n.json)), n.published, n.node);
  });

  void test("a password is published in its instance only, never in node.json", () => {
    const plan = planCluster(scaleView());
    assert.ok(plan.published.some((p) => p.json.includes(SCALE_PASSWORD)));
    assert.ok(!plan.nodes.some((n) => n.json.includes(SCALE_PASSWORD)));
  });
});

void describe("the template cache", () => {
  const views: [string, () => ClusterView][] = [
    ...cases.map((name): [string, () => ClusterView] => [name, () => loadFixture(name)]),
    ["scale", scaleView],
    // Nodes on different interfaces: the address blocks are cached per interface.
    ["per-node interfaces", () => ({ ...baseView(), nodeInterfaces: { "node-b": "bond0", "node-c": "ens3" } })],
  ];
  for (const [name, make] of views) {
    void test(`${name}: a shared cache, filled in any node order, gives the same text as none`, () => {
      const plan = planCluster(make());
      const instances = instancesOf(plan);
      const nodes = plan.nodes.map((n) => n.published);
      const uncached = nodes.map((n) => configOf(assembleNodeConfig(n, instances)));
      for (const order of [nodes, [...nodes].reverse()]) {
        const templates = new WeakMap<PublishedInstance, InstanceTemplate>();
        const got = new Map(order.map((n) => [n.node, configOf(assembleNodeConfig(n, instances, templates))]));
        assert.deepEqual(
          nodes.map((n) => got.get(n.node)),
          uncached,
        );
        // A second pass takes every template from the cache.
        assert.deepEqual(
          nodes.map((n) => configOf(assembleNodeConfig(n, instances, templates))),
          uncached,
        );
      }
    });
  }

  void test("every instance a node names is cached, and a changed instance (a new object) is prepared anew", () => {
    const before = planCluster(baseView());
    const after = planCluster(baseView({ web2Address: "192.0.2.55" }));
    const templates = new WeakMap<PublishedInstance, InstanceTemplate>();
    const a = nodeOf(before, "node-a");
    configOf(assembleNodeConfig(a, instancesOf(before), templates));
    for (const e of a.instances) assert.ok(templates.has(instancesOf(before).get(e.instance) as PublishedInstance), e.instance);
    const cached = configOf(assembleNodeConfig(nodeOf(after, "node-a"), instancesOf(after), templates));
    assert.equal(cached, configOf(assembleNodeConfig(nodeOf(after, "node-a"), instancesOf(after))));
    assert.match(cached, /192\.0\.2\.55\/32/);
    assert.doesNotMatch(cached, /192\.0\.2\.51\//);
  });
});

void describe("waiting: the published plan between two writes", () => {
  const plan = planCluster(baseView());
  const a = nodeOf(plan, "node-a");

  void test("a node naming an instance that is not published yet waits for it", () => {
    const instances = instancesOf(plan);
    instances.delete("vip_4_52");
    const res = assembleNodeConfig(a, instances);
    assert.ok(!res.ok && res.waiting, JSON.stringify(res));
    assert.deepEqual(res.missing, ["vip_4_52"]);
    assert.match(res.problem, /waiting for 1 published instance\(s\): vip_4_52$/);
  });

  void test("the message names at most five missing instances", () => {
    const many: PublishedNode = { ...a, instances: Array.from({ length: 7 }, (_, i) => ({ instance: `vip_4_${i + 1}`, interface: "eth0", priority: 100 })) };
    const res = assembleNodeConfig(many, new Map());
    assert.ok(!res.ok && res.waiting);
    assert.equal(res.missing.length, 7);
    assert.match(res.problem, /waiting for 7 published instance\(s\): vip_4_1, vip_4_2, vip_4_3, vip_4_4, vip_4_5, and 2 more$/);
  });

  void test("one address in two instances (a VirtualIP moving between them) waits; the move's last write completes it", () => {
    // web2 moves from vip_4_51 to an instance of its own, vip_4_54.
    const moved = planCluster(baseView({ web2RouterId: 54 }));
    const instances = instancesOf(plan);
    // The new instance and node.json are written, the old instance still carries the address.
    instances.set("vip_4_54", instancesOf(moved).get("vip_4_54") as PublishedInstance);
    const res = assembleNodeConfig(nodeOf(moved, "node-a"), instances);
    assert.ok(!res.ok && res.waiting, JSON.stringify(res));
    assert.deepEqual(res.missing, []);
    assert.match(res.problem, /address 192\.0\.2\.51 is in instances vip_4_51 and vip_4_54/);
    instances.set("vip_4_51", instancesOf(moved).get("vip_4_51") as PublishedInstance);
    assert.equal(configOf(assembleNodeConfig(nodeOf(moved, "node-a"), instances)), renderNodeConfigs(moved)[0]?.config);
  });

  void test("renderNodeConfigs throws on a plan it cannot assemble (a planner bug)", () => {
    assert.throws(() => renderNodeConfigs({ nodes: plan.nodes, published: plan.published.slice(1) }), /Cannot assemble the config of node node-a: waiting for/);
  });
});

void describe("values that are not safe to render are refused, without a throw", () => {
  const v6 = view([vip({ name: "v6", spec: { address: "2001:db8::50" } })], {
    nodes: [node("node-a", ["192.0.2.11", "2001:db8::11"]), node("node-b", ["192.0.2.12", "2001:db8::12"])],
  });
  const plans = { v4: planCluster(baseView()), v6: planCluster(v6) };
  type Tamper = (inst: PublishedInstance, node: PublishedNode) => { inst?: Partial<PublishedInstance>; node?: Partial<PublishedNode> };
  const entry0 = (n: PublishedNode, e: Partial<PublishedNode["instances"][number]>): Partial<PublishedNode> => ({
    instances: n.instances.map((x, i) => (i === 0 ? { ...x, ...e } : x)),
  });
  const vs0 = (inst: PublishedInstance, vs: Partial<PublishedInstance["virtualServers"][number]>): Partial<PublishedInstance> => ({
    virtualServers: inst.virtualServers.map((x, i) => (i === 0 ? { ...x, ...vs } : x)),
  });
  const cases: [string, keyof typeof plans, Tamper, RegExp][] = [
    ["an interface name with a space", "v4", (_, n) => ({ node: entry0(n, { interface: "eth0 x" }) }), /interface "eth0 x"/],
    ["an interface name with a newline", "v4", (_, n) => ({ node: entry0(n, { interface: "eth0\n}" }) }), /interface/],
    ["a priority out of range", "v4", (_, n) => ({ node: entry0(n, { priority: 255 }) }), /priority 255/],
    ["a unicast source of the other family", "v4", (_, n) => ({ node: entry0(n, { sourceIP: "2001:db8::11" }) }), /unicast_src_ip/],
    ["a relative runtime directory", "v4", () => ({ node: { runtimeDir: "run/kv" } }), /runtime directory/],
    ["an instance name with a newline", "v4", () => ({ inst: { name: "vip_4_51\nvrrp_instance evil {" } }), /vrrp_instance name/],
    ["a newline in a peer address", "v4", () => ({ inst: { peers: ["192.0.2.11", "192.0.2.12\n}"] } }), /unicast_peer/],
    ["a primary address that is not canonical", "v6", () => ({ inst: { primaryAddress: "2001:db8:0::50" } }), /not a canonical IPv6 address/],
    ["a primary address of the other family", "v4", () => ({ inst: { primaryAddress: "2001:db8::50" } }), /virtual address/],
    ["an excluded address with a brace", "v4", () => ({ inst: { excludedAddresses: ["192.0.2.51 }"] } }), /virtual address/],
    ["a real server address with a newline", "v4", (i) => ({ inst: vs0(i, { realServers: [{ address: "198.51.100.105\n", port: 8080 }] }) }), /real_server/],
    ["a virtual server address that is not canonical", "v4", (i) => ({ inst: vs0(i, { address: "192.0.2.050" }) }), /virtual_server/],
    ["a VRRPv2 advert interval of 1.5s", "v4", () => ({ inst: { version: 2, advertIntervalMs: 1500 } }), /advert_int of 1500ms/],
    ["a password with a space", "v4", () => ({ inst: { version: 2, authPassword: "pass word" } }), /auth_pass: <redacted>/],
    ["a password in a VRRPv3 instance", "v4", () => ({ inst: { authPassword: "password" } }), /authentication in VRRPv3/],
  ];
  for (const [what, which, tamper, message] of cases) {
    void test(`${what}: not waiting, a message`, () => {
      const plan = plans[which];
      const node0 = plan.nodes[0]?.published as PublishedNode;
      const key = node0.instances[0]?.instance ?? "";
      const inst = instancesOf(plan).get(key) as PublishedInstance;
      const t = tamper(inst, node0);
      const instances = new Map(instancesOf(plan)).set(key, { ...inst, ...t.inst });
      let res: AssembleResult | undefined;
      assert.doesNotThrow(() => {
        res = assembleNodeConfig({ ...node0, ...t.node }, instances);
      });
      assert.ok(res && !res.ok && !res.waiting, JSON.stringify(res));
      assert.match(res.problem, message);
      assert.doesNotMatch(res.problem, /pass word/, "the message shows the password");
    });
  }

  void test("a node naming one instance twice, or two instances of one vrrp_instance name, is refused", () => {
    const plan = plans.v4;
    const a = nodeOf(plan, "node-a");
    const first = a.instances[0];
    assert.ok(first);
    const twice = assembleNodeConfig({ ...a, instances: [...a.instances, first] }, instancesOf(plan));
    assert.ok(!twice.ok && !twice.waiting);
    assert.match(twice.problem, /names vrrp_instance vip_4_51 twice/);
    const instances = instancesOf(plan).set("vip_4_51#other", instancesOf(plan).get("vip_4_51") as PublishedInstance);
    const renamed = assembleNodeConfig({ ...a, instances: [...a.instances, { ...first, instance: "vip_4_51#other" }] }, instances);
    assert.ok(!renamed.ok && !renamed.waiting);
    assert.match(renamed.problem, /names vrrp_instance vip_4_51 twice \(as vip_4_51 and vip_4_51#other\)/);
  });
});

void describe("one change, one small write", () => {
  const before = planCluster(baseView());
  const was = hashes(before);

  void test("the base view has what the tests need", () => {
    assert.deepEqual(before.problems, []);
    assert.deepEqual([...was.instances.keys()], ["vip_4_51", "vip_4_52", "vip_4_53"]);
    assert.equal(instancesOf(before).get("vip_4_51")?.virtualServers.length, 2);
  });

  void test("planning the same view again changes nothing", () => {
    const again = hashes(planCluster(baseView()));
    assert.deepEqual(changed(was.instances, again.instances), []);
    assert.deepEqual(changed(was.nodes, again.nodes), []);
  });

  void test("a new address of one VirtualIP changes exactly one published instance and no node", () => {
    const after = planCluster(baseView({ web2Address: "192.0.2.55" }));
    const now = hashes(after);
    assert.deepEqual(changed(was.instances, now.instances), ["vip_4_51"]);
    assert.deepEqual(changed(was.nodes, now.nodes), []);
    // ...and that one instance is what every node's config changes by.
    const configs = renderNodeConfigs(after);
    for (const c of configs) assert.match(c.config, /virtual_server 192\.0\.2\.55 80 \{/);
  });

  void test("a new node changes its own entry, the peers of the unicast instances it joins and the ranked priorities in those, nothing else", () => {
    const after = planCluster(baseView({ extraNodes: [node("node-d", ["192.0.2.14"], { labels: { rack: "2" } })] }));
    const now = hashes(after);
    // It joins vip_4_51 (unicast: new peer) and vip_4_53 (multicast: no peers), not vip_4_52 (rack 1).
    assert.deepEqual(changed(was.instances, now.instances), ["vip_4_51"]);
    assert.deepEqual(instancesOf(after).get("vip_4_51")?.peers, ["192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.14"]);
    assert.deepEqual(
      nodeOf(after, "node-d").instances.map((e) => e.instance),
      ["vip_4_51", "vip_4_53"],
    );
    // The other nodes' entries change only by their priority in the instances node-d joined (four ranks instead of three).
    for (const n of ["node-a", "node-b", "node-c"]) {
      const strip = (plan: ClusterPlan) => nodeOf(plan, n).instances.map((e) => (e.instance === "vip_4_52" ? e : { ...e, priority: 0 }));
      assert.deepEqual(strip(after), strip(before), n);
    }
    const prios = (plan: ClusterPlan, inst: string) => plan.instances.find((i) => i.name === inst)?.priorities;
    assert.deepEqual(prios(after, "vip_4_52"), prios(before, "vip_4_52"));
    assert.equal(new Set(Object.values(prios(after, "vip_4_51") ?? {})).size, 4);
  });

  void test("a password change is one instance's write", () => {
    const withAuth = (password: string): ClusterPlan =>
      planCluster({
        ...baseView(),
        virtualIPs: [
          ...baseView().virtualIPs,
          vip({ name: "auth", spec: { address: "192.0.2.80", virtualRouterId: 55, vrrp: { version: 2, authSecretRef: { name: "vrrp", key: "p" } } } }),
        ],
        secrets: [secret("vrrp", { p: password })],
      });
    const one = hashes(withAuth("first1"));
    const two = hashes(withAuth("second2"));
    assert.deepEqual(changed(one.instances, two.instances), ["vip_4_55"]);
    assert.deepEqual(changed(one.nodes, two.nodes), []);
  });
});
