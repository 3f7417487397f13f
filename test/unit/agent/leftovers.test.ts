// Tests of the pre-keepalived address snapshot and the cleanup against it
// (src/agent/leftovers.ts), with a fake `ip` that prints a fixed address list
// and records what it is asked to delete.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeftoverTracker, parseSnapshot } from "../../../src/agent/leftovers.js";
import type { NodeInstance } from "../../../src/api/index.js";
import { createLogger, type Logger } from "../../../src/shared/logger.js";

const logger = createLogger("test", "error");
logger.silent = true;

/** A fake iproute2: `-j addr show` prints $dir/addrs.json; `addr del X dev Y` appends "X Y" to $dir/deleted. */
const FAKE_IP = `#!/bin/sh
dir=$(dirname "$0")
if [ "$1" = "-j" ]; then cat "$dir/addrs.json"; exit 0; fi
if [ "$1" = "addr" ] && [ "$2" = "del" ]; then echo "$3 $5" >> "$dir/deleted"; exit 0; fi
exit 1
`;

function links(addrs: Array<[string, number, "inet" | "inet6"]>): string {
  return JSON.stringify([{ ifname: "eth0", addr_info: addrs.map(([local, prefixlen, family]) => ({ family, local, prefixlen })) }]);
}

const web: NodeInstance = {
  instance: "vip_4_51",
  virtualRouterId: 51,
  interface: "eth0",
  family: 4,
  priority: 100,
  addresses: ["192.0.2.50", "192.0.2.60", "192.0.2.20"],
  virtualIPs: ["default/web"],
};

void describe("LeftoverTracker", () => {
  void test("removes only host routes of VIPs that were not there before keepalived started", async () => {
    const dir = mkdtempSync(join(tmpdir(), "leftovers-test-"));
    const ip = join(dir, "ip");
    writeFileSync(ip, FAKE_IP);
    chmodSync(ip, 0o755);
    const file = join(dir, "snapshot.json");
    try {
      // Before the first start: the host /24, a secondary /24 equal to a VIP, a pre-existing /32 equal to a VIP.
      writeFileSync(
        join(dir, "addrs.json"),
        links([
          ["192.0.2.11", 24, "inet"],
          ["192.0.2.20", 24, "inet"],
          ["192.0.2.60", 32, "inet"],
        ]),
      );
      const first = new LeftoverTracker({ file, logger, hostIP: "192.0.2.11", ipPath: ip });
      assert.deepEqual(await first.beforeStart([web]), [], "no snapshot yet: nothing removed");
      assert.ok(existsSync(file));
      // keepalived added 192.0.2.50/32, then died; a new agent (restart) finds the snapshot on disk.
      writeFileSync(
        join(dir, "addrs.json"),
        links([
          ["192.0.2.11", 24, "inet"],
          ["192.0.2.20", 24, "inet"],
          ["192.0.2.60", 32, "inet"],
          ["192.0.2.50", 32, "inet"],
        ]),
      );
      const second = new LeftoverTracker({ file, logger, hostIP: "192.0.2.11", ipPath: ip });
      const removed = await second.beforeStart([web]);
      assert.deepEqual(
        removed.map((a) => `${a.address}/${a.prefixLength}`),
        ["192.0.2.50/32"],
      );
      assert.equal(readFileSync(join(dir, "deleted"), "utf8"), "192.0.2.50/32 eth0\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("a leftover is a warning; the release after a planned handover is info, not a leftover", async () => {
    const dir = mkdtempSync(join(tmpdir(), "leftovers-test-"));
    const ip = join(dir, "ip");
    writeFileSync(ip, FAKE_IP);
    chmodSync(ip, 0o755);
    const lines: Array<{ level: string; message: string; address?: unknown }> = [];
    const record =
      (level: string) =>
      (message: string, fields?: { address?: unknown }): void => {
        lines.push({ level, message, address: fields?.address });
      };
    const captured = { error: record("error"), warn: record("warn"), info: record("info"), debug: record("debug") } as unknown as Logger;
    try {
      writeFileSync(join(dir, "addrs.json"), links([["192.0.2.11", 24, "inet"]]));
      const tracker = new LeftoverTracker({ file: join(dir, "snapshot.json"), logger: captured, hostIP: "192.0.2.11", ipPath: ip });
      await tracker.beforeStart([web]);
      writeFileSync(
        join(dir, "addrs.json"),
        links([
          ["192.0.2.11", 24, "inet"],
          ["192.0.2.50", 32, "inet"],
        ]),
      );
      assert.equal((await tracker.cleanup([web], "handover")).length, 1);
      assert.deepEqual(lines, [{ level: "info", message: "Released VIP after the handover", address: "192.0.2.50" }]);
      lines.length = 0;
      assert.equal((await tracker.cleanup([web])).length, 1);
      assert.deepEqual(lines, [{ level: "warn", message: "Removed leftover VIP", address: "192.0.2.50" }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("parseSnapshot: a list of strings, else unknown", () => {
    assert.deepEqual([...(parseSnapshot('{"addresses":["eth0 192.0.2.11/24"]}') ?? [])], ["eth0 192.0.2.11/24"]);
    assert.equal(parseSnapshot(undefined), undefined);
    assert.equal(parseSnapshot("{"), undefined);
    assert.equal(parseSnapshot('{"addresses":[1]}'), undefined);
  });
});
