// keepalived.conf text: number formats, and that no object field can inject a
// directive (the renderer refuses unsafe tokens; odd names are sanitized).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { advertIntervalText, assembleNodeConfig, assertConfigShape, planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { VirtualServer } from "../../../src/render/index.js";
import type { NodeInstanceEntry, PublishedInstance, PublishedNode } from "../../../src/api/index.js";
import { KeepalivedChecker } from "./support.js";
import { blockOf, node, service, slice, view, vip } from "./factory.js";

void describe("advertIntervalText", () => {
  const cases: [number, 2 | 3, string][] = [
    [1000, 2, "1"],
    [255000, 2, "255"],
    [1000, 3, "1"],
    [100, 3, "0.1"],
    [10, 3, "0.01"],
    [1500, 3, "1.5"],
    [40950, 3, "40.95"],
    [70, 3, "0.07"],
  ];
  for (const [ms, version, want] of cases) {
    void test(`${ms}ms with VRRPv${version} -> ${want}`, () => assert.equal(advertIntervalText(ms, version), want));
  }
  const bad: [number, 2 | 3][] = [
    [1500, 2],
    [0, 2],
    [256000, 2],
    [5, 3],
    [15, 3],
    [41000, 3],
  ];
  for (const [ms, version] of bad) {
    void test(`${ms}ms with VRRPv${version} is refused`, () => assert.throws(() => advertIntervalText(ms, version), /Refusing/));
  }
});

// What the agent assembles its keepalived.conf from (the published plan): one
// instance Secret's instance.json and the node Secret's node.json. Each case
// below is a Secret that passed its schema but carries a value unsafe to render.
const instance: PublishedInstance = {
  name: "vip_4_51",
  virtualRouterId: 51,
  family: 4,
  version: 2,
  advertIntervalMs: 1000,
  preempt: false,
  unicast: true,
  peers: ["192.0.2.11", "192.0.2.12"],
  authPassword: "pw",
  primaryAddress: "192.0.2.50",
  excludedAddresses: ["192.0.2.51"],
  virtualIPs: ["default/web"],
  virtualServers: [],
};
const server: VirtualServer = {
  virtualIP: "default/web",
  service: "default/web",
  portName: "http",
  address: "192.0.2.50",
  port: 80,
  protocol: "TCP",
  scheduler: "rr",
  method: "NAT",
  realServers: [{ address: "198.51.100.105", port: 8080 }],
};
const entry: NodeInstanceEntry = { instance: "vip_4_51", interface: "eth0", priority: 100, sourceIP: "192.0.2.11" };

/** One node's published plan: its node.json and the instances it names. */
interface Published {
  node: PublishedNode;
  instance: PublishedInstance;
}
const base: Published = {
  node: { node: "node-a", runtimeDir: "/run/keepalived-vip", instances: [entry] },
  instance: { ...instance, virtualServers: [server] },
};

function assemble(p: Published): ReturnType<typeof assembleNodeConfig> {
  return assembleNodeConfig(p.node, new Map([[entry.instance, p.instance]]));
}
const withInstance = (change: Partial<PublishedInstance>): Published => ({ ...base, instance: { ...base.instance, ...change } });
const withEntry = (change: Partial<NodeInstanceEntry>): Published => ({ ...base, node: { ...base.node, instances: [{ ...entry, ...change }] } });
const withServer = (change: Partial<VirtualServer>): Published => withInstance({ virtualServers: [{ ...server, ...change }] });

void describe("assembleNodeConfig refuses unsafe values of the published plan", () => {
  const cases: { name: string; input: Published; secret?: string }[] = [
    { name: "an interface with a space", input: withEntry({ interface: "eth0 }" }) },
    { name: "an instance name with a brace", input: withInstance({ name: "vip}" }) },
    { name: "a non-canonical address", input: withInstance({ primaryAddress: "192.0.2.050" }) },
    { name: "an address of the other family", input: withInstance({ excludedAddresses: ["2001:db8::1"] }) },
    { name: "a peer with a newline", input: withInstance({ peers: ["192.0.2.11", "192.0.2.12\n}"] }) },
    { name: "a unicast source with a newline", input: withEntry({ sourceIP: "192.0.2.11\n}" }) },
    { name: "priority 255", input: withEntry({ priority: 255 }) },
    { name: "router id 0", input: withInstance({ virtualRouterId: 0 }) },
    { name: "a password with a brace", input: withInstance({ authPassword: "a}b" }), secret: "a}b" },
    { name: "a password of nine characters", input: withInstance({ authPassword: "123456789" }), secret: "123456789" },
    { name: "authentication with VRRPv3", input: withInstance({ version: 3 }) },
    { name: "a real server port of 0", input: withServer({ realServers: [{ address: "198.51.100.105", port: 0 }] }) },
    { name: "a scheduler with a space", input: withServer({ scheduler: "rr x" as VirtualServer["scheduler"] }) },
    { name: "a protocol other than TCP or UDP", input: withServer({ protocol: "SCTP" as VirtualServer["protocol"] }) },
    { name: "a relative runtime directory", input: { ...base, node: { ...base.node, runtimeDir: "run" } } },
  ];
  void test("the base input assembles", () => {
    const res = assemble(base);
    assert.ok(res.ok, res.ok ? "" : res.problem);
    assert.match(res.value.config, /vrrp_instance vip_4_51 \{/);
    assert.match(res.value.config, /^ {4}unicast_peer \{\n {8}192\.0\.2\.12\n {4}\}$/m);
    assert.match(res.value.config, /^virtual_server 192\.0\.2\.50 80 \{$/m);
  });
  for (const c of cases) {
    void test(c.name, () => {
      const res = assemble(c.input);
      assert.equal(res.ok, false, "an unsafe value was rendered");
      if (res.ok) return;
      assert.equal(res.waiting, false, "an unsafe value is not a wait");
      assert.match(res.problem, /Refusing/);
      if (c.secret) assert.ok(!res.problem.includes(c.secret), "the problem shows the password");
    });
  }
});

/** Lines that open or are a directive (not comments, not block ends). */
function directives(config: string): string[] {
  return config
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && l !== "}");
}

void describe("object fields cannot inject directives", () => {
  const checker = new KeepalivedChecker();
  after(() => checker.close());

  const evilNode = "node-a\n}\nvrrp_instance evil {\n#";
  const v = view([vip({ name: "web", spec: { forwarding: "ipvs" } })], {
    nodes: [node(evilNode, ["192.0.2.11"]), node("node-b", ["192.0.2.12"]), node("node c!{}", ["192.0.2.13\n}"])],
    services: [service("web", { ports: [{ name: "http}\nvirtual_server 1.2.3.4 1 {", port: 80 }] })],
    endpointSlices: [
      slice("web-1", {
        service: "web",
        ports: [{ name: "http}\nvirtual_server 1.2.3.4 1 {", port: 8080 }],
        endpoints: [{ ip: "198.51.100.105" }, { ip: "198.51.100.106 }" }],
      }),
    ],
    nodeInterfaces: { "node-b": "eth0 }\nvrrp_instance x {" },
  });
  const plan = planCluster(v);
  const configs = renderNodeConfigs(plan);

  void test("odd Node names, port names, addresses and interfaces are sanitized or dropped", () => {
    for (const n of configs) {
      const lines = directives(n.config);
      assert.equal(lines.filter((l) => l.startsWith("vrrp_instance")).length, n.instances.instances.length, n.config);
      assert.ok(!lines.some((l) => l.startsWith("vrrp_instance evil")), `${JSON.stringify(n.node)}: the node name opened an instance`);
      assert.ok(!lines.some((l) => l.includes("1.2.3.4")), "the port name reached the config as a directive");
      assert.ok(!n.config.includes("198.51.100.106"), "an unparsable endpoint address reached the config");
      for (const l of lines) assert.doesNotMatch(l, /[{}]./, `a brace inside a line: ${l}`);
    }
    const evil = configs.find((n) => n.node === evilNode);
    assert.ok(evil);
    assert.match(evil.config, /^ {4}router_id node-a___vrrp_instance_evil____$/m);
  });

  void test("a node whose address is not an IP takes no part", () => {
    assert.deepEqual(plan.instances[0]?.nodes, ["node-a\n}\nvrrp_instance evil {\n#", "node-b"]);
  });

  void test("the rendered configs still pass keepalived --config-test", () => {
    for (const n of configs) {
      const res = checker.check(n.config);
      assert.equal(res.status, 0, `${JSON.stringify(n.node)}: ${res.log}`);
      assert.equal(res.log.trim(), "", res.log);
    }
  });
});

void describe("assertConfigShape", () => {
  const good = "# header\n\nglobal_defs {\n    router_id a\n}\n\nvrrp_instance x {\n    unicast_peer {\n        192.0.2.1\n    }\n}\n";
  void test("a well-formed config passes", () => assert.doesNotThrow(() => assertConfigShape(good)));
  const bad: [string, string][] = [
    ["a tab", "global_defs {\n\trouter_id a\n}\n"],
    ["two spaces between tokens", "global_defs {\n    router_id  a\n}\n"],
    ["a trailing space", "global_defs {\n    router_id a \n}\n"],
    ["a quote", 'global_defs {\n    router_id "a"\n}\n'],
    ["a comment after a token", "global_defs {\n    router_id a # b\n}\n"],
    ["a brace inside a line", "global_defs {\n    router_id a } b\n}\n"],
    ["an unclosed block", "global_defs {\n    router_id a\n"],
    ["a stray closing brace", "}\nglobal_defs {\n}\n"],
    ["a non-ASCII character", "global_defs {\n    router_id \u00e4\n}\n"],
    ["an odd indent", "global_defs {\n  router_id a\n}\n"],
  ];
  for (const [name, text] of bad) {
    void test(`refuses ${name}`, () => assert.throws(() => assertConfigShape(text), /Refusing/));
  }
});

void describe("global_defs: scheduling of the VRRP process", () => {
  const configs = renderNodeConfigs(planCluster(view([vip({ name: "web" })]), {}));
  void test("every node's VRRP process asks for nice -20 and never switches to realtime on its own", () => {
    assert.equal(configs.length, 3);
    for (const n of configs) {
      const lines = (blockOf(n.config, "global_defs") ?? "").split("\n").map((l) => l.trim());
      assert.ok(lines.includes("vrrp_priority -20"), `${n.node}: ${lines.join(" | ")}`);
      assert.ok(lines.includes("max_auto_priority -1"), `${n.node}: ${lines.join(" | ")}`);
      // keepalived 2.2.7 zeroes the realtime CPU limit on a reload and the kernel kills the VRRP process.
      assert.ok(!lines.some((l) => /^(vrrp_rt_priority|vrrp_rlimit_rttime|vrrp_no_swap)\b/.test(l)), `${n.node}: ${lines.join(" | ")}`);
    }
  });
});
