import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../../../src/shared/backoff.js";

void describe("backoffDelay without jitter (the work queue)", () => {
  const cases: [number, number][] = [
    [0, 0],
    [1, 100],
    [2, 200],
    [5, 1600],
    [20, 30_000],
    [1000, 30_000],
  ];
  for (const [failures, want] of cases) {
    void test(`${failures} failures wait ${want} ms`, () => {
      assert.equal(backoffDelay(failures, { initialMs: 100, maxMs: 30_000 }), want);
    });
  }
});

void describe("backoffDelay with jitter (the list+watch)", () => {
  const cases: { failures: number; random: number; want: number }[] = [
    { failures: 1, random: 1, want: 200 },
    { failures: 1, random: 0, want: 100 },
    { failures: 3, random: 1, want: 800 },
    { failures: 3, random: 0.5, want: 600 },
    { failures: 20, random: 1, want: 10_000 },
    { failures: 20, random: 0, want: 5000 },
  ];
  for (const c of cases) {
    void test(`failure ${c.failures}, random ${c.random}: ${c.want} ms`, () => {
      assert.equal(backoffDelay(c.failures, { initialMs: 200, maxMs: 10_000 }, c.random), c.want);
    });
  }
});
