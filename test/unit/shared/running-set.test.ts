import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeRunningSet, MAX_RUNNING_SET_CHARS, parseRunningSet } from "../../../src/shared/running-set.js";

const SALT = "0123456789abcdef";

function v4(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

void describe("running-addresses annotation", () => {
  void test("lists exactly the encoded addresses (both families), and nothing else of a sample", () => {
    const addrs = ["192.0.2.10", "192.0.2.11", "2001:db8::1", "198.51.100.7"];
    const set = parseRunningSet(encodeRunningSet(SALT, addrs));
    assert.ok(set);
    for (const a of addrs) assert.equal(set.has(a), true, a);
    assert.equal(set.size, 4);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (set.has(v4(i))) hits++;
    assert.equal(hits, 0);
  });

  void test("an empty set lists nothing; duplicates count once", () => {
    const empty = parseRunningSet(encodeRunningSet(SALT, []));
    assert.equal(empty?.has("192.0.2.10"), false);
    assert.equal(empty?.size, 0);
    assert.equal(parseRunningSet(encodeRunningSet(SALT, ["192.0.2.1", "192.0.2.1"]))?.size, 1);
  });

  void test("is deterministic and compact: 10,000 addresses take under 5 characters each", () => {
    const addrs = Array.from({ length: 10_000 }, (_, i) => v4(i));
    const text = encodeRunningSet(SALT, addrs);
    assert.equal(text, encodeRunningSet(SALT, [...addrs].reverse()));
    assert.ok(text.length < 50_000, `${text.length} characters`);
    const set = parseRunningSet(text);
    assert.ok(addrs.every((a) => set?.has(a)));
    assert.equal(set?.size, 10_000);
  });

  void test("the salt changes every hash: another salt does not read the same set", () => {
    const a = encodeRunningSet(SALT, ["192.0.2.10"]);
    const b = encodeRunningSet("fedcba9876543210", ["192.0.2.10"]);
    assert.notEqual(a.split(".")[2], b.split(".")[2]);
  });

  void test("too many to list: every address counts as running", () => {
    const addrs = Array.from({ length: 60_000 }, (_, i) => `2001:db8::${i.toString(16)}:1`);
    const text = encodeRunningSet(SALT, addrs);
    assert.ok(text.length <= MAX_RUNNING_SET_CHARS);
    assert.equal(text, `v1.${SALT}.*`);
    assert.equal(parseRunningSet(text)?.has("192.0.2.99"), true);
  });

  void test("text that is not a set parses to undefined (the node has then said nothing)", () => {
    for (const bad of [
      undefined,
      "",
      "v2.0123456789abcdef.AA",
      "v1.short.AA",
      "v1.0123456789abcdef.!!",
      `v1.${SALT}.${"_".repeat(20)}`,
      `v1.${SALT}.gA`,
      "x".repeat(300_000),
    ]) {
      assert.equal(parseRunningSet(bad), undefined, String(bad).slice(0, 40));
    }
  });
});
