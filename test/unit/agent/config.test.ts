// Tests of the published plan's Secret parsing (node.json, instance.json),
// the instance map file, the sync decision and the config-test verdict.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  judgeConfigTest,
  judgeKernelSupport,
  NO_IPVS_PROBLEM,
  parseInstanceMap,
  parseInstanceSecret,
  parseNodeSecret,
  planConfigSync,
  redactConfigTestLine,
  type NodeConfig,
} from "../../../src/agent/config.js";
import type { NodeInstanceMap, PublishedInstance, PublishedNode } from "../../../src/api/index.js";
import { sha256Hex } from "../../../src/render/index.js";

const MAP: NodeInstanceMap = {
  node: "node-a",
  instances: [
    { instance: "vip_4_51_eth0", virtualRouterId: 51, interface: "eth0", family: 4, priority: 100, addresses: ["192.0.2.100"], virtualIPs: ["default/web"] },
  ],
};
const CONF = "global_defs {\n}\n";
const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

const NODE: PublishedNode = {
  node: "node-a",
  runtimeDir: "/run/keepalived-vip",
  instances: [{ instance: "vip_4_51", interface: "eth0", priority: 100, sourceIP: "192.0.2.11" }],
};
const INSTANCE: PublishedInstance = {
  name: "vip_4_51",
  virtualRouterId: 51,
  family: 4,
  version: 2,
  advertIntervalMs: 1000,
  preempt: false,
  unicast: true,
  peers: ["192.0.2.11", "192.0.2.12"],
  authPassword: "hunter2",
  primaryAddress: "192.0.2.50",
  excludedAddresses: [],
  virtualIPs: ["default/web"],
  virtualServers: [],
};

void describe("parseNodeSecret", () => {
  void test("decodes node.json", () => {
    const res = parseNodeSecret("s", { "node.json": b64(JSON.stringify(NODE)) }, "node-a");
    assert.deepEqual(res, { ok: true, value: NODE });
  });

  const bad: Array<[string, Record<string, string> | undefined, RegExp]> = [
    ["no data", undefined, /^Secret s has no node\.json key$/],
    ["an old-layout Secret", { "keepalived.conf": b64(CONF), "instances.json": b64(JSON.stringify(MAP)) }, /^Secret s has no node\.json key$/],
    ["not JSON", { "node.json": b64("{hunter2") }, /^Secret s: node\.json is not valid JSON$/],
    ["wrong shape", { "node.json": b64(JSON.stringify({ ...NODE, instances: [{ instance: "" }] })) }, /^Secret s: node\.json\.instances\.0\.instance/],
    ["an unknown field", { "node.json": b64(JSON.stringify({ ...NODE, extra: "hunter2" })) }, /^Secret s: node\.json: .*extra/],
    ["another node's", { "node.json": b64(JSON.stringify({ ...NODE, node: "node-b" })) }, /^Secret s: node\.json is for node "node-b", not "node-a"$/],
  ];
  for (const [name, data, want] of bad) {
    void test(`refuses ${name}`, () => {
      const res = parseNodeSecret("s", data, "node-a");
      assert.equal(res.ok, false);
      if (!res.ok) {
        assert.match(res.error, want);
        assert.doesNotMatch(res.error, /hunter2/);
      }
    });
  }
});

void describe("parseInstanceSecret", () => {
  void test("decodes instance.json", () => {
    assert.deepEqual(parseInstanceSecret("s", { "instance.json": b64(JSON.stringify(INSTANCE)) }), { ok: true, value: INSTANCE });
  });

  const bad: Array<[string, Record<string, string> | undefined, RegExp]> = [
    ["no data", undefined, /^Secret s has no instance\.json key$/],
    ["not JSON (the text is never quoted)", { "instance.json": b64('{"authPassword":"hunter2"') }, /^Secret s: instance\.json is not valid JSON$/],
    [
      "a password of the wrong type",
      { "instance.json": b64(JSON.stringify({ ...INSTANCE, authPassword: 12345678 })) },
      /^Secret s: instance\.json\.authPassword/,
    ],
    ["a router id out of range", { "instance.json": b64(JSON.stringify({ ...INSTANCE, virtualRouterId: 300 })) }, /^Secret s: instance\.json\.virtualRouterId/],
  ];
  for (const [name, data, want] of bad) {
    void test(`refuses ${name}`, () => {
      const res = parseInstanceSecret("s", data);
      assert.equal(res.ok, false);
      if (!res.ok) {
        assert.match(res.error, want);
        assert.doesNotMatch(res.error, /hunter2|12345678/);
      }
    });
  }
});

void describe("parseInstanceMap", () => {
  void test("reads the instance map file", () => assert.deepEqual(parseInstanceMap(JSON.stringify(MAP)), { ok: true, value: MAP }));
  void test("refuses a file that is not JSON, naming the file", () =>
    assert.deepEqual(parseInstanceMap("{"), { ok: false, error: "instances.json is not valid JSON" }));
  void test("refuses a wrong shape, naming the field", () => {
    const res = parseInstanceMap('{"node":"node-a","instances":[{"instance":""}]}');
    assert.equal(res.ok, false);
    if (!res.ok) assert.match(res.error, /instances\.json\.instances\.0/);
  });
});

void describe("planConfigSync", () => {
  const cand: NodeConfig = { config: CONF, instances: MAP, hash: sha256Hex(CONF) };
  const cases: Array<[string, Parameters<typeof planConfigSync>[1], string]> = [
    ["same bytes and same map: nothing", { config: CONF, instances: structuredClone(MAP) }, "none"],
    ["nothing installed yet", {}, "apply"],
    ["config differs by one byte", { config: `${CONF} `, instances: MAP }, "apply"],
    ["same config, map differs", { config: CONF, instances: { ...MAP, instances: [] } }, "write-instances"],
    ["same config, no map on disk", { config: CONF }, "write-instances"],
  ];
  for (const [name, running, want] of cases) {
    void test(name, () => assert.equal(planConfigSync(cand, running).action, want));
  }
});

void describe("judgeConfigTest", () => {
  const cases: Array<[string, number | null, string, boolean, string[]]> = [
    ["clean exit, no output", 0, "", true, []],
    [
      "unknown keyword with exit 0 still fails",
      0,
      "(/run/k/keepalived.conf.candidate: Line 3) Unknown keyword 'bogus'\n",
      false,
      ["(Line 3) Unknown keyword '…'"],
    ],
    [
      "keepalived 2.2.7 range error",
      5,
      "(/tmp/x.conf: Line 6) number '300' outside range [1, 255]\n(x): VRID '300' not valid - must be between 1 & 255\n",
      false,
      ["(Line 6) number '…' outside range [1, 255]", "(x): VRID '…' not valid - must be between 1 & 255"],
    ],
    [
      "missing interface",
      5,
      "(/tmp/c: Line 7) WARNING - interface nosuch0 for vrrp_instance v doesn't exist\nNon-existent interface specified in configuration\n",
      false,
      ["(Line 7) WARNING - interface nosuch0 for vrrp_instance v doesn't exist", "Non-existent interface specified in configuration"],
    ],
    ["non-zero exit without output", 1, "", false, ["keepalived exited with code 1"]],
    ["killed (no exit code)", null, "", false, ["keepalived exited with code null"]],
    ["non-zero exit with an unclassified line", 3, "something odd\n", false, ["something odd"]],
  ];
  for (const [name, code, out, ok, problems] of cases) {
    void test(name, () => assert.deepEqual(judgeConfigTest(code, out), { ok, problems }));
  }

  void test("redaction removes quoted values and file paths", () => {
    assert.equal(redactConfigTestLine(`(/etc/secret/path.conf: Line 9) auth_pass 'hunter2' "x y"`), `(Line 9) auth_pass '…' "…"`);
  });
});

void describe("judgeKernelSupport", () => {
  const VS = "global_defs {\n}\nvirtual_server 192.0.2.50 80 {\n  lb_algo rr\n}\n";
  const cases: Array<{ name: string; config: string; ipvs: boolean; ok: boolean }> = [
    { name: "virtual servers without IPVS are refused", config: VS, ipvs: false, ok: false },
    { name: "virtual servers with IPVS pass", config: VS, ipvs: true, ok: true },
    { name: "no virtual server needs no IPVS", config: CONF, ipvs: false, ok: true },
    { name: "the word in a comment does not count", config: "# no virtual_server here\n" + CONF, ipvs: false, ok: true },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const v = judgeKernelSupport(c.config, c.ipvs);
      assert.equal(v.ok, c.ok);
      assert.deepEqual(v.problems, c.ok ? [] : [NO_IPVS_PROBLEM]);
    });
  }
});
