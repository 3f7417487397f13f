import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { NodeInstanceMap } from "../../../src/api/index.js";
import { RunningAddresses } from "../../../src/agent/running.js";
import type { LinkAddresses } from "../../../src/agent/ip.js";
import { parseRunningSet } from "../../../src/shared/running-set.js";

function map(...addresses: string[][]): NodeInstanceMap {
  return {
    node: "node-a",
    instances: addresses.map((a, i) => ({
      instance: `vi_${i}`,
      virtualRouterId: 50 + i,
      interface: "eth0",
      family: 4 as const,
      priority: 100,
      addresses: a,
      virtualIPs: a.map((x) => `default/${x}`),
    })),
  };
}

function links(...addresses: { address: string; prefixLength: number }[]): LinkAddresses[] {
  return [{ name: "eth0", addresses: addresses.map((a) => ({ ...a, family: a.address.includes(":") ? (6 as const) : (4 as const) })) }];
}

function lists(r: RunningAddresses, address: string): boolean | undefined {
  return parseRunningSet(r.annotation())?.has(address);
}

void describe("RunningAddresses: what the agent publishes it runs", () => {
  void test("lists the addresses of every applied instance", () => {
    const r = new RunningAddresses("0123456789abcdef");
    assert.equal(lists(r, "192.0.2.10"), false);
    r.setApplied(map(["192.0.2.10"], ["192.0.2.11", "192.0.2.12"]));
    for (const a of ["192.0.2.10", "192.0.2.11", "192.0.2.12"]) assert.equal(lists(r, a), true, a);
    assert.equal(r.settling, false);
  });

  void test("an address that left the config is listed until no interface carries it as a host route", () => {
    const r = new RunningAddresses("0123456789abcdef");
    r.setApplied(map(["192.0.2.10", "192.0.2.11"]));
    r.setApplied(map(["192.0.2.11"]));
    assert.equal(r.settling, true);
    assert.equal(lists(r, "192.0.2.10"), true, "just left the config: maybe still on eth0");
    r.settle(links({ address: "192.0.2.10", prefixLength: 32 }, { address: "192.0.2.11", prefixLength: 32 }));
    assert.equal(lists(r, "192.0.2.10"), true, "keepalived has not removed it yet");
    r.settle(links({ address: "192.0.2.10", prefixLength: 24 }, { address: "192.0.2.11", prefixLength: 32 }));
    assert.equal(lists(r, "192.0.2.10"), false, "a /24 host address is not a VIP");
    assert.equal(r.settling, false);
    assert.equal(lists(r, "192.0.2.11"), true, "a configured address stays listed whatever the interface shows");
  });

  void test("an address that comes back into the config is no longer leaving", () => {
    const r = new RunningAddresses("0123456789abcdef");
    r.setApplied(map(["192.0.2.10"]));
    r.setApplied(map([]));
    r.setApplied(map(["192.0.2.10"]));
    assert.equal(r.settling, false);
    r.settle(links());
    assert.equal(lists(r, "192.0.2.10"), true);
  });
});
