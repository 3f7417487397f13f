import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RawObject } from "../../../src/kube/watch.js";
import { ObjectCache, digestValue } from "../../../src/operator/cache.js";

function obj(name: string, rv: string, extra: Record<string, unknown> = {}): RawObject {
  return { metadata: { name, namespace: "default", uid: `uid-${name}`, resourceVersion: rv, managedFields: [{ manager: "x" }] }, ...extra };
}

void describe("ObjectCache", () => {
  void test("a replayed ADDED with the same resourceVersion is no change", () => {
    const c = new ObjectCache();
    assert.ok(c.put("VirtualIP", obj("a", "5")));
    assert.equal(c.put("VirtualIP", obj("a", "5")), undefined);
  });

  void test("an older resourceVersion (a watch event behind our own write's response) is ignored", () => {
    const c = new ObjectCache();
    c.put("Node", obj("a", "10", { spec: { k: "new" } }));
    assert.equal(c.put("Node", obj("a", "9", { spec: { k: "old" } })), undefined);
    assert.deepEqual(c.get("Node", "default/a")?.spec, { k: "new" });
  });

  void test("a newer version reports the previous and current objects", () => {
    const c = new ObjectCache();
    c.put("Node", obj("a", "1", { spec: { x: 1 } }));
    const change = c.put("Node", obj("a", "2", { spec: { x: 2 } }));
    assert.deepEqual(change?.previous?.spec, { x: 1 });
    assert.deepEqual(change?.current?.spec, { x: 2 });
  });

  void test("managedFields are dropped except on Services", () => {
    const c = new ObjectCache();
    c.put("VirtualIP", obj("a", "1"));
    c.put("Service", obj("a", "1"));
    assert.equal(c.get("VirtualIP", "default/a")?.metadata?.managedFields, undefined);
    assert.deepEqual(c.get("Service", "default/a")?.metadata?.managedFields, [{ manager: "x" }]);
  });

  void test("Secret data is kept as digests, never as values", () => {
    const c = new ObjectCache();
    c.put("Secret", obj("a", "1", { data: { "keepalived.conf": "c2VjcmV0" } }));
    const data = c.get("Secret", "default/a")?.data as Record<string, string>;
    assert.match(data["keepalived.conf"] ?? "", /^sha256:[0-9a-f]{64}$/);
    assert.equal(data["keepalived.conf"], digestValue("c2VjcmV0"));
  });

  void test("a write response that arrives after the watch's DELETED does not bring the object back; a new object of that name does come in", () => {
    const c = new ObjectCache();
    c.put("VirtualIP", obj("a", "5"));
    assert.ok(c.remove("VirtualIP", "default/a", obj("a", "8")));
    assert.equal(c.put("VirtualIP", obj("a", "7")), undefined, "the late response of our own write");
    assert.equal(c.has("VirtualIP", "default/a"), false);
    const again = { ...obj("a", "9"), metadata: { ...obj("a", "9").metadata, uid: "another" } };
    assert.ok(c.put("VirtualIP", again), "a new object with the same name");
    assert.equal(c.has("VirtualIP", "default/a"), true);
  });

  void test("remove reports the deleted object once", () => {
    const c = new ObjectCache();
    c.put("Lease", obj("a", "1"));
    assert.equal(c.remove("Lease", "default/a")?.previous?.metadata?.name, "a");
    assert.equal(c.has("Lease", "default/a"), false);
    assert.equal(c.remove("Lease", "default/a"), undefined);
  });

  void test("sweep drops objects a fresh list no longer shows, but keeps ones updated after the list began", () => {
    const c = new ObjectCache();
    c.put("VirtualIP", obj("kept", "1"));
    c.put("VirtualIP", obj("gone", "2"));
    const since = c.currentSeq;
    c.put("VirtualIP", obj("new", "3"));
    const removed = c.sweep("VirtualIP", new Set(["default/kept"]), since);
    assert.deepEqual(
      removed.map((r) => r.key),
      ["default/gone"],
    );
    assert.deepEqual([...c.entries("VirtualIP").keys()].sort(), ["default/kept", "default/new"]);
  });

  void test("entries is one snapshot until its kind changes; drainChanges gives the keys changed since the last drain", () => {
    const c = new ObjectCache();
    c.put("VirtualIP", obj("a", "1"));
    c.trackChanges("VirtualIP");
    const first = c.entries("VirtualIP");
    assert.equal(c.entries("VirtualIP"), first, "the same snapshot while nothing changed");
    c.put("Lease", obj("l", "1"));
    assert.equal(c.entries("VirtualIP"), first, "another kind changing keeps it");
    c.put("VirtualIP", obj("b", "2"));
    c.put("VirtualIP", obj("a", "3"));
    assert.notEqual(c.entries("VirtualIP"), first);
    assert.deepEqual([...first.keys()], ["default/a"], "a snapshot handed out never changes");
    c.remove("VirtualIP", "default/b");
    c.put("VirtualIP", obj("a", "3"));
    assert.deepEqual([...c.drainChanges("VirtualIP")].sort(), ["default/a", "default/b"], "changed and removed, once each; an unchanged put is no change");
    assert.deepEqual([...c.drainChanges("VirtualIP")], []);
    c.sweep("VirtualIP", new Set(), c.currentSeq);
    assert.deepEqual([...c.drainChanges("VirtualIP")], ["default/a"], "a sweep is a change");
  });

  void test("withLabel lists the objects carrying a label, as they come and go and change", () => {
    const c = new ObjectCache();
    const labelled = (name: string, rv: string, value?: string): RawObject => {
      const o = obj(name, rv);
      return { ...o, metadata: { ...o.metadata, ...(value !== undefined ? { labels: { team: value } } : {}) } };
    };
    c.put("VirtualIP", labelled("before", "1", "x"));
    c.indexLabel("VirtualIP", "team");
    c.put("VirtualIP", labelled("with", "2", ""));
    c.put("VirtualIP", labelled("without", "3"));
    const keys = (): string[] => [...c.withLabel("VirtualIP", "team")].map(([k]) => k).sort();
    assert.deepEqual(keys(), ["default/before", "default/with"], "objects already there are indexed; an empty value counts");
    c.put("VirtualIP", labelled("with", "4"));
    c.put("VirtualIP", labelled("without", "5", "y"));
    c.remove("VirtualIP", "default/before");
    assert.deepEqual(keys(), ["default/without"]);
  });
});
