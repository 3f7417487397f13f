// Label selector semantics: matchLabels AND matchExpressions (In, NotIn, Exists, DoesNotExist).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LabelSelector } from "../../../src/api/index.js";
import { matchesLabelSelector } from "../../../src/render/index.js";

const edge = { role: "edge", zone: "a" };

const cases: { name: string; selector: LabelSelector | undefined; labels: Record<string, string> | undefined; want: boolean }[] = [
  { name: "unset selector matches every node", selector: undefined, labels: edge, want: true },
  { name: "empty selector matches a node without labels", selector: {}, labels: undefined, want: true },
  { name: "matchLabels pair present", selector: { matchLabels: { role: "edge" } }, labels: edge, want: true },
  { name: "matchLabels value differs", selector: { matchLabels: { role: "worker" } }, labels: edge, want: false },
  { name: "matchLabels key missing", selector: { matchLabels: { rack: "1" } }, labels: edge, want: false },
  { name: "matchLabels needs every pair", selector: { matchLabels: { role: "edge", zone: "b" } }, labels: edge, want: false },
  { name: "matchLabels empty value matches only an empty label", selector: { matchLabels: { gpu: "" } }, labels: { gpu: "" }, want: true },
  { name: "In with the value", selector: { matchExpressions: [{ key: "zone", operator: "In", values: ["a", "b"] }] }, labels: edge, want: true },
  { name: "In without the value", selector: { matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }] }, labels: edge, want: false },
  { name: "In with the key missing", selector: { matchExpressions: [{ key: "rack", operator: "In", values: [""] }] }, labels: edge, want: false },
  { name: "NotIn with the value", selector: { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, labels: edge, want: false },
  { name: "NotIn without the value", selector: { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["b"] }] }, labels: edge, want: true },
  { name: "NotIn with the key missing", selector: { matchExpressions: [{ key: "rack", operator: "NotIn", values: ["1"] }] }, labels: edge, want: true },
  { name: "Exists with the key", selector: { matchExpressions: [{ key: "zone", operator: "Exists" }] }, labels: edge, want: true },
  { name: "Exists without the key", selector: { matchExpressions: [{ key: "rack", operator: "Exists" }] }, labels: edge, want: false },
  { name: "DoesNotExist with the key", selector: { matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, labels: edge, want: false },
  { name: "DoesNotExist without the key", selector: { matchExpressions: [{ key: "rack", operator: "DoesNotExist" }] }, labels: edge, want: true },
  {
    name: "matchLabels AND matchExpressions: both hold",
    selector: { matchLabels: { role: "edge" }, matchExpressions: [{ key: "zone", operator: "NotIn", values: ["maintenance"] }] },
    labels: edge,
    want: true,
  },
  {
    name: "matchLabels AND matchExpressions: expression fails",
    selector: { matchLabels: { role: "edge" }, matchExpressions: [{ key: "zone", operator: "In", values: ["maintenance"] }] },
    labels: edge,
    want: false,
  },
  {
    name: "a key inherited from Object.prototype is not a label",
    selector: { matchExpressions: [{ key: "constructor", operator: "Exists" }] },
    labels: edge,
    want: false,
  },
];

void describe("matchesLabelSelector", () => {
  for (const c of cases) {
    void test(c.name, () => {
      assert.equal(matchesLabelSelector(c.selector, c.labels), c.want);
    });
  }
});
