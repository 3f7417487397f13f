// What a render derives from every VirtualIP (Service ingress, the Services
// and interfaces VirtualIPs name, the next claim expiry), derived anew and
// kept up to date for what a render touched. Pure but for an ObjectCache.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { V1Service } from "@kubernetes/client-node";
import { OPERATOR_FIELD_MANAGER, type VirtualIP } from "../../../src/api/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { ObjectCache } from "../../../src/operator/cache.js";
import { VirtualIPDerivations, type DerivationInput, type Derived } from "../../../src/operator/derived.js";
import { planCluster, type Problem } from "../../../src/render/index.js";
import { claimed, service, view, vip } from "../render/factory.js";

const T0 = Date.parse("2024-07-01T00:00:00Z");
const iso = (ms: number): string => new Date(ms).toISOString();
const GRACE_MS = 5 * 60_000;

/** A Service whose status.loadBalancer.ingress this operator wrote (managedFields say so). */
function ownedByUs(name: string, ips: string[]): V1Service {
  return {
    ...service(name),
    metadata: {
      name,
      namespace: "default",
      managedFields: [{ manager: OPERATOR_FIELD_MANAGER, operation: "Apply", fieldsV1: { "f:status": { "f:loadBalancer": { "f:ingress": {} } } } }],
    },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  };
}

/** The cluster of one render: its VirtualIPs planned against these Services (all in the cache). */
class Cluster {
  readonly cache = new ObjectCache();
  vips: VirtualIP[] = [];
  services: V1Service[] = [];

  private rv = 0;

  /** The cache holds these Services (each a new version, as a watch would bring it), and no others. */
  setServices(services: V1Service[]): void {
    const keep = new Set(services.map((s) => `default/${s.metadata?.name ?? ""}`));
    for (const key of this.cache.entries("Service").keys()) if (!keep.has(key)) this.cache.remove("Service", key);
    this.services = services;
    for (const s of services) this.cache.put("Service", { ...s, metadata: { ...s.metadata, resourceVersion: String(++this.rv) } } as RawObject);
  }

  input(touched: DerivationInput["touched"], now = T0): DerivationInput {
    const plan = planCluster(view(this.vips, { services: this.services, now }));
    const problems = new Map<string, Problem[]>();
    for (const p of plan.problems) problems.set(p.virtualIP, [...(problems.get(p.virtualIP) ?? []), p]);
    const vips = new Map(this.vips.map((v) => [`${v.metadata.namespace ?? "default"}/${v.metadata.name}`, v]));
    return { cache: this.cache, vips, plan, problems, touched, claimGraceMs: GRACE_MS, now };
  }
}

const plain = (d: Derived): unknown => ({
  ingress: new Map(d.ingress),
  claimExpiresAt: d.claimExpiresAt,
  referencedServices: new Set(d.referencedServices),
  referencedInterfaces: new Set(d.referencedInterfaces),
});

void describe("Service ingress", () => {
  void test("the addresses of a LoadBalancer Service's kube-proxy VirtualIPs, merged and sorted; none for ipvs, another class or ClusterIP", () => {
    const c = new Cluster();
    c.setServices([
      service("web"),
      service("api"),
      service("internal", { type: "ClusterIP", ports: [{ port: 80 }] }),
      service("other", { type: "LoadBalancer", loadBalancerClass: "example.com/lb", ports: [{ port: 80 }] }),
    ]);
    c.vips = [
      vip({ name: "b", spec: { address: "192.0.2.52", virtualRouterId: 52 } }),
      vip({ name: "a", spec: { address: "192.0.2.51", virtualRouterId: 51 } }),
      vip({ name: "ipvs", spec: { serviceRef: { name: "api" }, address: "192.0.2.53", virtualRouterId: 53, forwarding: "ipvs" } }),
      vip({ name: "cip", spec: { serviceRef: { name: "internal" }, address: "192.0.2.54", virtualRouterId: 54 } }),
      vip({ name: "cls", spec: { serviceRef: { name: "other" }, address: "192.0.2.55", virtualRouterId: 55 } }),
    ];
    const d = new VirtualIPDerivations().update(c.input("all"));
    assert.deepEqual(new Map(d.ingress), new Map([["default/web", ["192.0.2.51", "192.0.2.52"]]]));
    assert.deepEqual(new Set(d.referencedServices), new Set(["default/web", "default/api", "default/internal", "default/other"]));
  });

  void test("a Service of this operator's loadBalancerClass is one of ours", () => {
    const c = new Cluster();
    c.setServices([service("web", { type: "LoadBalancer", loadBalancerClass: "keepalived-vip.io/vip", ports: [{ port: 80 }] })]);
    c.vips = [vip({ name: "a", spec: { address: "192.0.2.51", virtualRouterId: 51 } })];
    assert.deepEqual(new VirtualIPDerivations().update(c.input("all")).ingress.get("default/web"), ["192.0.2.51"]);
  });

  void test("a Service whose ingress this operator owns and no VirtualIP publishes on is released (an empty list)", () => {
    const c = new Cluster();
    c.setServices([ownedByUs("web", ["192.0.2.51"])]);
    assert.deepEqual(new Map(new VirtualIPDerivations().update(c.input("all")).ingress), new Map([["default/web", []]]));
  });

  void test("kept up to date: a touched VirtualIP and a Service that changed alone, equal to deriving anew", () => {
    const c = new Cluster();
    c.setServices([service("web"), service("api")]);
    c.vips = [
      vip({ name: "a", spec: { address: "192.0.2.51", virtualRouterId: 51 } }),
      vip({ name: "b", spec: { serviceRef: { name: "api" }, address: "192.0.2.52", virtualRouterId: 52, interface: "eth1" } }),
    ];
    const kept = new VirtualIPDerivations();
    kept.update(c.input("all"));
    // b moves to web; nothing else changes.
    c.vips = [c.vips[0] as VirtualIP, vip({ name: "b", spec: { address: "192.0.2.52", virtualRouterId: 52 } })];
    const moved = kept.update(c.input(new Set(["default/b"])));
    assert.deepEqual(plain(moved), plain(new VirtualIPDerivations().update(c.input("all"))));
    assert.deepEqual(moved.ingress.get("default/web"), ["192.0.2.51", "192.0.2.52"]);
    assert.equal(moved.ingress.has("default/api"), false);
    assert.deepEqual(new Set(moved.referencedInterfaces), new Set());
    // The api Service now carries our ingress from before (its managedFields changed); no VirtualIP is touched.
    c.setServices([service("web"), ownedByUs("api", ["192.0.2.52"])]);
    const released = kept.update(c.input(new Set()));
    assert.deepEqual(released.ingress.get("default/api"), [], "the owned field is released");
    assert.deepEqual(plain(released), plain(new VirtualIPDerivations().update(c.input("all"))));
  });

  void test("after invalidate, the next update derives everything anew even when told only some VirtualIPs changed", () => {
    const c = new Cluster();
    c.setServices([service("web")]);
    c.vips = [vip({ name: "a", spec: { address: "192.0.2.51", virtualRouterId: 51 } })];
    const kept = new VirtualIPDerivations();
    kept.update(c.input("all"));
    kept.invalidate();
    c.vips = [...c.vips, vip({ name: "b", spec: { address: "192.0.2.52", virtualRouterId: 52 } })];
    assert.deepEqual(kept.update(c.input(new Set())).ingress.get("default/web"), ["192.0.2.51", "192.0.2.52"]);
  });
});

void describe("the next claim expiry", () => {
  const unusable = (name: string, sinceMs: number): VirtualIP =>
    claimed(
      vip({ name, spec: { serviceRef: { name: "gone" }, address: `192.0.2.${60 + name.length}` } }),
      { time: iso(T0 - 3_600_000) },
      { status: "False", reason: "ServiceNotFound", since: iso(sinceMs) },
    );

  void test("the earliest future end of a claim held by an unusable VirtualIP", () => {
    const c = new Cluster();
    c.vips = [unusable("a", T0 - 60_000), unusable("bb", T0 - 120_000), vip({ name: "ccc", spec: { address: "192.0.2.70" } })];
    assert.equal(new VirtualIPDerivations().update(c.input("all")).claimExpiresAt, T0 - 120_000 + GRACE_MS + 1);
  });

  void test("nothing to wait for: no claims, claims of rendered VirtualIPs, or claims already void", () => {
    const rendered = claimed(vip({ name: "r" }), { time: iso(T0) });
    const expired = unusable("x", T0 - 10 * 60_000);
    for (const vips of [[vip({ name: "plain" })], [rendered], [expired]]) {
      const c = new Cluster();
      c.setServices([service("web")]);
      c.vips = vips;
      assert.equal(new VirtualIPDerivations().update(c.input("all")).claimExpiresAt, undefined, vips.map((v) => v.metadata.name).join());
    }
  });

  void test("kept up to date: a touched VirtualIP that holds an unusable claim is waited for, and no more once it lets the claim go", () => {
    const c = new Cluster();
    c.setServices([service("web")]);
    c.vips = [vip({ name: "a", spec: { address: "192.0.2.51", virtualRouterId: 51 } })];
    const kept = new VirtualIPDerivations();
    assert.equal(kept.update(c.input("all")).claimExpiresAt, undefined);
    c.vips = [...c.vips, unusable("b", T0 - 60_000)];
    assert.equal(kept.update(c.input(new Set(["default/b"]))).claimExpiresAt, T0 - 60_000 + GRACE_MS + 1);
    c.vips = [c.vips[0] as VirtualIP];
    assert.equal(kept.update(c.input(new Set(["default/b"]))).claimExpiresAt, undefined);
  });

  void test("a claim that ran out while nothing was touched is no longer waited for", () => {
    const c = new Cluster();
    c.vips = [unusable("a", T0 - 60_000)];
    const kept = new VirtualIPDerivations();
    assert.equal(kept.update(c.input("all")).claimExpiresAt, T0 - 60_000 + GRACE_MS + 1);
    assert.equal(kept.update(c.input(new Set(), T0 + GRACE_MS)).claimExpiresAt, undefined);
  });
});
