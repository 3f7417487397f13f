// planCluster as a whole: stable adverts, determinism, purity, the outputs'
// shape, and secrets kept out of problems.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { nodeInstanceMapSchema } from "../../../src/api/index.js";
import { instanceName, planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { ClusterView } from "../../../src/render/index.js";
import { blockOf, node, secret, service, slice, view, vip } from "./factory.js";
import { loadFixture } from "./support.js";

function configOf(v: ClusterView, name = "node-a"): string {
  const n = renderNodeConfigs(planCluster(v)).find((p) => p.node === name);
  assert.ok(n, `no plan for ${name}`);
  return n.config;
}

/** Deterministic shuffle (mulberry32), so a failure can be replayed. */
function shuffled<T>(items: T[], seed: number): T[] {
  let s = seed;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

void describe("instanceName", () => {
  const cases: [number, 4 | 6, string | undefined, string][] = [
    [51, 4, undefined, "vip_4_51"],
    [51, 6, undefined, "vip_6_51"],
    [7, 4, "eth1", "vip_4_7_eth1"],
    [255, 6, "bond0.100", "vip_6_255_bond0.100"],
  ];
  for (const [vrid, family, iface, want] of cases) {
    void test(`router id ${vrid}, IPv${family}, interface ${iface ?? "default"} -> ${want}`, () => {
      assert.equal(instanceName(vrid, family, iface), want);
    });
  }
});

void describe("stable adverts", () => {
  const a = vip({ name: "a", created: "2024-01-01T00:00:00Z", spec: { address: "192.0.2.60" } });
  const b = vip({ name: "b", created: "2024-02-01T00:00:00Z", spec: { address: "192.0.2.10" } });
  const c = vip({ name: "c", created: "2024-03-01T00:00:00Z", spec: { address: "192.0.2.99" } });

  void test("adding a VirtualIP to an instance leaves virtual_ipaddress unchanged", () => {
    const one = configOf(view([a]));
    const two = configOf(view([a, b]));
    const three = configOf(view([a, b, c]));
    const advertised = blockOf(one, "virtual_ipaddress");
    assert.ok(advertised?.includes("192.0.2.60/32 dev eth0"));
    assert.equal(blockOf(two, "virtual_ipaddress"), advertised);
    assert.equal(blockOf(three, "virtual_ipaddress"), advertised);
    assert.equal(blockOf(one, "virtual_ipaddress_excluded"), undefined);
    assert.match(blockOf(two, "virtual_ipaddress_excluded") ?? "", /^\s+192\.0\.2\.10\/32 dev eth0$/m);
    assert.match(blockOf(three, "virtual_ipaddress_excluded") ?? "", /192\.0\.2\.10\/32 dev eth0\n\s+192\.0\.2\.99\/32 dev eth0/);
  });

  void test("removing a newer VirtualIP leaves virtual_ipaddress unchanged", () => {
    assert.equal(blockOf(configOf(view([a, c])), "virtual_ipaddress"), blockOf(configOf(view([a, b, c])), "virtual_ipaddress"));
  });

  void test("the instance name and the rest of the instance do not change either", () => {
    const strip = (s: string): string => s.replace(/\n\s*# Held[^\n]*\n\s*virtual_ipaddress_excluded \{[^}]*\}/, "").replace(/# VirtualIPs: [^\n]*\n/, "");
    assert.equal(strip(configOf(view([a, b, c]))), strip(configOf(view([a]))));
  });
});

void describe("determinism", () => {
  const fixtures = ["ipvs-endpoints", "shared-router-id", "conflict", "auth-vrrp2", "node-selector"];
  for (const name of fixtures) {
    void test(`${name}: shuffled input gives identical bytes`, () => {
      const base = loadFixture(name);
      const want = JSON.stringify(planCluster(base));
      for (let seed = 1; seed <= 5; seed++) {
        const mixed: ClusterView = {
          virtualIPs: shuffled(base.virtualIPs, seed),
          nodes: shuffled(base.nodes, seed + 1),
          services: shuffled(base.services, seed + 2),
          endpointSlices: shuffled(base.endpointSlices, seed + 3).map((s) => ({
            ...s,
            endpoints: shuffled(s.endpoints ?? [], seed),
            ports: shuffled(s.ports ?? [], seed),
          })),
          secrets: shuffled(base.secrets, seed + 4),
          nodeInterfaces: base.nodeInterfaces,
          pools: base.pools,
        };
        assert.equal(JSON.stringify(planCluster(mixed)), want, `seed ${seed}`);
      }
    });
  }

  void test("planning twice gives the same plan and does not touch the input", () => {
    const v = deepFreeze(loadFixture("ipvs-endpoints"));
    assert.deepEqual(planCluster(v), planCluster(v));
  });
});

void describe("plan shape", () => {
  const v = view(
    [
      vip({ name: "web", created: "2024-01-01T00:00:00Z" }),
      vip({ name: "lost", created: "2024-02-01T00:00:00Z" }),
      vip({ name: "nowhere", created: "2024-03-01T00:00:00Z", spec: { address: "192.0.2.70", nodeSelector: { matchLabels: { x: "y" } } } }),
    ],
    { nodes: [node("node-a", ["192.0.2.11"]), node("node-b", ["192.0.2.12"]), node("spare", [])] },
  );
  const plan = planCluster(v);
  const configs = renderNodeConfigs(plan);

  void test("every VirtualIP has an entry; one left out has no instance and no nodes", () => {
    assert.deepEqual(plan.virtualIPs, {
      "default/lost": {
        key: "default/lost",
        address: "192.0.2.50",
        virtualRouterId: 51,
        pool: "test",
        claimed: false,
        claimVoid: false,
        nodes: [],
        advertIntervalMs: 1000,
      },
      "default/nowhere": {
        key: "default/nowhere",
        address: "192.0.2.70",
        virtualRouterId: 51,
        pool: "test",
        claimed: false,
        claimVoid: false,
        nodes: [],
        advertIntervalMs: 1000,
      },
      "default/web": {
        key: "default/web",
        address: "192.0.2.50",
        virtualRouterId: 51,
        pool: "test",
        claimed: true,
        claimVoid: false,
        instance: "vip_4_51",
        nodes: ["node-a", "node-b"],
        advertIntervalMs: 1000,
      },
    });
  });

  void test("a VirtualIP refused by the pools has no address, router id or pool in its entry", () => {
    const refused = planCluster(view([vip({ name: "outside", spec: { address: "203.0.113.50" } })]));
    assert.deepEqual(refused.virtualIPs["default/outside"], { key: "default/outside", claimed: false, claimVoid: false, nodes: [], advertIntervalMs: 1000 });
    assert.deepEqual(
      refused.problems.map((p) => p.reason),
      ["AddressNotAllowed"],
    );
  });

  void test("every pool has an entry with its counts", () => {
    assert.deepEqual(
      plan.pools.map((p) => [p.name, p.allocated, p.ready.status, p.ready.reason]),
      [["test", 2, "True", "InUse"]],
    );
  });

  void test("every Node gets a plan, sorted by name; a node without instances gets global_defs only", () => {
    assert.deepEqual(
      plan.nodes.map((n) => n.node),
      ["node-a", "node-b", "spare"],
    );
    assert.deepEqual(plan.nodes[2]?.published.instances, []);
    assert.deepEqual(
      configs.map((n) => n.node),
      ["node-a", "node-b", "spare"],
    );
    const spare = configs[2];
    assert.ok(spare);
    assert.match(spare.config, /global_defs \{/);
    assert.doesNotMatch(spare.config, /vrrp_instance|virtual_server/);
    assert.deepEqual(spare.instances, { node: "spare", instances: [] });
  });

  void test("hash is the sha256 of the config and instance maps satisfy the agent contract", () => {
    for (const n of configs) {
      assert.equal(n.hash, createHash("sha256").update(n.config).digest("hex"));
      assert.ok(nodeInstanceMapSchema.safeParse(n.instances).success, `instance map of ${n.node} is invalid`);
    }
    for (const n of [...plan.nodes, ...plan.published]) assert.equal(n.hash, createHash("sha256").update(n.json).digest("hex"));
    assert.deepEqual(configs[0]?.instances.instances, [
      { instance: "vip_4_51", virtualRouterId: 51, interface: "eth0", family: 4, priority: 100, addresses: ["192.0.2.50"], virtualIPs: ["default/web"] },
    ]);
  });

  void test("problems name the VirtualIP and are sorted by it", () => {
    assert.deepEqual(
      plan.problems.map((p) => [p.virtualIP, p.condition, p.reason]),
      [
        ["default/lost", "Ready", "Conflict"],
        ["default/lost", "Conflict", "DuplicateAddress"],
        ["default/nowhere", "Ready", "NoEligibleNodes"],
      ],
    );
  });

  void test("runtimeDir and defaultInterface options reach the config", () => {
    const config = renderNodeConfigs(planCluster(v, { runtimeDir: "/var/run/kv/", defaultInterface: "ens5" }))[0]?.config ?? "";
    assert.match(config, /^\s+vrrp_notify_fifo \/var\/run\/kv\/notify\.fifo$/m);
    assert.match(config, /^\s+interface ens5$/m);
  });

  void test("options that cannot be rendered safely are refused", () => {
    assert.throws(() => planCluster(v, { runtimeDir: "relative/dir" }), /runtimeDir/);
    assert.throws(() => planCluster(v, { runtimeDir: "/run/x y" }), /runtimeDir/);
    assert.throws(() => planCluster(v, { defaultInterface: "eth0 }" }), /defaultInterface/);
  });

  void test("published node interfaces are used for VirtualIPs without spec.interface", () => {
    const p = planCluster({ ...v, nodeInterfaces: { "node-b": "bond0" } });
    assert.deepEqual(p.instances[0]?.interfaces, { "node-a": "eth0", "node-b": "bond0" });
  });
});

void describe("secrets", () => {
  const passwords = ["Pw.1", "Secret99", "much-too-long", "bad pw", 'q"uote'];
  void test("no password ever appears in a problem, and only valid ones in configs", () => {
    const vips = passwords.map((_, i) =>
      vip({
        name: `v${i}`,
        created: `2024-01-0${i + 1}T00:00:00Z`,
        spec: { address: `192.0.2.${60 + i}`, virtualRouterId: 60 + i, vrrp: { version: 2, authSecretRef: { name: "vrrp", key: `k${i}` } } },
      }),
    );
    const data = Object.fromEntries(passwords.map((p, i) => [`k${i}`, p]));
    const plan = planCluster(view(vips, { secrets: [secret("vrrp", data)] }));
    const problemText = JSON.stringify(plan.problems);
    for (const p of passwords) assert.ok(!problemText.includes(p), `problem shows password ${p}`);
    assert.deepEqual(
      plan.problems.map((p) => [p.virtualIP, p.reason]),
      [
        ["default/v2", "InvalidAuthSecret"],
        ["default/v3", "InvalidAuthSecret"],
        ["default/v4", "InvalidAuthSecret"],
      ],
    );
    // Only the instance Secrets' instance.json (plan.published) carries a password.
    const summary = JSON.stringify({ ...plan, published: [] });
    for (const p of passwords) assert.ok(!summary.includes(p), `plan outside the published instances shows password ${p}`);
    const published = JSON.stringify(plan.published);
    for (const p of passwords.slice(2)) assert.ok(!published.includes(JSON.stringify(p).slice(1, -1)), `a rejected password ${p} was published`);
    const config = renderNodeConfigs(plan)[0]?.config ?? "";
    assert.match(config, /auth_pass Pw\.1$/m);
    assert.match(config, /auth_pass Secret99$/m);
  });

  void test("two VirtualIPs with the same password in different Secrets share an instance", () => {
    const a = vip({ name: "a", created: "2024-01-01T00:00:00Z", spec: { vrrp: { version: 2, authSecretRef: { name: "s1", key: "p" } } } });
    const b = vip({
      name: "b",
      created: "2024-02-01T00:00:00Z",
      spec: { address: "192.0.2.51", vrrp: { version: 2, authSecretRef: { name: "s2", key: "p" } } },
    });
    const secrets = [secret("s1", { p: "same" }), secret("s2", { p: "same" })];
    const plan = planCluster(view([a, b], { secrets }));
    assert.deepEqual(plan.problems, []);
    assert.equal(plan.instances.length, 1);
  });

  void test("the same password in another namespace shares nothing, and the clash reveals nothing of the other namespace", () => {
    const a = vip({ name: "a", created: "2024-01-01T00:00:00Z", spec: { vrrp: { version: 2, authSecretRef: { name: "s1", key: "p" } } } });
    const b = vip({
      name: "b",
      namespace: "other",
      created: "2024-02-01T00:00:00Z",
      spec: { address: "192.0.2.51", vrrp: { version: 2, authSecretRef: { name: "s2", key: "p" } } },
    });
    const secrets = [secret("s1", { p: "same" }), secret("s2", { p: "same" }, "other")];
    const plan = planCluster(view([a, b], { secrets, services: [service("web"), service("web", undefined, "other")] }));
    assert.equal(plan.instances.length, 1);
    assert.deepEqual(plan.instances[0]?.virtualIPs, ["default/a"]);
    assert.deepEqual(
      plan.problems.map((p) => [p.virtualIP, p.condition, p.reason, p.other]),
      [
        ["other/b", "Ready", "Conflict", undefined],
        ["other/b", "Conflict", "RouterIdClash", undefined],
      ],
    );
    const text = JSON.stringify(plan.problems);
    for (const leak of ["default/a", "192.0.2.50", "metadata.namespace", "authSecretRef", "same"])
      assert.ok(!text.includes(leak), `a problem reveals ${leak}: ${text}`);
  });

  void test("different passwords on one router id clash without showing either", () => {
    const a = vip({ name: "a", created: "2024-01-01T00:00:00Z", spec: { vrrp: { version: 2, authSecretRef: { name: "s", key: "p1" } } } });
    const b = vip({
      name: "b",
      created: "2024-02-01T00:00:00Z",
      spec: { address: "192.0.2.51", vrrp: { version: 2, authSecretRef: { name: "s", key: "p2" } } },
    });
    const plan = planCluster(view([a, b], { secrets: [secret("s", { p1: "first1", p2: "second2" })] }));
    const clash = plan.problems.find((p) => p.condition === "Conflict");
    assert.equal(clash?.reason, "RouterIdClash");
    assert.match(clash?.message ?? "", /spec\.vrrp\.authSecretRef/);
    assert.ok(!JSON.stringify(plan.problems).includes("first1") && !JSON.stringify(plan.problems).includes("second2"));
  });
});

void describe("services and endpoints reach the config", () => {
  void test("ipvs forwarding renders a virtual_server per ready port on every taking-part node", () => {
    const v = view([vip({ name: "web", spec: { forwarding: "ipvs" } })], {
      services: [service("web", { ports: [{ name: "http", port: 80 }] })],
      endpointSlices: [slice("web-1", { service: "web", ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "198.51.100.105" }] })],
    });
    for (const n of renderNodeConfigs(planCluster(v))) {
      assert.match(n.config, /virtual_server 192\.0\.2\.50 80 \{/);
      assert.match(n.config, /real_server 198\.51\.100\.105 8080 \{/);
    }
  });

  void test("kube-proxy forwarding renders no virtual_server", () => {
    const v = view([vip({ name: "web" })], {
      endpointSlices: [slice("web-1", { service: "web", ports: [{ port: 80 }], endpoints: [{ ip: "198.51.100.105" }] })],
    });
    assert.doesNotMatch(configOf(v), /virtual_server/);
  });
});
