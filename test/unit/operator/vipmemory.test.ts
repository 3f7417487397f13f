// The reconciler's per-VirtualIP memory: the gauges' counts are kept as
// statuses are noted and VirtualIPs forgotten, and always equal a recount.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CONDITION_CONFLICT, ReadyReason } from "../../../src/api/index.js";
import type { StatusPlan } from "../../../src/operator/status.js";
import { VirtualIPMemory } from "../../../src/operator/vipmemory.js";
import { prng } from "../../support/prng.js";

function plan(readyReason: string, conflict: boolean): StatusPlan {
  const conditions = conflict ? [{ type: CONDITION_CONFLICT, status: "True", reason: "AddressInUse", message: "", lastTransitionTime: "" }] : [];
  return { readyReason, changed: true, nodeWrites: [], events: [], summary: { conditions } } as unknown as StatusPlan;
}

void test("counts by Ready reason and of conflicts equal a recount after every note and forget", () => {
  const reasons = Object.values(ReadyReason);
  const r = prng(20261205);
  const truth = new Map<string, { reason: string; conflict: boolean }>();
  const memory = new VirtualIPMemory();
  for (let step = 0; step < 5000; step++) {
    const key = `ns/vip-${Math.floor(r() * 40)}`;
    if (r() < 0.2) {
      memory.forget(key);
      truth.delete(key);
    } else {
      const reason = reasons[Math.floor(r() * reasons.length)] as string;
      const conflict = r() < 0.3;
      memory.note(key, plan(reason, conflict));
      truth.set(key, { reason, conflict });
    }
    const want = new Map<string, number>(reasons.map((x) => [x, 0]));
    for (const t of truth.values()) want.set(t.reason, (want.get(t.reason) ?? 0) + 1);
    const got = memory.counts();
    assert.deepEqual(new Map(got.byReason), want, `step ${step}`);
    assert.equal(got.conflicts, [...truth.values()].filter((t) => t.conflict).length, `step ${step}`);
  }
});
