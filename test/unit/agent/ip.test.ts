// Tests of the `ip -j addr` parser, host interface discovery and leftover VIP planning.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  findHostInterface,
  hostAddresses,
  nodeFactsAnnotations,
  parseIpAddrJson,
  planLeftoverVips,
  publishedInterfaces,
  snapshotAddresses,
  type LinkAddresses,
} from "../../../src/agent/ip.js";
import { ANNOTATION_INTERFACES, ANNOTATION_IPVS, MAX_PUBLISHED_INTERFACES, type NodeInstance } from "../../../src/api/index.js";

// Trimmed output of iproute2 6.1 `ip -j addr show` in a node namespace.
const SAMPLE = JSON.stringify([
  {
    ifindex: 1,
    ifname: "lo",
    flags: ["LOOPBACK", "UP", "LOWER_UP"],
    addr_info: [
      { family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host", label: "lo" },
      { family: "inet6", local: "::1", prefixlen: 128, scope: "host" },
    ],
  },
  {
    ifindex: 7,
    link_index: 6,
    ifname: "eth0",
    flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
    addr_info: [
      { family: "inet", local: "192.0.2.11", prefixlen: 24, broadcast: "192.0.2.255", scope: "global", label: "eth0" },
      { family: "inet", local: "192.0.2.100", prefixlen: 32, scope: "global", label: "eth0" },
      { family: "inet6", local: "2001:0db8:0000::0011", prefixlen: 64, scope: "global" },
      { family: "inet6", local: "2001:db8::100", prefixlen: 128, scope: "global" },
      { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
    ],
  },
  { ifindex: 8, ifname: "eth1", flags: ["BROADCAST"], addr_info: [] },
  { ifindex: 9, ifname: "eth2", addr_info: [{ family: "inet", local: "198.51.100.5", prefixlen: 24 }] },
  { ifindex: 10, addr_info: [] },
  {
    ifindex: 11,
    ifname: "odd",
    addr_info: [
      { family: "packet", local: "x", prefixlen: 1 },
      { family: "inet", local: "not-an-ip", prefixlen: 24 },
    ],
  },
]);

void describe("parseIpAddrJson", () => {
  void test("reads interfaces and canonical addresses, skipping unreadable entries", () => {
    const links = parseIpAddrJson(SAMPLE);
    assert.deepEqual(
      links.map((l) => l.name),
      ["lo", "eth0", "eth1", "eth2", "odd"],
    );
    assert.deepEqual(links[1]?.addresses[2], { address: "2001:db8::11", prefixLength: 64, family: 6 });
    assert.deepEqual(links[4]?.addresses, []);
  });

  void test("rejects text that is not a JSON array", () => {
    assert.throws(() => parseIpAddrJson("Error: something"));
    assert.throws(() => parseIpAddrJson('{"ifname":"eth0"}'));
  });
});

void describe("findHostInterface", () => {
  const links = parseIpAddrJson(SAMPLE);
  const cases: Array<[string, string | undefined]> = [
    ["192.0.2.11", "eth0"],
    ["2001:db8::11", "eth0"],
    ["2001:0DB8::0011", "eth0"],
    ["198.51.100.5", "eth2"],
    [" 192.0.2.11\n", "eth0"],
    ["192.0.2.12", undefined],
    ["", undefined],
    ["eth0", undefined],
  ];
  for (const [ip, want] of cases) {
    void test(`${JSON.stringify(ip)} -> ${String(want)}`, () => assert.equal(findHostInterface(links, ip), want));
  }
});

void describe("planLeftoverVips", () => {
  const links: LinkAddresses[] = parseIpAddrJson(SAMPLE);
  const inst = (over: Partial<NodeInstance>): NodeInstance => ({
    instance: "vip_4_51_eth0",
    virtualRouterId: 51,
    interface: "eth0",
    family: 4,
    priority: 100,
    addresses: ["192.0.2.100"],
    virtualIPs: ["default/web"],
    ...over,
  });

  void test("lists VIPs still on their interface with their prefix length", () => {
    const got = planLeftoverVips(links, [inst({}), inst({ instance: "vip_6_52_eth0", family: 6, addresses: ["2001:db8:0::100"] })]);
    assert.deepEqual(got, [
      { interface: "eth0", address: "192.0.2.100", prefixLength: 32 },
      { interface: "eth0", address: "2001:db8::100", prefixLength: 128 },
    ]);
  });

  void test("ignores VIPs that are absent, on another interface, or the host IP", () => {
    assert.deepEqual(planLeftoverVips(links, [inst({ addresses: ["192.0.2.101"] })]), []);
    assert.deepEqual(planLeftoverVips(links, [inst({ interface: "eth1" })]), []);
    assert.deepEqual(planLeftoverVips(links, [inst({ interface: "nosuch" })]), []);
    assert.deepEqual(planLeftoverVips(links, [inst({ addresses: ["192.0.2.11"] })], "192.0.2.11"), []);
  });

  void test("lists an address once even when two instances carry it", () => {
    assert.equal(planLeftoverVips(links, [inst({}), inst({ instance: "other" })]).length, 1);
  });

  void test("never the node's own /24 or /64 equal to a VIP: only host routes are keepalived's", () => {
    assert.deepEqual(planLeftoverVips(links, [inst({ addresses: ["192.0.2.11"] })]), []);
    assert.deepEqual(planLeftoverVips(links, [inst({ instance: "v6", family: 6, addresses: ["2001:db8::11"] })]), []);
    assert.deepEqual(planLeftoverVips(links, [inst({ interface: "eth2", addresses: ["198.51.100.5"] })]), []);
  });

  void test("never an address that was there before keepalived started (snapshot)", () => {
    const before = new Set(snapshotAddresses(links));
    assert.ok(before.has("eth0 192.0.2.100/32"));
    assert.deepEqual(planLeftoverVips(links, [inst({})], undefined, before), []);
    const without = new Set([...before].filter((k) => k !== "eth0 192.0.2.100/32"));
    assert.deepEqual(planLeftoverVips(links, [inst({})], undefined, without), [{ interface: "eth0", address: "192.0.2.100", prefixLength: 32 }]);
  });
});

void describe("publishedInterfaces and nodeFactsAnnotations", () => {
  void test("every link, sorted, once", () => {
    const links = parseIpAddrJson(SAMPLE);
    assert.deepEqual(publishedInterfaces([...links, ...links]), ["eth0", "eth1", "eth2", "lo", "odd"]);
  });

  void test("too many links: unknown, never a partial list", () => {
    const links: LinkAddresses[] = Array.from({ length: MAX_PUBLISHED_INTERFACES + 1 }, (_, i) => ({ name: `dummy${i}`, addresses: [] }));
    assert.equal(publishedInterfaces(links), undefined);
    assert.equal(publishedInterfaces(links.slice(1))?.length, MAX_PUBLISHED_INTERFACES);
  });

  void test("annotations only for what is known", () => {
    assert.deepEqual(nodeFactsAnnotations({}), {});
    assert.deepEqual(nodeFactsAnnotations({ interfaces: ["eth0", "eth1"], ipvs: false }), { [ANNOTATION_INTERFACES]: "eth0,eth1", [ANNOTATION_IPVS]: "false" });
  });
});

void describe("hostAddresses", () => {
  const links: LinkAddresses[] = [
    {
      name: "eth0",
      addresses: [
        { address: "192.0.2.11", prefixLength: 24, family: 4 },
        { address: "192.0.2.20", prefixLength: 24, family: 4 },
        { address: "192.0.2.50", prefixLength: 32, family: 4 },
        { address: "2001:db8::11", prefixLength: 64, family: 6 },
        { address: "2001:db8::50", prefixLength: 128, family: 6 },
      ],
    },
    { name: "eth1", addresses: [{ address: "198.51.100.5", prefixLength: 24, family: 4 }] },
  ];
  void test("the host IP and every non-host-route address of the interface, never a VIP (/32, /128)", () => {
    assert.deepEqual(hostAddresses(links, "eth0", "192.0.2.11"), ["192.0.2.11", "192.0.2.20", "2001:db8::11"]);
  });
  void test("only the host IP when no interface carries it", () => {
    assert.deepEqual(hostAddresses(links, undefined, " 192.0.2.99 "), ["192.0.2.99"]);
  });
  void test("nothing without a host IP or interface", () => {
    assert.deepEqual(hostAddresses(links, undefined, undefined), []);
  });
});
