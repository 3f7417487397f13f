// Tests of the per-VirtualIP report planning.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { planReport, virtualIPKeys } from "../../../src/agent/status.js";
import type { InstanceStates } from "../../../src/agent/notify.js";
import type { NodeInstanceMap } from "../../../src/api/index.js";
import { splitKey } from "../../../src/shared/keys.js";

const MAP: NodeInstanceMap = {
  node: "node-a",
  instances: [
    {
      instance: "i51",
      virtualRouterId: 51,
      interface: "eth0",
      family: 4,
      priority: 100,
      addresses: ["192.0.2.100", "192.0.2.101"],
      virtualIPs: ["default/web", "prod/api"],
    },
    { instance: "i52", virtualRouterId: 52, interface: "eth0", family: 4, priority: 150, addresses: ["192.0.2.102"], virtualIPs: ["default/db"] },
  ],
};
const NOW = Date.parse("2024-05-01T10:00:00Z");
const T = Date.parse("2024-05-01T09:59:00Z");

void describe("planReport", () => {
  const states: InstanceStates = { i51: { state: "MASTER", priority: 100, since: T } };
  const cases: Array<[string, string, NodeInstanceMap | undefined, InstanceStates, unknown]> = [
    [
      "a carried VirtualIP with a known state gets the complete entry",
      "prod/api",
      MAP,
      states,
      {
        kind: "entry",
        entry: { name: "node-a", state: "MASTER", priority: 100, since: "2024-05-01T09:59:00.000Z", lastReportTime: "2024-05-01T10:00:00.000Z" },
      },
    ],
    ["a carried VirtualIP without a state yet is skipped", "default/db", MAP, states, { kind: "skip" }],
    ["a VirtualIP no instance carries is removed", "default/gone", MAP, states, { kind: "remove" }],
    ["with no map at all everything is removed", "default/web", undefined, states, { kind: "remove" }],
  ];
  for (const [name, key, map, st, want] of cases) {
    void test(name, () => assert.deepEqual(planReport({ key, node: "node-a", map, states: st, now: NOW }), want));
  }

  void test("when two instances carry one VirtualIP, MASTER wins", () => {
    const twice: NodeInstanceMap = { node: "node-a", instances: [MAP.instances[0]!, { ...MAP.instances[1]!, virtualIPs: ["default/web"] }] };
    const got = planReport({
      key: "default/web",
      node: "node-a",
      map: twice,
      states: { i51: { state: "BACKUP", priority: 100, since: T }, i52: { state: "MASTER", priority: 150, since: T } },
      now: NOW,
    });
    assert.equal(got.kind === "entry" && got.entry.state, "MASTER");
  });
});

void describe("virtualIPKeys and splitKey", () => {
  void test("keys are unique and sorted", () => assert.deepEqual(virtualIPKeys(MAP), ["default/db", "default/web", "prod/api"]));
  void test("no map, no keys", () => assert.deepEqual(virtualIPKeys(undefined), []));
  void test("splits at the first slash", () => assert.deepEqual(splitKey("ns/name"), { namespace: "ns", name: "name" }));
});
