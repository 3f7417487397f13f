import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StatusInputIndex, unionDirty } from "../../../src/operator/planner.js";
import type { Problem, VirtualIPPlan } from "../../../src/render/index.js";

const entry = (key: string, nodes: string[]): VirtualIPPlan => ({
  key,
  address: "192.0.2.50",
  virtualRouterId: 51,
  claimed: true,
  claimVoid: false,
  instance: "vip_4_51",
  nodes,
  advertIntervalMs: 1000,
});
const problem = (key: string): Problem => ({
  virtualIP: key,
  condition: "Ready",
  reason: "ServiceNotFound",
  message: `VirtualIP ${key}: spec.serviceRef.name: not found`,
  excluded: true,
});

function render(virtualIPs: Record<string, VirtualIPPlan>, problems: [string, Problem[]][] = [], invalid: [string, string][] = []) {
  return { plan: { virtualIPs }, problems: new Map(problems), invalid: new Map(invalid) };
}

void describe("StatusInputIndex: the VirtualIPs a render changed the status inputs of", () => {
  void test("the first render marks every VirtualIP; the same render again marks none", () => {
    const index = new StatusInputIndex();
    const r = render({ "a/x": entry("a/x", ["n1"]), "a/y": entry("a/y", ["n1"]) });
    assert.equal(index.changed(r), "all");
    assert.deepEqual(index.changed(r), new Set());
  });

  void test("a changed entry, a new problem, a parse error, a VirtualIP gone: each marks that VirtualIP only", () => {
    const index = new StatusInputIndex();
    index.changed(render({ "a/x": entry("a/x", ["n1"]), "a/y": entry("a/y", ["n1"]), "a/z": entry("a/z", ["n1"]) }));
    const next = render({ "a/x": entry("a/x", ["n1", "n2"]), "a/y": entry("a/y", ["n1"]) }, [["a/y", [problem("a/y")]]], [["a/w", "spec.address: not an IP"]]);
    assert.deepEqual(index.changed(next), new Set(["a/x", "a/y", "a/z", "a/w"]));
  });

  void test("VirtualIPs being deleted are marked on every render", () => {
    const index = new StatusInputIndex();
    const r = render({ "a/x": entry("a/x", ["n1"]) });
    index.changed(r);
    assert.deepEqual(index.changed(r, ["a/gone"]), new Set(["a/gone"]));
  });

  void test("unionDirty: all wins, sets merge", () => {
    assert.equal(unionDirty(new Set(["a"]), "all"), "all");
    assert.equal(unionDirty("all", new Set(["a"])), "all");
    assert.deepEqual(unionDirty(new Set(["a"]), new Set(["b"])), new Set(["a", "b"]));
  });
});
