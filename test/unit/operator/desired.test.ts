import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { nodeConfigSecretName } from "../../../src/api/index.js";
import type { RawObject } from "../../../src/kube/watch.js";
import { ObjectCache, type Kind } from "../../../src/operator/cache.js";
import { renderPass, type BuiltSecret } from "../../../src/operator/desired.js";
import { gatherVirtualIPs, VirtualIPParser } from "../../../src/operator/gather.js";
import { renderInline } from "../../../src/operator/render-worker.js";
import { testPoolObject } from "../../support/pools.js";
import { NS, nodeObject, serviceObject, vipObject } from "./reconciler-fixture.js";

const NOW = Date.parse("2024-01-01T00:00:00Z");

function cacheWith(objects: [Kind, RawObject][]): ObjectCache {
  const cache = new ObjectCache();
  cache.put("VirtualIPPool", {
    ...testPoolObject(),
    metadata: { name: "test", uid: "pool", resourceVersion: "1", generation: 1, creationTimestamp: "2020-01-01T00:00:00Z" },
  });
  for (const [kind, obj] of objects) cache.put(kind, obj);
  return cache;
}

function plan(cache: ObjectCache, previousSecrets: ReadonlyMap<string, BuiltSecret> = new Map()) {
  const gathered = gatherVirtualIPs(cache.entries("VirtualIP"), new VirtualIPParser());
  return renderPass({
    cache,
    gathered,
    authSecrets: [],
    planNamespace: NS,
    options: { claimGraceMs: 300_000 },
    render: renderInline,
    previousSecrets,
    now: NOW,
  });
}

void describe("renderPass: the desired state", () => {
  const base: [Kind, RawObject][] = [
    ["Node", nodeObject("node-a", "192.0.2.11")],
    ["Node", nodeObject("node-b", "192.0.2.12")],
    ["Service", serviceObject("web")],
    ["VirtualIP", vipObject("web", { service: "web", address: "192.0.2.60", virtualRouterId: 51 })],
  ];

  void test("a VirtualIP on two nodes: an instance Secret, a Secret per node, its Service's ingress, its references", async () => {
    const d = await plan(cacheWith(base));
    const names = [...d.secrets.keys()].sort();
    assert.equal(names.length, 3);
    assert.ok(names.includes(nodeConfigSecretName("node-a")) && names.includes(nodeConfigSecretName("node-b")));
    assert.deepEqual(d.ingress.get("default/web"), ["192.0.2.60"]);
    assert.deepEqual([...d.referencedServices], ["default/web"]);
    assert.equal(d.render?.plan.virtualIPs["default/web"]?.address, "192.0.2.60");
    assert.deepEqual(d.render?.plan.nodes, [], "the published plan lives on in the Secrets only");
    assert.equal(d.pools.get("test")?.allocated, 1);
  });

  void test("an unchanged plan reuses every built Secret; a Node's new uid rebuilds its Secret alone", async () => {
    const first = await plan(cacheWith(base));
    const again = await plan(cacheWith(base), first.secrets);
    for (const [name, built] of again.secrets) assert.equal(built, first.secrets.get(name), name);
    const replaced = nodeObject("node-b", "192.0.2.12");
    replaced.metadata = { ...replaced.metadata, uid: "uid-node-b-2" };
    const third = await plan(cacheWith([...base.filter(([k, o]) => !(k === "Node" && o.metadata?.name === "node-b")), ["Node", replaced]]), first.secrets);
    const rebuilt = [...third.secrets].filter(([name, built]) => built !== first.secrets.get(name)).map(([name]) => name);
    assert.deepEqual(rebuilt, [nodeConfigSecretName("node-b")]);
    assert.equal(third.secrets.get(nodeConfigSecretName("node-b"))?.secret.metadata?.ownerReferences?.[0]?.uid, "uid-node-b-2");
  });

  void test("a VirtualIP being deleted and an invalid one are left out (excluded), and publish nothing", async () => {
    const deleting = vipObject(
      "old",
      { service: "web", address: "192.0.2.61", virtualRouterId: 52 },
      { finalizers: ["keepalived-vip.io/cleanup"], deletionTimestamp: "2024-01-01T00:00:00Z" },
    );
    const invalid = vipObject("bad", { service: "web", address: "not-an-ip", virtualRouterId: 53 });
    const d = await plan(cacheWith([...base, ["VirtualIP", deleting], ["VirtualIP", invalid]]));
    assert.deepEqual([...(d.render?.excluded ?? [])].sort(), ["default/bad", "default/old"]);
    assert.deepEqual(d.ingress.get("default/web"), ["192.0.2.60"]);
    assert.match(d.render?.invalid.get("default/bad") ?? "", /address/);
    assert.equal(d.render?.excluded.has("default/web"), false);
  });
});
