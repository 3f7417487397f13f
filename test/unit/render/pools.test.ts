// Address pools through planCluster (the production path): which pools are
// used, which namespaces they admit, what is never a virtual IP, and how
// addresses and router ids are allocated and kept.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { API_VERSION, POOL_KIND, parsePool, type PoolSpec, type VirtualIP, type VirtualIPPool } from "../../../src/api/index.js";
import { planCluster, type ClusterPlan, type ClusterView, type Problem } from "../../../src/render/index.js";
import { node, view, vip, type VipInput } from "./factory.js";

/** A parsed pool; `created` orders pools (older ones win an overlap). */
function pool(name: string, spec: Partial<PoolSpec> & Pick<PoolSpec, "addresses">, created = "2020-01-01T00:00:00Z"): VirtualIPPool {
  const res = parsePool({
    apiVersion: API_VERSION,
    kind: POOL_KIND,
    metadata: { name, creationTimestamp: created },
    spec: { virtualRouterIds: ["1-255"], ...spec },
  });
  if (!res.ok) throw new Error(res.error);
  return res.value;
}

/** A VirtualIP without spec.address and spec.virtualRouterId: both come from a pool. */
function auto(name: string, input: Omit<VipInput, "name"> = {}): VirtualIP {
  return vip({ name, ...input, spec: { address: undefined, virtualRouterId: undefined, ...input.spec } });
}

/** A copy of `v` with an allocation in its status (as the operator wrote it). */
function allocated(v: VirtualIP, status: { address: string; virtualRouterId: number; pool: string }): VirtualIP {
  return { ...v, status: { ...v.status, ...status } };
}

function plan(vips: VirtualIP[], pools: VirtualIPPool[], extra: Partial<ClusterView> = {}): ClusterPlan {
  return planCluster(view(vips, { pools, ...extra }));
}

/** "address/router id@pool" of a VirtualIP, or its Ready problem reason. */
function outcome(p: ClusterPlan, name: string, namespace = "default"): string {
  const key = `${namespace}/${name}`;
  const ready = p.problems.find((x) => x.virtualIP === key && x.condition === "Ready");
  if (ready) return ready.reason;
  const e = p.virtualIPs[key];
  return `${e?.address ?? "-"}/${e?.virtualRouterId ?? "-"}@${e?.pool ?? "-"}`;
}

function readyProblem(p: ClusterPlan, name: string, namespace = "default"): Problem | undefined {
  return p.problems.find((x) => x.virtualIP === `${namespace}/${name}` && x.condition === "Ready");
}

const t = (day: number): string => `2024-01-${String(day).padStart(2, "0")}T00:00:00Z`;

void describe("pool validity", () => {
  void test("the schema refuses bad address and router id entries, naming the field", () => {
    const cases: { spec: Record<string, unknown>; error: RegExp }[] = [
      { spec: { addresses: ["192.0.2.65/27"], virtualRouterIds: ["50"] }, error: /spec\.addresses\.0: must be a CIDR/ },
      {
        spec: { addresses: ["192.0.2.9-192.0.2.1"], virtualRouterIds: ["50"] },
        error: /spec\.addresses\.0: must be a CIDR, a range first-last of two addresses, or one address/,
      },
      { spec: { addresses: ["192.0.2.1-2001:db8::1"], virtualRouterIds: ["50"] }, error: /spec\.addresses\.0: must be a CIDR/ },
      { spec: { addresses: ["lan"], virtualRouterIds: ["50"] }, error: /spec\.addresses\.0: / },
      { spec: { addresses: [], virtualRouterIds: ["50"] }, error: /spec\.addresses: / },
      { spec: { addresses: ["192.0.2.0/24"], virtualRouterIds: ["0-10"] }, error: /spec\.virtualRouterIds\.0: router ids are 1\.\.255/ },
      { spec: { addresses: ["192.0.2.0/24"], virtualRouterIds: ["99-50"] }, error: /spec\.virtualRouterIds\.0: / },
      { spec: { addresses: ["192.0.2.0/24"], virtualRouterIds: ["256"] }, error: /spec\.virtualRouterIds\.0: / },
      { spec: { addresses: ["192.0.2.0/24"] }, error: /spec\.virtualRouterIds: / },
    ];
    for (const c of cases) {
      const res = parsePool({ apiVersion: API_VERSION, kind: POOL_KIND, metadata: { name: "bad" }, spec: c.spec });
      assert.equal(res.ok, false, JSON.stringify(c.spec));
      assert.ok(!res.ok && res.error.startsWith("VirtualIPPool bad: "), res.ok ? "" : res.error);
      assert.match(res.ok ? "" : res.error, c.error);
    }
  });

  const cases: { name: string; pools: VirtualIPPool[]; ready: Record<string, string>; message?: RegExp }[] = [
    {
      name: "two entries of one pool that overlap",
      pools: [pool("p", { addresses: ["192.0.2.0/28", "192.0.2.8-192.0.2.20"] })],
      ready: { p: "InvalidAddresses" },
      message: /spec\.addresses\[1\]: 192\.0\.2\.8-192\.0\.2\.20 overlaps 192\.0\.2\.0\/28 of the same pool/,
    },
    {
      name: "a newer pool overlapping an older one is not used, whatever the names",
      pools: [pool("a-new", { addresses: ["192.0.2.64/27"] }, t(2)), pool("z-old", { addresses: ["192.0.2.80-192.0.2.90"] }, t(1))],
      ready: { "a-new": "Overlap", "z-old": "InUse" },
      message: /VirtualIPPool a-new: spec\.addresses: 192\.0\.2\.64\/27 overlaps 192\.0\.2\.80-192\.0\.2\.90 of the older VirtualIPPool z-old/,
    },
    {
      name: "the older of the two wins when the timestamps are swapped",
      pools: [pool("a-new", { addresses: ["192.0.2.64/27"] }, t(1)), pool("z-old", { addresses: ["192.0.2.80-192.0.2.90"] }, t(2))],
      ready: { "a-new": "InUse", "z-old": "Overlap" },
    },
    {
      name: "pools of the same age: name order decides",
      pools: [pool("b", { addresses: ["192.0.2.64/27"] }), pool("a", { addresses: ["192.0.2.64/28"] })],
      ready: { a: "InUse", b: "Overlap" },
    },
    {
      name: "pools of different families never overlap",
      pools: [pool("v4", { addresses: ["192.0.2.64/27"] }), pool("v6", { addresses: ["2001:db8::/120"] })],
      ready: { v4: "InUse", v6: "InUse" },
    },
    {
      name: "a pool of loopback addresses only has no usable address",
      pools: [pool("lo", { addresses: ["127.0.0.0/8"] })],
      ready: { lo: "NoUsableAddress" },
      message: /no address of the pool may be handed out/,
    },
    {
      name: "a pool of multicast, link-local and broadcast addresses only has no usable address",
      pools: [pool("odd", { addresses: ["224.0.0.0/24", "169.254.0.0/16", "255.255.255.255", "ff02::/120", "fe80::/64", "::1"] })],
      ready: { odd: "NoUsableAddress" },
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const p = plan([], c.pools);
      assert.deepEqual(Object.fromEntries(p.pools.map((x) => [x.name, x.ready.reason])), c.ready);
      for (const x of p.pools) assert.equal(x.ready.status, x.ready.reason === "InUse" ? "True" : "False");
      if (c.message) assert.match(p.pools.find((x) => x.ready.status === "False")?.ready.message ?? "", c.message);
    });
  }

  void test("a VirtualIP in an unused pool's range is not allowed by it", () => {
    const pools = [pool("old", { addresses: ["192.0.2.64/27"] }, t(1)), pool("new", { addresses: ["192.0.2.64/26"] }, t(2))];
    const p = plan([vip({ name: "a", spec: { address: "192.0.2.100" } }), vip({ name: "b", spec: { address: "192.0.2.70", virtualRouterId: 52 } })], pools);
    assert.equal(outcome(p, "a"), "AddressNotAllowed");
    assert.equal(outcome(p, "b"), "192.0.2.70/52@old");
  });

  void test("the network and broadcast addresses of a short IPv4 CIDR are never handed out; /31, /32 and ranges hand out every address", () => {
    const p = plan(
      [
        auto("a1", { created: t(1) }),
        auto("a2", { created: t(2) }),
        auto("a3", { created: t(3) }),
        vip({ name: "net", created: t(4), spec: { address: "192.0.2.64", virtualRouterId: 60 } }),
        vip({ name: "bcast", created: t(4), spec: { address: "192.0.2.67", virtualRouterId: 61 } }),
      ],
      [pool("p", { addresses: ["192.0.2.64/30"] })],
    );
    assert.deepEqual(
      ["a1", "a2", "a3", "net", "bcast"].map((n) => outcome(p, n)),
      ["192.0.2.65/1@p", "192.0.2.66/2@p", "PoolExhausted", "AddressNotAllowed", "AddressNotAllowed"],
    );
    assert.deepEqual(
      p.pools.map((x) => [x.allocated, x.available]),
      [[2, 0]],
    );

    const whole = plan(
      [auto("b1", { created: t(1) }), auto("b2", { created: t(2) }), auto("b3", { created: t(3) }), auto("b4", { created: t(4) })],
      [pool("p", { addresses: ["192.0.2.64/31", "192.0.2.70", "192.0.2.80-192.0.2.80"] })],
    );
    assert.deepEqual(
      ["b1", "b2", "b3", "b4"].map((n) => outcome(whole, n)),
      ["192.0.2.64/1@p", "192.0.2.65/2@p", "192.0.2.70/3@p", "192.0.2.80/4@p"],
    );
  });
});

void describe("admission by namespaceSelector", () => {
  const web = pool("web", { addresses: ["192.0.2.64/27"], namespaceSelector: { matchLabels: { team: "web" } } });
  const namespaces: NonNullable<ClusterView["namespaces"]> = [
    { name: "shop", labels: { team: "web" } },
    { name: "other", labels: { team: "db" } },
    { name: "evil", labels: { team: "db", "kubernetes.io/metadata.name": "shop" } },
  ];

  const cases: { name: string; pools: VirtualIPPool[]; vip: VirtualIP; want: string | RegExp; message?: RegExp }[] = [
    { name: "a namespace with the label is admitted", pools: [web], vip: auto("a", { namespace: "shop" }), want: "192.0.2.65/1@web" },
    {
      name: "a namespace without the label gets NoPool for an allocation",
      pools: [web],
      vip: auto("a", { namespace: "other" }),
      want: "NoPool",
      message: /^VirtualIP other\/a: spec\.address: no VirtualIPPool admits namespace other$/,
    },
    {
      name: "an explicit address in a pool that does not admit the namespace is AddressNotAllowed",
      pools: [web],
      vip: vip({ name: "a", namespace: "other", spec: { address: "192.0.2.70" } }),
      want: "AddressNotAllowed",
      message: /^VirtualIP other\/a: spec\.address: 192\.0\.2\.70 is not in any VirtualIPPool that admits namespace other$/,
    },
    {
      name: "a namespace not listed has only its name label",
      pools: [web],
      vip: auto("a", { namespace: "unlisted" }),
      want: "NoPool",
    },
    {
      name: "kubernetes.io/metadata.name selects a namespace by name, listed or not",
      pools: [pool("named", { addresses: ["192.0.2.64/27"], namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "unlisted" } } })],
      vip: auto("a", { namespace: "unlisted" }),
      want: "192.0.2.65/1@named",
    },
    {
      name: "a Namespace's own labels never stand in for another namespace's name",
      pools: [pool("named", { addresses: ["192.0.2.64/27"], namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "shop" } } })],
      vip: auto("a", { namespace: "evil" }),
      want: "NoPool",
    },
    {
      name: "matchExpressions NotIn on the name label keeps a namespace out",
      pools: [
        pool("not-sys", {
          addresses: ["192.0.2.64/27"],
          namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system"] }] },
        }),
      ],
      vip: auto("a", { namespace: "kube-system" }),
      want: "NoPool",
    },
    {
      name: "spec.pool naming a missing pool is NoPool",
      pools: [web],
      vip: auto("a", { namespace: "shop", spec: { pool: "lan" } }),
      want: "NoPool",
      message: /^VirtualIP shop\/a: spec\.pool: VirtualIPPool lan not found$/,
    },
    {
      name: "spec.pool naming a pool that is not in use is NoPool with the pool's reason",
      pools: [pool("old", { addresses: ["192.0.2.64/27"] }, t(1)), pool("lan", { addresses: ["192.0.2.64/28"] }, t(2))],
      vip: auto("a", { spec: { pool: "lan" } }),
      want: "NoPool",
      message: /^VirtualIP default\/a: spec\.pool: VirtualIPPool lan is not in use \(Overlap\)$/,
    },
    {
      name: "spec.pool naming a pool that does not admit the namespace is AddressNotAllowed",
      pools: [web],
      vip: auto("a", { namespace: "other", spec: { pool: "web" } }),
      want: "AddressNotAllowed",
      message: /^VirtualIP other\/a: spec\.pool: VirtualIPPool web does not admit namespace other$/,
    },
    {
      name: "an explicit address in another admitting pool than spec.pool is AddressNotAllowed",
      pools: [pool("a", { addresses: ["192.0.2.64/27"] }), pool("b", { addresses: ["192.0.2.96/27"] })],
      vip: vip({ name: "a", spec: { address: "192.0.2.70", pool: "b" } }),
      want: "AddressNotAllowed",
      message: /^VirtualIP default\/a: spec\.address: 192\.0\.2\.70 is not in VirtualIPPool b$/,
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const p = plan([c.vip], c.pools, {
        namespaces,
        services: ["shop", "other", "evil", "unlisted", "kube-system", "default"].map((ns) => ({
          metadata: { name: "web", namespace: ns },
          spec: { type: "LoadBalancer" },
        })),
      });
      const ns = c.vip.metadata.namespace ?? "default";
      assert.equal(outcome(p, "a", ns), c.want);
      if (c.message) assert.match(readyProblem(p, "a", ns)?.message ?? "", c.message);
      if (typeof c.want === "string" && !c.want.includes("@")) {
        assert.equal(p.virtualIPs[`${ns}/a`]?.address, undefined, "a refused VirtualIP has an address");
        assert.equal(p.instances.length, 0, "a refused VirtualIP was rendered");
      }
    });
  }
});

void describe("reserved addresses are refused whatever the pools say", () => {
  const everything = [pool("all-v4", { addresses: ["0.0.0.0/0"] }), pool("all-v6", { addresses: ["::/0"] })];
  const extra: Partial<ClusterView> = {
    nodes: [
      node("node-a", ["192.0.2.11"]),
      {
        metadata: { name: "node-b" },
        status: {
          addresses: [
            { type: "InternalIP", address: "192.0.2.12" },
            { type: "ExternalIP", address: "203.0.113.12" },
          ],
        },
      },
    ],
    agentAddresses: { "node-a": ["198.51.100.7", "2001:db8::7"] },
    serviceCIDRs: [{ name: "kubernetes", cidrs: ["198.18.0.0/16", "2001:db8:96::/112"] }],
  };
  const cases: { address: string; what: RegExp }[] = [
    { address: "192.0.2.11", what: /is an address of Node node-a/ },
    { address: "203.0.113.12", what: /is an address of Node node-b/ },
    { address: "198.51.100.7", what: /is an address of Node node-a/ },
    { address: "2001:db8::7", what: /is an address of Node node-a/ },
    { address: "127.0.0.1", what: /is loopback \(127\.0\.0\.0\/8\)/ },
    { address: "::1", what: /is IPv6 loopback \(::1\)/ },
    { address: "0.0.0.0", what: /is the unspecified IPv4 network/ },
    { address: "::", what: /is the unspecified IPv6 address/ },
    { address: "224.0.0.18", what: /is IPv4 multicast \(224\.0\.0\.0\/4\)/ },
    { address: "ff02::12", what: /is IPv6 multicast \(ff00::\/8\)/ },
    { address: "169.254.10.10", what: /is IPv4 link-local \(169\.254\.0\.0\/16\)/ },
    { address: "fe80::1", what: /is IPv6 link-local \(fe80::\/10\)/ },
    { address: "255.255.255.255", what: /is the limited broadcast address/ },
    { address: "::ffff:c000:232", what: /is IPv4-mapped IPv6 \(::ffff:0:0\/96\)/ },
    { address: "198.18.0.10", what: /is the Service range 198\.18\.0\.0\/16 \(ServiceCIDR kubernetes\)/ },
    { address: "2001:db8:96::1", what: /is the Service range 2001:db8:96::\/112 \(ServiceCIDR kubernetes\)/ },
  ];
  for (const c of cases) {
    void test(`${c.address} is AddressReserved naming what it collides with`, () => {
      const p = plan([vip({ name: "a", spec: { address: c.address } })], everything, extra);
      const ready = readyProblem(p, "a");
      assert.equal(ready?.reason, "AddressReserved");
      assert.match(ready?.message ?? "", new RegExp(`^VirtualIP default/a: spec\\.address: ${c.address.replace(/\./g, "\\.")} `));
      assert.match(ready?.message ?? "", c.what);
      assert.match(ready?.message ?? "", /which is never a virtual IP$/);
      assert.equal(p.instances.length, 0);
    });
  }

  void test("an ordinary address in the same pools is allowed (the control)", () => {
    const p = plan([vip({ name: "a", spec: { address: "192.0.2.50" } })], everything, extra);
    assert.equal(outcome(p, "a"), "192.0.2.50/51@all-v4");
    assert.equal(p.instances.length, 1);
  });

  void test("allocation skips node addresses and the pool status does not count them as available", () => {
    const p = plan([auto("a", { created: t(1) }), auto("b", { created: t(2) })], [pool("p", { addresses: ["192.0.2.10-192.0.2.13"] })]);
    assert.deepEqual([outcome(p, "a"), outcome(p, "b")], ["192.0.2.10/1@p", "PoolExhausted"]);
    assert.deepEqual(
      p.pools.map((x) => [x.name, x.allocated, x.available]),
      [["p", 1, 0]],
    );
  });
});

void describe("no pool, no address", () => {
  const cases: { name: string; pools: VirtualIPPool[] }[] = [
    { name: "no pool at all", pools: [] },
    { name: "only pools that are not in use", pools: [pool("lo", { addresses: ["127.0.0.0/8"] })] },
  ];
  for (const c of cases) {
    void test(`${c.name}: every VirtualIP, explicit or not, is NoPool and nothing is rendered`, () => {
      const p = plan([vip({ name: "a" }), auto("b")], c.pools);
      assert.deepEqual([outcome(p, "a"), outcome(p, "b")], ["NoPool", "NoPool"]);
      assert.match(readyProblem(p, "a")?.message ?? "", /no VirtualIPPool is in use in the cluster: nothing is rendered until the cluster admin creates one/);
      assert.deepEqual([p.instances, p.published], [[], []]);
      for (const n of p.nodes) assert.deepEqual(n.published.instances, []);
    });
  }
});

void describe("address allocation", () => {
  const p29 = pool("p", { addresses: ["192.0.2.64/29"] });

  void test("the first free address goes to the oldest VirtualIP, whatever the input order", () => {
    const vips = [auto("c", { created: t(3) }), auto("a", { created: t(1) }), auto("b", { created: t(2) })];
    const p = plan(vips, [p29]);
    assert.deepEqual(
      ["a", "b", "c"].map((n) => outcome(p, n)),
      ["192.0.2.65/1@p", "192.0.2.66/2@p", "192.0.2.67/3@p"],
    );
    assert.deepEqual(plan([...vips].reverse(), [p29]).virtualIPs, p.virtualIPs);
  });

  void test("an explicit address is never handed out to another", () => {
    const p = plan([auto("a", { created: t(1) }), vip({ name: "x", created: t(2), spec: { address: "192.0.2.65", virtualRouterId: 9 } })], [p29]);
    assert.deepEqual([outcome(p, "x"), outcome(p, "a")], ["192.0.2.65/9@p", "192.0.2.66/1@p"]);
  });

  void test("exhaustion: PoolExhausted on the newest, the others rendered", () => {
    const vips = Array.from({ length: 7 }, (_, i) => auto(`v${i}`, { created: t(i + 1) }));
    const p = plan(vips, [p29]);
    assert.deepEqual(
      vips.map((v) => outcome(p, v.metadata.name).split("/")[0]),
      ["192.0.2.65", "192.0.2.66", "192.0.2.67", "192.0.2.68", "192.0.2.69", "192.0.2.70", "PoolExhausted"],
    );
    assert.match(
      readyProblem(p, "v6")?.message ?? "",
      /^VirtualIP default\/v6: spec\.address: no free address in the VirtualIPPools that admit namespace default$/,
    );
    assert.equal(
      p.instances.reduce((n, i) => n + i.addresses.length, 0),
      6,
    );
    assert.deepEqual(
      p.pools.map((x) => [x.allocated, x.available]),
      [[6, 0]],
    );
  });

  void test("release on delete: the freed address goes to the next VirtualIP once it is no longer releasing", () => {
    const a = allocated(auto("a", { created: t(1) }), { address: "192.0.2.65", virtualRouterId: 1, pool: "p" });
    const b = allocated(auto("b", { created: t(2) }), { address: "192.0.2.66", virtualRouterId: 2, pool: "p" });
    const c = auto("c", { created: t(3) });
    assert.equal(outcome(plan([a, b, c], [p29]), "c"), "192.0.2.67/3@p");
    // a is being deleted: its address is still on the nodes, so it is not handed out.
    const releasing = plan([b, c], [p29], { releasing: ["192.0.2.65"] });
    assert.equal(outcome(releasing, "c"), "192.0.2.67/1@p");
    const explicit = plan([b, vip({ name: "x", created: t(4), spec: { address: "192.0.2.65" } })], [p29], { releasing: ["192.0.2.65"] });
    assert.equal(outcome(explicit, "x"), "Conflict");
    assert.match(readyProblem(explicit, "x")?.message ?? "", /spec\.address: 192\.0\.2\.65 is still held by a VirtualIP being deleted or left out of the plan/);
    // a is gone: the address is free again.
    assert.equal(outcome(plan([b, c], [p29]), "c"), "192.0.2.65/1@p");
  });

  void test("release on delete: the router id of a VirtualIP being deleted is neither handed out nor joined until it is gone", () => {
    const b = allocated(auto("b", { created: t(2) }), { address: "192.0.2.66", virtualRouterId: 2, pool: "p" });
    const c = auto("c", { created: t(3) });
    // a (192.0.2.65, router id 1) is being deleted: a node may still run its instance.
    const held = { releasing: ["192.0.2.65"], releasingRouterIds: ["4:1"] };
    assert.equal(outcome(plan([b, c], [p29], held), "c"), "192.0.2.67/3@p");
    const joiner = vip({ name: "x", created: t(4), spec: { address: "192.0.2.68", virtualRouterId: 1 } });
    const p = plan([b, joiner], [p29], held);
    assert.equal(outcome(p, "x"), "Conflict");
    assert.match(readyProblem(p, "x")?.message ?? "", /^VirtualIP default\/x: spec\.virtualRouterId: 1 is still held by a VirtualIP being deleted/);
    // One that already uses the router id (a member of the same instance) keeps it.
    const member = allocated(vip({ name: "m", created: t(1), spec: { address: "192.0.2.69", virtualRouterId: 1 } }), {
      address: "192.0.2.69",
      virtualRouterId: 1,
      pool: "p",
    });
    assert.equal(outcome(plan([b, member], [p29], held), "m"), "192.0.2.69/1@p");
    // Another family's router id 1 is another router id.
    assert.equal(outcome(plan([b, c], [p29], { releasingRouterIds: ["6:1"] }), "c"), "192.0.2.65/1@p");
    // a is gone: both are free again.
    assert.equal(outcome(plan([b, c], [p29]), "c"), "192.0.2.65/1@p");
  });

  void test("stability: a kept allocation stays even when a lower address frees up or an older VirtualIP has none", () => {
    const b = allocated(auto("b", { created: t(2) }), { address: "192.0.2.68", virtualRouterId: 7, pool: "p" });
    const a = auto("a", { created: t(1) });
    const p = plan([a, b], [p29]);
    assert.deepEqual([outcome(p, "a"), outcome(p, "b")], ["192.0.2.65/1@p", "192.0.2.68/7@p"]);
  });

  void test("a kept allocation that is no longer allowed is replaced", () => {
    const cases: { name: string; status: { address: string; virtualRouterId: number; pool: string }; spec?: VipInput["spec"]; want: string }[] = [
      {
        name: "outside the pool now (with a new address comes a new router id)",
        status: { address: "192.0.2.100", virtualRouterId: 7, pool: "p" },
        want: "192.0.2.65/1@p",
      },
      { name: "recorded under another pool", status: { address: "192.0.2.68", virtualRouterId: 7, pool: "gone" }, want: "192.0.2.65/1@p" },
      {
        name: "of the other family than spec.ipFamily",
        status: { address: "192.0.2.68", virtualRouterId: 7, pool: "p" },
        spec: { ipFamily: "IPv6" },
        want: "2001:db8::1/1@p",
      },
      { name: "not in canonical form", status: { address: "192.0.2.068", virtualRouterId: 7, pool: "p" }, want: "192.0.2.65/1@p" },
    ];
    for (const c of cases) {
      const v = allocated(auto("a", { spec: c.spec ?? {} }), c.status);
      const p = plan([v], [pool("p", { addresses: ["192.0.2.64/29", "2001:db8::/125"] })], { nodes: [node("node-a", ["192.0.2.11", "2001:db8::11"])] });
      assert.equal(outcome(p, "a"), c.want, c.name);
    }
  });

  void test("families: IPv4 first, IPv6 when asked or when IPv4 is exhausted, never IPv6 with VRRPv2", () => {
    const dual = pool("p", { addresses: ["192.0.2.64/31", "2001:db8::100/127"] });
    const nodes = [node("node-a", ["192.0.2.11", "2001:db8::11"]), node("node-b", ["192.0.2.12", "2001:db8::12"])];
    const p = plan(
      [
        auto("v6", { created: t(1), spec: { ipFamily: "IPv6" } }),
        auto("any1", { created: t(2) }),
        auto("v4", { created: t(3), spec: { ipFamily: "IPv4" } }),
        auto("any2", { created: t(4) }),
        auto("vrrp2", { created: t(5), spec: { vrrp: { version: 2 } } }),
        auto("v4-late", { created: t(6), spec: { ipFamily: "IPv4" } }),
      ],
      [dual],
      { nodes },
    );
    assert.deepEqual(
      ["v6", "any1", "v4", "any2", "vrrp2", "v4-late"].map((n) => outcome(p, n)),
      ["2001:db8::100/1@p", "192.0.2.64/1@p", "192.0.2.65/2@p", "2001:db8::101/2@p", "PoolExhausted", "PoolExhausted"],
    );
    assert.match(readyProblem(p, "v4-late")?.message ?? "", /no free IPv4 address/);
  });

  void test("pools that do not auto-assign are used only when named, and allocation goes in pool name order", () => {
    const manual = pool("a-manual", { addresses: ["192.0.2.64/30"], autoAssign: false });
    const autoB = pool("c-auto", { addresses: ["192.0.2.96/30"] });
    const autoA = pool("b-auto", { addresses: ["192.0.2.80/30"] });
    const p = plan(
      [
        auto("any", { created: t(1) }),
        auto("named", { created: t(2), spec: { pool: "a-manual" } }),
        vip({ name: "explicit", created: t(3), spec: { address: "192.0.2.66", virtualRouterId: 9 } }),
      ],
      [manual, autoB, autoA],
    );
    assert.deepEqual(
      ["any", "named", "explicit"].map((n) => outcome(p, n)),
      ["192.0.2.81/1@b-auto", "192.0.2.65/2@a-manual", "192.0.2.66/9@a-manual"],
    );
    const onlyManual = plan([auto("any")], [manual]);
    assert.equal(outcome(onlyManual, "any"), "NoPool");
    assert.match(
      readyProblem(onlyManual, "any")?.message ?? "",
      /spec\.pool: no VirtualIPPool that admits namespace default assigns addresses automatically \(autoAssign\); name one in spec\.pool/,
    );
  });
});

void describe("router ids", () => {
  const ids = (virtualRouterIds: string[]): VirtualIPPool => pool("p", { addresses: ["192.0.2.64/27", "2001:db8::/120"], virtualRouterIds });
  const dualNodes = { nodes: [node("node-a", ["192.0.2.11", "2001:db8::11"]), node("node-b", ["192.0.2.12", "2001:db8::12"])] };

  void test("an explicit router id outside the pool's ranges is RouterIdNotAllowed naming the pool", () => {
    const p = plan(
      [vip({ name: "a", spec: { address: "192.0.2.70", virtualRouterId: 49 } }), vip({ name: "b", spec: { address: "192.0.2.71", virtualRouterId: 60 } })],
      [ids(["50-59", "61"])],
    );
    assert.equal(outcome(p, "a"), "RouterIdNotAllowed");
    assert.match(
      readyProblem(p, "a")?.message ?? "",
      /^VirtualIP default\/a: spec\.virtualRouterId: 49 is not among the router ids of VirtualIPPool p \(50-59, 61\)$/,
    );
    assert.equal(outcome(p, "b"), "RouterIdNotAllowed");
    assert.equal(p.virtualIPs["default/a"]?.address, undefined);
  });

  void test("allocation takes the lowest free id per family, after the explicit ones", () => {
    const p = plan(
      [
        auto("a", { created: t(1) }),
        vip({ name: "x", created: t(2), spec: { address: "192.0.2.90", virtualRouterId: 50 } }),
        auto("b", { created: t(3), spec: { vrrp: { preempt: true } } }),
        auto("v6", { created: t(4), spec: { ipFamily: "IPv6" } }),
      ],
      [ids(["50-59"])],
      dualNodes,
    );
    assert.deepEqual(
      ["a", "x", "b", "v6"].map((n) => outcome(p, n)),
      ["192.0.2.65/51@p", "192.0.2.90/50@p", "192.0.2.66/52@p", "2001:db8::1/50@p"],
    );
  });

  void test("a kept router id stays with its address even when a lower one is free", () => {
    const kept = allocated(auto("k", { created: t(2) }), { address: "192.0.2.70", virtualRouterId: 57, pool: "p" });
    const p = plan([auto("a", { created: t(1) }), kept], [ids(["50-59"])]);
    assert.deepEqual([outcome(p, "a"), outcome(p, "k")], ["192.0.2.65/50@p", "192.0.2.70/57@p"]);
  });

  void test("a kept router id outside the pool's ranges now is replaced", () => {
    const kept = allocated(auto("k"), { address: "192.0.2.70", virtualRouterId: 30, pool: "p" });
    assert.equal(outcome(plan([kept], [ids(["50-59"])]), "k"), "192.0.2.70/50@p");
  });

  void test("with every id taken, a VirtualIP shares the id of one of its shape in its namespace (one instance), others get PoolExhausted", () => {
    const services = ["default", "other"].map((ns) => ({ metadata: { name: "web", namespace: ns }, spec: { type: "LoadBalancer" as const } }));
    const p = plan(
      [
        auto("first", { created: t(1) }),
        auto("same-shape", { created: t(2) }),
        auto("other-shape", { created: t(3), spec: { vrrp: { preempt: true } } }),
        auto("other-ns", { created: t(4), namespace: "other" }),
      ],
      [ids(["50"])],
      { services },
    );
    assert.deepEqual(
      ["first", "same-shape", "other-shape"].map((n) => outcome(p, n)),
      ["192.0.2.65/50@p", "192.0.2.66/50@p", "PoolExhausted"],
    );
    assert.equal(outcome(p, "other-ns", "other"), "PoolExhausted");
    assert.match(readyProblem(p, "other-shape")?.message ?? "", /spec\.virtualRouterId: VirtualIPPool p has no free router id/);
    assert.deepEqual(
      p.instances.map((i) => [i.virtualRouterId, i.addresses, i.virtualIPs]),
      [[50, ["192.0.2.65", "192.0.2.66"], ["default/first", "default/same-shape"]]],
    );
  });
});

void describe("pool status", () => {
  void test("counts addresses in use and free per pool, and reports unused pools", () => {
    const pools = [
      pool("a", { addresses: ["192.0.2.64/27", "2001:db8::/126"] }, t(1)),
      pool("b", { addresses: ["192.0.2.0/28"] }, t(1)),
      pool("c", { addresses: ["192.0.2.64/26"] }, t(2)),
    ];
    const p = plan(
      [
        auto("x", { created: t(1) }),
        auto("y", { created: t(2), spec: { pool: "b" } }),
        vip({ name: "z", created: t(3), spec: { address: "192.0.2.70", virtualRouterId: 9 } }),
      ],
      pools,
    );
    // a: 30 usable IPv4 (edges left out) + 4 IPv6; b: 14 usable minus the nodes' 192.0.2.11-13.
    assert.deepEqual(
      p.pools.map((x) => [x.name, x.allocated, x.available, x.ready.status, x.ready.reason]),
      [
        ["a", 2, 31, "True", "InUse"],
        ["b", 1, 10, "True", "InUse"],
        ["c", 0, 0, "False", "Overlap"],
      ],
    );
    assert.match(p.pools[0]?.ready.message ?? "", /^VirtualIPPool a hands out 2 addresses; 31 free$/);
  });

  void test("addresses that are never handed out are not available: Service ranges, special ranges, node addresses, each counted once", () => {
    const pools = [
      pool("svc", { addresses: ["198.18.0.0/24", "198.19.0.0/30"] }),
      pool("mixed", { addresses: ["126.255.255.252-127.0.0.3", "2001:db8::/126"] }),
    ];
    const extra: Partial<ClusterView> = {
      serviceCIDRs: [
        { name: "kubernetes", cidrs: ["198.18.0.0/16"] },
        { name: "extra", cidrs: ["198.18.0.0/28", "198.19.0.1/32"] },
      ],
      agentAddresses: { "node-a": ["198.18.0.5", "126.255.255.253", "127.0.0.1", "2001:db8::2"] },
    };
    const p = plan([auto("x", { spec: { pool: "svc" } })], pools, extra);
    // svc: 198.18.0.0/24 lies in a Service range; of 198.19.0.0/30 only .2 is left (.0 and .3 edges, .1 reserved).
    // mixed: 126.255.255.252-255 less the node's .253, 127.0.0.0-3 loopback; 2001:db8::/126 less its subnet-router anycast ::0 and the node's ::2.
    assert.deepEqual(
      p.pools.map((x) => [x.name, x.allocated, x.available]),
      [
        ["mixed", 0, 5],
        ["svc", 1, 0],
      ],
    );
    assert.equal(outcome(p, "x"), "198.19.0.2/1@svc");
  });
});
