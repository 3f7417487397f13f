// LoadBalancer Services get VirtualIPs: which Services are served, one per
// family, annotations, owned objects only, removal. Pure.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RawObject } from "../../../src/kube/watch.js";
import { loadBalancerVIPNeedsApply, planLoadBalancerVIPs, servesLoadBalancer } from "../../../src/operator/lbservices.js";

function svc(name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): RawObject {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: "shop", uid: `uid-${name}`, annotations }, spec: { type: "LoadBalancer", ...spec } };
}

function byKey(list: RawObject[]): Map<string, RawObject> {
  return new Map(list.map((o) => [`${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`, o]));
}

const OURS = { loadBalancerClass: "keepalived-vip.io/vip" };

void describe("which Services are served", () => {
  const cases: [string, Record<string, unknown>, boolean, boolean][] = [
    ["our class", OURS, false, true],
    ["another class", { loadBalancerClass: "metallb.io/l2" }, true, false],
    ["no class, default class off", {}, false, false],
    ["no class, default class on", {}, true, true],
    ["ClusterIP with our class", { ...OURS, type: "ClusterIP" }, true, false],
  ];
  for (const [name, spec, defaultClass, want] of cases) {
    void test(name, () => assert.equal(servesLoadBalancer(svc("web", spec), defaultClass), want));
  }
});

void describe("planLoadBalancerVIPs", () => {
  void test("one VirtualIP per family, owned by the Service, forwarding kube-proxy; IPv6 with VRRPv3", () => {
    const plan = planLoadBalancerVIPs(byKey([svc("web", { ...OURS, ipFamilies: ["IPv4", "IPv6"] })]), new Map(), { defaultClass: false });
    assert.deepEqual([...plan.apply.keys()], ["shop/web-ipv4", "shop/web-ipv6"]);
    const v6 = plan.apply.get("shop/web-ipv6")!.object;
    assert.deepEqual(v6.spec, { serviceRef: { name: "web" }, forwarding: "kube-proxy", ipFamily: "IPv6", vrrp: { version: 3 } });
    assert.deepEqual(v6.metadata?.ownerReferences, [
      { apiVersion: "v1", kind: "Service", name: "web", uid: "uid-web", controller: true, blockOwnerDeletion: false },
    ]);
    assert.equal(v6.metadata?.labels?.["keepalived-vip.io/service"], "web");
  });

  void test("annotations choose address (per family), pool and router id; invalid ones are ignored and named", () => {
    const s = svc(
      "web",
      { ...OURS, ipFamilies: ["IPv4"] },
      {
        "keepalived-vip.io/address": "192.0.2.80, 2001:db8::80",
        "keepalived-vip.io/pool": "lan",
        "keepalived-vip.io/virtual-router-id": "300",
      },
    );
    const d = planLoadBalancerVIPs(byKey([s]), new Map(), { defaultClass: false }).apply.get("shop/web-ipv4")!;
    assert.equal((d.object.spec as { address?: string }).address, "192.0.2.80");
    assert.equal((d.object.spec as { pool?: string }).pool, "lan");
    assert.equal((d.object.spec as { virtualRouterId?: number }).virtualRouterId, undefined);
    assert.deepEqual(d.ignored, ['keepalived-vip.io/virtual-router-id: "300" is not a router id 1..255']);
    const bad = svc("bad", OURS, { "keepalived-vip.io/address": "192.0.2.080" });
    assert.match(
      planLoadBalancerVIPs(byKey([bad]), new Map(), { defaultClass: false }).apply.get("shop/bad-ipv4")!.ignored[0] ?? "",
      /not an IP address in canonical form/,
    );
  });

  void test("an ignored annotation value is quoted at most 64 characters long", () => {
    const s = svc("long", OURS, { "keepalived-vip.io/pool": `${"x".repeat(5000)}\nforged log line` });
    const note = planLoadBalancerVIPs(byKey([s]), new Map(), { defaultClass: false }).apply.get("shop/long-ipv4")!.ignored[0] ?? "";
    assert.equal(note, `keepalived-vip.io/pool: "${"x".repeat(64)}..." is not a pool name`);
  });

  void test("a user's VirtualIP of the same name is never touched", () => {
    const user: RawObject = { metadata: { name: "web-ipv4", namespace: "shop", uid: "u1" }, spec: { address: "192.0.2.9" } };
    const plan = planLoadBalancerVIPs(byKey([svc("web", OURS)]), byKey([user]), { defaultClass: false });
    assert.equal(plan.apply.size, 0);
    assert.equal(plan.remove.size, 0);
  });

  void test("VirtualIPs of Services that are gone, changed class or dropped a family are removed", () => {
    const made = (name: string, service: string): RawObject => ({
      metadata: {
        name,
        namespace: "shop",
        uid: `u-${name}`,
        labels: { "keepalived-vip.io/service": service },
        ownerReferences: [{ kind: "Service", uid: `uid-${service}` }],
      },
      spec: {},
    });
    const services = byKey([svc("web", { ...OURS, ipFamilies: ["IPv4"] }), svc("old", { loadBalancerClass: "other" })]);
    const vips = byKey([made("web-ipv4", "web"), made("web-ipv6", "web"), made("old-ipv4", "old"), made("gone-ipv4", "gone")]);
    const plan = planLoadBalancerVIPs(services, vips, { defaultClass: false });
    assert.deepEqual([...plan.remove.keys()].sort(), ["shop/gone-ipv4", "shop/old-ipv4", "shop/web-ipv6"]);
    assert.equal(plan.remove.get("shop/gone-ipv4"), "u-gone-ipv4");
  });

  void test("needs an apply only when the live object differs in what the operator sets", () => {
    const d = planLoadBalancerVIPs(byKey([svc("web", OURS, { "keepalived-vip.io/pool": "lan" })]), new Map(), { defaultClass: false }).apply.get(
      "shop/web-ipv4",
    )!.object;
    assert.equal(loadBalancerVIPNeedsApply(d, undefined), true);
    const live: RawObject = { metadata: { ...d.metadata }, spec: { ...(d.spec as object), ipvs: { scheduler: "rr", method: "NAT" }, vrrp: { version: 3 } } };
    assert.equal(loadBalancerVIPNeedsApply(d, live), false);
    assert.equal(loadBalancerVIPNeedsApply(d, { ...live, spec: { ...(live.spec as object), pool: "other" } }), true);
    assert.equal(
      loadBalancerVIPNeedsApply(d, { ...live, spec: { ...(live.spec as object), address: "192.0.2.9" } }),
      true,
      "an address the annotation no longer sets",
    );
  });
});
