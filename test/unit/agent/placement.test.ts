// Track-file values from the node's plan, and their writes: changed values
// only, atomically, stale standby files removed.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PublishedNode } from "../../../src/api/index.js";
import { effectivePriorities, effectivePriority, planTrackValues, TrackFiles } from "../../../src/agent/placement.js";

const entry = (instance: string, standby?: true): PublishedNode["instances"][number] => ({
  instance,
  interface: "eth0",
  priority: 100,
  ...(standby ? { standby } : {}),
});

void describe("planTrackValues", () => {
  void test("handover 0 and every instance's standby value", () => {
    const node: PublishedNode = { node: "node-a", runtimeDir: "/run/keepalived-vip", instances: [entry("vip_4_51"), entry("vip_4_52", true)] };
    assert.deepEqual(Object.fromEntries(planTrackValues(node, false)), { handover: "0", "standby-vip_4_51": "0", "standby-vip_4_52": "1" });
  });
  void test("handover 1 while the plan says so or the agent is stopping", () => {
    const node: PublishedNode = { node: "node-a", runtimeDir: "/run/keepalived-vip", instances: [], handover: "Unschedulable" };
    assert.equal(planTrackValues(node, false).get("handover"), "1");
    assert.equal(planTrackValues({ ...node, handover: undefined }, true).get("handover"), "1");
    assert.equal(planTrackValues({ ...node, handover: undefined }, false).get("handover"), "0");
  });
  void test("a keyed instance (name#hash) is named after its vrrp_instance, as in keepalived.conf", () => {
    const node: PublishedNode = { node: "node-a", runtimeDir: "/run/keepalived-vip", instances: [entry("vip_4_51#0123456789abcdef", true)] };
    assert.equal(planTrackValues(node, false).get("standby-vip_4_51"), "1");
  });
});

void describe("effectivePriority", () => {
  void test("the configured priority while the handover file is 0", () => {
    for (const p of [1, 100, 175, 250, 254]) assert.equal(effectivePriority(p, false), p);
  });
  void test("1 for any configured priority while the handover file is 1 (weight -253, clamped as keepalived clamps)", () => {
    for (const p of [1, 2, 100, 175, 250, 254]) assert.equal(effectivePriority(p, true), 1);
  });
  void test("per instance, keyed by vrrp_instance", () => {
    const instances = [
      { instance: "vip_4_51", priority: 250 },
      { instance: "vip_4_52", priority: 100 },
    ];
    assert.deepEqual(effectivePriorities(instances, false), { vip_4_51: 250, vip_4_52: 100 });
    assert.deepEqual(effectivePriorities(instances, true), { vip_4_51: 1, vip_4_52: 1 });
  });
});

void describe("TrackFiles", () => {
  void test("writes values, rewrites only changes, removes standby files of instances gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "track-"));
    try {
      const files = new TrackFiles(dir);
      assert.equal(files.handover, false, "nothing written yet");
      const first = await files.write(
        new Map([
          ["handover", "0"],
          ["standby-a", "1"],
          ["standby-b", "0"],
        ]),
      );
      assert.deepEqual(first.sort(), ["handover", "standby-a", "standby-b"]);
      assert.equal(readFileSync(join(dir, "track", "standby-a"), "utf8"), "1\n");
      writeFileSync(join(dir, "track", "unrelated"), "x");
      const second = await files.write(
        new Map([
          ["handover", "1"],
          ["standby-a", "1"],
        ]),
      );
      assert.deepEqual(second, ["handover"]);
      assert.deepEqual(readdirSync(join(dir, "track")).sort(), ["handover", "standby-a", "unrelated"]);
      assert.equal(files.handover, true, "handover as last written");
      assert.equal(await files.setHandover(true), false);
      assert.equal(await files.setHandover(false), true);
      assert.equal(files.handover, false);
      assert.equal(readFileSync(join(dir, "track", "handover"), "utf8"), "0\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
