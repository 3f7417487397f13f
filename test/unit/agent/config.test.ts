// Tests of node-config Secret parsing, the sync decision and the config-test verdict.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { hashConfig, judgeConfigTest, judgeKernelSupport, NO_IPVS_PROBLEM, parseNodeConfigSecret, planConfigSync, redactConfigTestLine, type NodeConfig } from "../../../src/agent/config.js";
import type { NodeInstanceMap } from "../../../src/api/index.js";

const MAP: NodeInstanceMap = {
  node: "node-a",
  instances: [{ instance: "vip_4_51_eth0", virtualRouterId: 51, interface: "eth0", family: 4, priority: 100, addresses: ["192.0.2.100"], virtualIPs: ["default/web"] }],
};
const CONF = "global_defs {\n}\n";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

void describe("parseNodeConfigSecret", () => {
  void test("decodes config and instance map and hashes the config", () => {
    const res = parseNodeConfigSecret({ "keepalived.conf": b64(CONF), "instances.json": b64(JSON.stringify(MAP)) }, "node-a");
    assert.ok(res.ok);
    assert.equal(res.value.config, CONF);
    assert.deepEqual(res.value.instances, MAP);
    assert.equal(res.value.hash, hashConfig(CONF));
    assert.match(res.value.hash, /^[0-9a-f]{64}$/);
  });

  const bad: Array<[string, Record<string, string> | undefined, RegExp]> = [
    ["no data", undefined, /no keepalived\.conf key/],
    ["no instances", { "keepalived.conf": b64(CONF) }, /no instances\.json key/],
    ["instances not JSON", { "keepalived.conf": b64(CONF), "instances.json": b64("{nope") }, /instances\.json is not JSON/],
    ["instances wrong shape", { "keepalived.conf": b64(CONF), "instances.json": b64('{"node":"node-a","instances":[{"instance":""}]}') }, /instances\.json\.instances\.0/],
    ["another node's map", { "keepalived.conf": b64(CONF), "instances.json": b64(JSON.stringify({ ...MAP, node: "node-b" })) }, /for node "node-b"/],
  ];
  for (const [name, data, want] of bad) {
    void test(`refuses ${name}`, () => {
      const res = parseNodeConfigSecret(data, "node-a");
      assert.equal(res.ok, false);
      if (!res.ok) assert.match(res.error, want);
    });
  }
});

void describe("planConfigSync", () => {
  const cand: NodeConfig = { config: CONF, instances: MAP, hash: hashConfig(CONF) };
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
    ["unknown keyword with exit 0 still fails", 0, "(/run/k/keepalived.conf.candidate: Line 3) Unknown keyword 'bogus'\n", false, ["(Line 3) Unknown keyword '…'"]],
    [
      "keepalived 2.2.7 range error",
      5,
      "(/tmp/x.conf: Line 6) number '300' outside range [1, 255]\n(x): VRID '300' not valid - must be between 1 & 255\n",
      false,
      ["(Line 6) number '…' outside range [1, 255]", "(x): VRID '…' not valid - must be between 1 & 255"],
    ],
    ["missing interface", 5, "(/tmp/c: Line 7) WARNING - interface nosuch0 for vrrp_instance v doesn't exist\nNon-existent interface specified in configuration\n", false, [
      "(Line 7) WARNING - interface nosuch0 for vrrp_instance v doesn't exist",
      "Non-existent interface specified in configuration",
    ]],
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
