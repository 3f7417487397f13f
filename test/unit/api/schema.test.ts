// The VirtualIP zod schema: every sample parses, what a single object can get
// wrong is rejected with a message naming the field, and defaults apply.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import yaml from "js-yaml";
import type { V1Secret } from "@kubernetes/client-node";
import {
  API_VERSION,
  KIND,
  POOL_KIND,
  ReadyReason,
  canonicalIP,
  parseIPv4,
  parseIPv6,
  parsePool,
  parseVirtualIP,
  virtualIPSchema,
} from "../../../src/api/index.js";
import { planCluster, renderNodeConfigs, type ClusterView } from "../../../src/render/index.js";
import { testPool } from "../../support/pools.js";

const root = join(import.meta.dirname, "../../..");
const samplesDir = join(root, "config/samples");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return name.endsWith(".yaml") ? [p] : [];
    });
}

interface SampleDoc {
  file: string;
  doc: Record<string, unknown>;
}

function sampleDocs(): SampleDoc[] {
  return yamlFiles(samplesDir).flatMap((file) =>
    yaml
      .loadAll(readFileSync(file, "utf8"), undefined, { schema: yaml.CORE_SCHEMA })
      .filter((doc): doc is Record<string, unknown> => typeof doc === "object" && doc !== null)
      .map((doc) => ({ file: relative(root, file), doc })),
  );
}

function vip(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name: "bad", namespace: "default" }, spec, ...extra };
}

const base = { serviceRef: { name: "nginx" }, address: "192.0.2.50", virtualRouterId: 51 };
const v2 = (advertisementInterval: string) => ({ ...base, vrrp: { version: 2, advertisementInterval } });
const v3 = (advertisementInterval: string) => ({ ...base, vrrp: { version: 3, advertisementInterval } });
const withInterface = (iface: string) => ({ ...base, interface: iface });
const authRef = { name: "vrrp-auth", key: "password" };

/** Whether `ip` is inside the documentation ranges (RFC 5737, RFC 3849). */
function isDocumentationAddress(ip: string): boolean {
  const v4 = parseIPv4(ip);
  if (v4)
    return [
      [192, 0, 2],
      [198, 51, 100],
      [203, 0, 113],
    ].some((p) => p.every((o, i) => v4[i] === o));
  const v6 = parseIPv6(ip);
  return v6 !== undefined && v6[0] === 0x2001 && v6[1] === 0xdb8;
}

function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap(stringsIn);
  return [];
}

void describe("samples", () => {
  const docs = sampleDocs();
  const vips = docs.filter(({ doc }) => doc.kind === KIND);

  void test("config/samples holds the basic, IPv6, IPVS and VRRPv2-auth VirtualIPs", () => {
    const names = vips.map(({ doc }) => (doc.metadata as { name: string }).name).sort();
    assert.deepEqual(names, ["nginx", "nginx-ipv6", "web", "web-vrrp2"]);
  });

  for (const { file, doc } of vips) {
    void test(`${file}: VirtualIP ${(doc.metadata as { name: string }).name} parses`, () => {
      const res = parseVirtualIP(doc);
      assert.ok(res.ok, res.ok ? "" : res.error);
    });
  }

  void test("the samples show what they are named for", () => {
    const byName = new Map(
      vips.map(({ doc }) => {
        const res = parseVirtualIP(doc);
        assert.ok(res.ok);
        return [res.value.metadata.name, res.value.spec];
      }),
    );
    assert.deepEqual(
      { ...byName.get("nginx"), vrrp: undefined, ipvs: undefined },
      { serviceRef: { name: "nginx" }, address: "192.0.2.50", virtualRouterId: 51, forwarding: "kube-proxy", vrrp: undefined, ipvs: undefined },
    );
    assert.equal(byName.get("nginx-ipv6")?.address, "2001:db8::50");
    assert.deepEqual([byName.get("nginx-ipv6")?.vrrp.version, byName.get("nginx-ipv6")?.vrrp.advertisementInterval], [3, "100ms"]);
    assert.equal(byName.get("web")?.forwarding, "ipvs");
    assert.equal(byName.get("web-vrrp2")?.vrrp.version, 2);
    assert.deepEqual(byName.get("web-vrrp2")?.vrrp.authSecretRef, authRef);
  });

  void test("the VRRPv2 sample ships the Secret it references", () => {
    const secret = docs.find(({ doc }) => doc.kind === "Secret" && (doc.metadata as { name?: string }).name === "vrrp-auth");
    assert.ok(secret, "no Secret vrrp-auth under config/samples");
    assert.equal(secret.file, "config/samples/virtualip-vrrp2-auth.yaml");
    const password = (secret.doc.stringData as Record<string, string>).password;
    assert.ok(typeof password === "string" && password.length >= 1 && password.length <= 8);
  });

  void test("the pool sample is pool demo: 192.0.2.50-99, 2001:db8::50-99, router ids 50-99, every namespace", () => {
    const pools = docs.filter(({ doc }) => doc.kind === POOL_KIND);
    assert.deepEqual(
      pools.map(({ file }) => file),
      ["config/samples/virtualippool.yaml"],
    );
    const res = parsePool(pools[0]?.doc);
    assert.ok(res.ok, res.ok ? "" : res.error);
    assert.equal(res.value.metadata.name, "demo");
    assert.deepEqual(res.value.spec, { addresses: ["192.0.2.50-192.0.2.99", "2001:db8::50-2001:db8::99"], virtualRouterIds: ["50-99"], autoAssign: true });
  });

  void test("kustomization.yaml lists every VirtualIP and VirtualIPPool sample file", () => {
    const kustomization = yaml.load(readFileSync(join(samplesDir, "kustomization.yaml"), "utf8")) as { resources: string[] };
    const objects = docs.filter(({ doc }) => doc.kind === KIND || doc.kind === POOL_KIND);
    const files = [...new Set(objects.map(({ file }) => relative("config/samples", file)))].filter((f) => !f.includes("/")).sort();
    assert.deepEqual([...kustomization.resources].sort(), files);
  });

  void test("every IP address in the samples is a documentation address", () => {
    const ips = docs.flatMap(({ file, doc }) =>
      stringsIn(doc)
        .filter((s) => canonicalIP(s) !== undefined)
        .map((ip) => ({ file, ip })),
    );
    assert.ok(ips.length >= 10, "samples carry fewer addresses than expected");
    assert.deepEqual(
      ips.filter(({ ip }) => !isDocumentationAddress(ip)),
      [],
    );
  });
});

void describe("invalid VirtualIPs are rejected naming the field", () => {
  const cases: { name: string; obj: Record<string, unknown>; path: string; message: string | RegExp }[] = [
    { name: "address that is text", obj: vip({ ...base, address: "my-vip" }), path: "spec.address", message: "canonical form" },
    { name: "address with prefix length", obj: vip({ ...base, address: "192.0.2.1/32" }), path: "spec.address", message: "without prefix length" },
    { name: "address with a directive tail", obj: vip({ ...base, address: "192.0.2.1/32 }" }), path: "spec.address", message: "canonical form" },
    { name: "address with an octet over 255", obj: vip({ ...base, address: "256.1.1.1" }), path: "spec.address", message: "canonical form" },
    { name: "address in upper-case IPv6", obj: vip({ ...base, address: "2001:DB8::1" }), path: "spec.address", message: "canonical form" },
    { name: "address in uncompressed IPv6", obj: vip({ ...base, address: "2001:db8:0:0:0:0:0:1" }), path: "spec.address", message: "canonical form" },
    { name: "address with leading zeros", obj: vip({ ...base, address: "192.0.2.050" }), path: "spec.address", message: "canonical form" },
    { name: "address with a zone", obj: vip({ ...base, address: "fe80::1%eth0" }), path: "spec.address", message: "canonical form" },
    { name: "address that is a number", obj: vip({ ...base, address: 3221226034 }), path: "spec.address", message: "expected string" },
    {
      name: "ipFamily IPv6 with VRRP version 2",
      obj: vip({ serviceRef: { name: "nginx" }, ipFamily: "IPv6", vrrp: { version: 2 } }),
      path: "spec.ipFamily",
      message: "ipFamily IPv6 needs VRRP version 3",
    },
    {
      name: "ipFamily other than the address's",
      obj: vip({ ...base, ipFamily: "IPv6" }),
      path: "spec.ipFamily",
      message: "ipFamily must be the family of address",
    },
    { name: "ipFamily in lower case", obj: vip({ ...base, ipFamily: "ipv4" }), path: "spec.ipFamily", message: "Invalid option" },
    { name: "pool with an upper-case name", obj: vip({ ...base, pool: "Lan" }), path: "spec.pool", message: "Invalid string" },
    { name: "router id 0", obj: vip({ ...base, virtualRouterId: 0 }), path: "spec.virtualRouterId", message: ">=1" },
    { name: "router id 256", obj: vip({ ...base, virtualRouterId: 256 }), path: "spec.virtualRouterId", message: "<=255" },
    { name: "router id 1.5", obj: vip({ ...base, virtualRouterId: 1.5 }), path: "spec.virtualRouterId", message: "expected int" },
    { name: 'router id "51"', obj: vip({ ...base, virtualRouterId: "51" }), path: "spec.virtualRouterId", message: "expected number, received string" },
    { name: "interface with a newline", obj: vip(withInterface("eth0\nvrrp_script")), path: "spec.interface", message: "Invalid string" },
    { name: "interface with a brace", obj: vip(withInterface("eth0}")), path: "spec.interface", message: "Invalid string" },
    { name: "interface with a space", obj: vip(withInterface("eth 0")), path: "spec.interface", message: "Invalid string" },
    { name: "interface of 16 characters", obj: vip(withInterface("abcdefghijklmnop")), path: "spec.interface", message: "<=15" },
    { name: "interface with a slash", obj: vip(withInterface("eth/0")), path: "spec.interface", message: "Invalid string" },
    { name: "interface starting with a dot", obj: vip(withInterface(".eth0")), path: "spec.interface", message: "Invalid string" },
    { name: "interface empty", obj: vip(withInterface("")), path: "spec.interface", message: ">=1" },
    { name: "VRRPv2 advert of 100ms", obj: vip(v2("100ms")), path: "spec.vrrp.advertisementInterval", message: "whole seconds from 1s to 255s" },
    { name: "VRRPv2 advert of 0s", obj: vip(v2("0s")), path: "spec.vrrp.advertisementInterval", message: "whole seconds from 1s to 255s" },
    { name: "VRRPv2 advert of 256s", obj: vip(v2("256s")), path: "spec.vrrp.advertisementInterval", message: "whole seconds from 1s to 255s" },
    { name: "VRRPv2 advert of 1.5s", obj: vip(v2("1.5s")), path: "spec.vrrp.advertisementInterval", message: "whole seconds from 1s to 255s" },
    { name: "VRRPv3 advert of 5ms", obj: vip(v3("5ms")), path: "spec.vrrp.advertisementInterval", message: "from 10ms to 40.95s in steps of 10ms" },
    { name: "VRRPv3 advert of 41s", obj: vip(v3("41s")), path: "spec.vrrp.advertisementInterval", message: "from 10ms to 40.95s in steps of 10ms" },
    { name: "VRRPv3 advert of 15ms", obj: vip(v3("15ms")), path: "spec.vrrp.advertisementInterval", message: "from 10ms to 40.95s in steps of 10ms" },
    { name: "advert that is not a duration", obj: vip(v3("1m")), path: "spec.vrrp.advertisementInterval", message: "Invalid string" },
    {
      name: "authSecretRef with VRRP version 3",
      obj: vip({ ...base, vrrp: { version: 3, authSecretRef: authRef } }),
      path: "spec.vrrp.authSecretRef",
      message: "only supported with VRRP version 2",
    },
    {
      name: "authSecretRef with the default version",
      obj: vip({ ...base, vrrp: { authSecretRef: authRef } }),
      path: "spec.vrrp.authSecretRef",
      message: "only supported with VRRP version 2",
    },
    {
      name: "authSecretRef naming an invalid Secret",
      obj: vip({ ...base, vrrp: { version: 2, authSecretRef: { name: "Vrrp_Auth", key: "password" } } }),
      path: "spec.vrrp.authSecretRef.name",
      message: "Invalid string",
    },
    { name: "VRRP version 4", obj: vip({ ...base, vrrp: { version: 4 } }), path: "spec.vrrp.version", message: "Invalid input" },
    {
      name: "IPv6 address with VRRP version 2",
      obj: vip({ ...base, address: "2001:db8::50", vrrp: { version: 2 } }),
      path: "spec.vrrp.version",
      message: "an IPv6 address needs VRRP version 3",
    },
    {
      name: "preemptDelay without preempt",
      obj: vip({ ...base, vrrp: { preemptDelay: "30s" } }),
      path: "spec.vrrp.preemptDelay",
      message: "preemptDelay needs preempt: true",
    },
    {
      name: "preemptDelay over 1000s",
      obj: vip({ ...base, vrrp: { preempt: true, preemptDelay: "1000001ms" } }),
      path: "spec.vrrp.preemptDelay",
      message: "at most 1000s",
    },
    {
      name: "preemptDelay that is not a duration",
      obj: vip({ ...base, vrrp: { preempt: true, preemptDelay: "5m" } }),
      path: "spec.vrrp.preemptDelay",
      message: "Invalid string",
    },
    { name: "priority 0", obj: vip({ ...base, vrrp: { priorities: { "node-a": 0 } } }), path: "spec.vrrp.priorities.node-a", message: ">=1" },
    { name: "priority 255", obj: vip({ ...base, vrrp: { priorities: { "node-a": 255 } } }), path: "spec.vrrp.priorities.node-a", message: "<=254" },
    { name: "unknown field in spec", obj: vip({ ...base, adress: "192.0.2.51" }), path: "spec", message: 'Unrecognized key: "adress"' },
    { name: "unknown field in spec.vrrp", obj: vip({ ...base, vrrp: { auth: "x" } }), path: "spec.vrrp", message: 'Unrecognized key: "auth"' },
    { name: "serviceRef missing", obj: vip({ address: "192.0.2.50", virtualRouterId: 51 }), path: "spec.serviceRef", message: "expected object" },
    {
      name: "serviceRef with an upper-case name",
      obj: vip({ ...base, serviceRef: { name: "Nginx" } }),
      path: "spec.serviceRef.name",
      message: "Invalid string",
    },
    {
      name: "serviceRef with a namespace",
      obj: vip({ ...base, serviceRef: { name: "nginx", namespace: "other" } }),
      path: "spec.serviceRef",
      message: "Unrecognized key",
    },
    {
      name: "matchExpressions In without values",
      obj: vip({ ...base, nodeSelector: { matchExpressions: [{ key: "zone", operator: "In" }] } }),
      path: "spec.nodeSelector.matchExpressions.0",
      message: "values must be non-empty for In and NotIn",
    },
    {
      name: "matchExpressions Exists with values",
      obj: vip({ ...base, nodeSelector: { matchExpressions: [{ key: "zone", operator: "Exists", values: ["a"] }] } }),
      path: "spec.nodeSelector.matchExpressions.0",
      message: "empty for Exists and DoesNotExist",
    },
    {
      name: "matchExpressions with an unknown operator",
      obj: vip({ ...base, nodeSelector: { matchExpressions: [{ key: "zone", operator: "Gt", values: ["1"] }] } }),
      path: "spec.nodeSelector.matchExpressions.0.operator",
      message: "Invalid option",
    },
    { name: "forwarding iptables", obj: vip({ ...base, forwarding: "iptables" }), path: "spec.forwarding", message: "Invalid option" },
    { name: "ipvs scheduler fifo", obj: vip({ ...base, ipvs: { scheduler: "fifo" } }), path: "spec.ipvs.scheduler", message: "Invalid option" },
    { name: "ipvs method in lower case", obj: vip({ ...base, ipvs: { method: "nat" } }), path: "spec.ipvs.method", message: "Invalid option" },
    { name: "another apiVersion", obj: vip(base, { apiVersion: "keepalived-vip.io/v1" }), path: "apiVersion", message: "keepalived-vip.io/v1alpha1" },
    { name: "spec missing", obj: { apiVersion: API_VERSION, kind: KIND, metadata: { name: "bad" } }, path: "spec", message: "expected object" },
  ];

  void test("the table covers at least 25 cases", () => {
    assert.ok(cases.length >= 25);
  });

  for (const c of cases) {
    void test(`rejects ${c.name} at ${c.path}`, () => {
      const res = virtualIPSchema.safeParse(c.obj);
      assert.equal(res.success, false, "accepted");
      const issues = res.error?.issues.map((i) => ({ path: i.path.join("."), message: i.message })) ?? [];
      const matching = issues.filter((i) => i.path === c.path);
      assert.ok(matching.length > 0, `no issue at ${c.path}: ${JSON.stringify(issues)}`);
      const fragment = c.message;
      assert.ok(
        matching.some((i) => (typeof fragment === "string" ? i.message.includes(fragment) : fragment.test(i.message))),
        `no issue at ${c.path} mentions ${String(fragment)}: ${JSON.stringify(matching)}`,
      );
      const parsed = parseVirtualIP(c.obj);
      assert.equal(parsed.ok, false);
      assert.ok(!parsed.ok && parsed.error.startsWith(`VirtualIP default/bad: `), parsed.ok ? "" : parsed.error);
      assert.ok(!parsed.ok && parsed.error.includes(`${c.path}: `), parsed.ok ? "" : parsed.error);
    });
  }
});

void describe("valid boundary values are accepted", () => {
  const cases: { name: string; spec: Record<string, unknown> }[] = [
    { name: "address and router id omitted (allocated from a pool)", spec: { serviceRef: { name: "nginx" } } },
    { name: "a pool and an IPv6 family without an address", spec: { serviceRef: { name: "nginx" }, pool: "lan", ipFamily: "IPv6" } },
    { name: "ipFamily matching the address", spec: { ...base, address: "2001:db8::50", ipFamily: "IPv6" } },
    { name: "router id 1", spec: { ...base, virtualRouterId: 1 } },
    { name: "router id 255", spec: { ...base, virtualRouterId: 255 } },
    { name: "canonical IPv6", spec: { ...base, address: "2001:db8::50" } },
    { name: "interface of 15 characters", spec: withInterface("abcdefghijklmno") },
    { name: "VLAN interface", spec: withInterface("eth0.100") },
    { name: "VRRPv2 advert of 1s", spec: v2("1s") },
    { name: "VRRPv2 advert of 255s", spec: v2("255s") },
    { name: "VRRPv3 advert of 10ms", spec: v3("10ms") },
    { name: "VRRPv3 advert of 40.95s", spec: v3("40.95s") },
    { name: "VRRPv3 advert of 40950ms", spec: v3("40950ms") },
    { name: "priorities 1 and 254", spec: { ...base, vrrp: { priorities: { "node-a": 1, "node-b": 254 } } } },
    { name: "authSecretRef with VRRP version 2", spec: { ...base, vrrp: { version: 2, authSecretRef: authRef } } },
    { name: "matchExpressions Exists without values", spec: { ...base, nodeSelector: { matchExpressions: [{ key: "zone", operator: "Exists" }] } } },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      const res = parseVirtualIP(vip(c.spec));
      assert.ok(res.ok, res.ok ? "" : res.error);
    });
  }

  void test("defaults fill forwarding, ipvs and vrrp", () => {
    const res = parseVirtualIP(vip(base));
    assert.ok(res.ok);
    assert.deepEqual(res.value.spec, {
      ...base,
      forwarding: "ipvs",
      ipvs: { scheduler: "rr", method: "NAT" },
      vrrp: { version: 3, advertisementInterval: "1s", preempt: false, unicast: true },
    });
  });
});

void describe("the auth password is checked when rendering (the Secret is a separate object)", () => {
  function viewWith(secret: V1Secret): ClusterView {
    const res = parseVirtualIP(vip({ ...base, vrrp: { version: 2, authSecretRef: authRef } }));
    assert.ok(res.ok, res.ok ? "" : res.error);
    return {
      virtualIPs: [res.value],
      nodes: [{ metadata: { name: "node-a" }, status: { addresses: [{ type: "InternalIP", address: "192.0.2.11" }] } }],
      services: [{ metadata: { name: "nginx", namespace: "default" }, spec: { type: "ClusterIP", ports: [{ port: 80 }] } }],
      endpointSlices: [],
      secrets: [secret],
      nodeInterfaces: {},
      pools: [testPool()],
    };
  }
  const secret = (fields: Pick<V1Secret, "data" | "stringData">): V1Secret => ({ metadata: { name: "vrrp-auth", namespace: "default" }, ...fields });
  const base64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

  const cases: { name: string; secret: V1Secret; password: string; rejected: boolean }[] = [
    { name: "9 characters in stringData", secret: secret({ stringData: { password: "ninechars" } }), password: "ninechars", rejected: true },
    { name: "9 characters in base64 data", secret: secret({ data: { password: base64("Nine-Char") } }), password: "Nine-Char", rejected: true },
    { name: "8 characters in stringData", secret: secret({ stringData: { password: "eightchr" } }), password: "eightchr", rejected: false },
    { name: "8 characters in base64 data", secret: secret({ data: { password: base64("8chars?%") } }), password: "8chars?%", rejected: false },
  ];
  for (const c of cases) {
    void test(`a password of ${c.name} is ${c.rejected ? "an InvalidAuthSecret problem that never quotes it" : "accepted"}`, () => {
      const plan = planCluster(viewWith(c.secret));
      const problems = plan.problems.filter((p) => p.virtualIP === "default/bad");
      if (!c.rejected) {
        assert.deepEqual(problems, []);
        assert.ok(renderNodeConfigs(plan)[0]?.config.includes(`auth_pass ${c.password}`), "password missing from the config");
        return;
      }
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]?.reason, ReadyReason.InvalidAuthSecret);
      assert.equal(problems[0]?.excluded, true);
      assert.match(problems[0]?.message ?? "", /spec\.vrrp\.authSecretRef/);
      assert.ok(!JSON.stringify(plan.problems).includes(c.password), "the password appears in a problem");
      assert.ok(!renderNodeConfigs(plan).some((n) => n.config.includes(c.password)), "the rejected password reached a config");
      assert.ok(!plan.published.some((p) => p.json.includes(c.password)), "the rejected password was published");
    });
  }
});
