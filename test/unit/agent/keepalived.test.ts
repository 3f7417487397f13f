// Tests of keepalived supervision with a stand-in binary (a shell script named
// keepalived) at the process seam: command line, SIGHUP reload, restart with
// backoff after a crash, SIGTERM stop, and removal of stale processes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KeepalivedSupervisor,
  isNotableKeepalivedLine,
  keepalivedArgs,
  killStaleKeepalived,
  stripKeepalivedTimestamp,
  type ExitInfo,
} from "../../../src/agent/keepalived.js";
import { runtimePaths, type RuntimePaths } from "../../../src/agent/runtime.js";
import { realClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";

const logger = createLogger("test", "error");
logger.silent = true;

// Writes its pid like keepalived -p, announces its two child processes like
// keepalived (after as many seconds as the file "slow" next to it says),
// logs each SIGHUP ("early" before the announcement), exits 0 on SIGTERM, and
// exits 3 at once when the file "crash" exists next to it.
const FAKE = `#!/bin/sh
dir=$(dirname "$0")
pidfile=""
while [ $# -gt 0 ]; do [ "$1" = "-p" ] && pidfile=$2; shift; done
trap 'if [ -e "$dir/children" ]; then echo hup >> "$dir/hups"; else echo early >> "$dir/hups"; fi' HUP
sp=""
trap 'rm -f "$pidfile"; [ -n "$sp" ] && kill $sp 2>/dev/null; exit 0' TERM
echo $$ > "$pidfile"
echo "Thu Nov 26 02:28:43 2026: Starting Keepalived v2.2.7"
[ -e "$dir/crash" ] && exit 3
# (wait, not a foreground sleep: a trap runs as soon as its signal arrives)
if [ -e "$dir/slow" ]; then sleep "$(cat "$dir/slow")" & sp=$!; wait $sp; fi
touch "$dir/children"
echo "Thu Nov 26 02:28:43 2026: Starting Healthcheck child process, pid=$$"
echo "Thu Nov 26 02:28:43 2026: Starting VRRP child process, pid=$$"
while :; do sleep 0.05; done
`;

function setup(): { dir: string; bin: string; paths: RuntimePaths } {
  const dir = mkdtempSync(join(tmpdir(), "supervisor-test-"));
  const bin = join(dir, "keepalived");
  writeFileSync(bin, FAKE);
  chmodSync(bin, 0o755);
  return { dir, bin, paths: runtimePaths(dir) };
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

void describe("keepalived command line", () => {
  void test("runs in the foreground, logs to the console, VRRP and checker always, pid files in the runtime dir", () => {
    assert.deepEqual(keepalivedArgs(runtimePaths("/run/k")), [
      "--dont-fork",
      "--log-console",
      "--log-detail",
      "--all",
      "--no_bfd",
      "-f",
      "/run/k/keepalived.conf",
      "-p",
      "/run/k/keepalived.pid",
      "-r",
      "/run/k/vrrp.pid",
      "-c",
      "/run/k/checkers.pid",
    ]);
  });

  const lines: Array<[string, string, boolean]> = [
    ["Thu Nov 26 02:28:43 2026: (vip_4_51) Entering MASTER STATE", "(vip_4_51) Entering MASTER STATE", true],
    ["Thu Nov  6 02:28:43 2026: Sending gratuitous ARP on eth0 for 192.0.2.50", "Sending gratuitous ARP on eth0 for 192.0.2.50", false],
    ["no timestamp: Reload complete", "no timestamp: Reload complete", true],
    // What keepalived says where the agent lacks CAP_SYS_NICE: worth seeing at info.
    ["Fri Dec  4 18:52:50 2026: Unable to set process priority to -20 - Permission denied", "Unable to set process priority to -20 - Permission denied", true],
    ["Fri Dec  4 18:52:50 2026: child process: cannot raise priority", "child process: cannot raise priority", true],
  ];
  for (const [raw, stripped, notable] of lines) {
    void test(`console line ${JSON.stringify(stripped)}`, () => {
      assert.equal(stripKeepalivedTimestamp(raw), stripped);
      assert.equal(isNotableKeepalivedLine(stripped), notable);
    });
  }
});

void describe("KeepalivedSupervisor", () => {
  void test("starts, reloads with SIGHUP, and stops with SIGTERM", async () => {
    const { dir, bin, paths } = setup();
    const sup = new KeepalivedSupervisor({
      keepalivedPath: bin,
      paths,
      logger,
      clock: realClock,
      onUnexpectedExit: () => Promise.reject(new Error("unexpected")),
    });
    try {
      assert.equal(await sup.reload(), "started");
      assert.equal(sup.phase, "running");
      await waitFor(() => existsSync(paths.pid));
      assert.equal(Number(readFileSync(paths.pid, "utf8")), sup.pid);
      assert.equal(await sup.reload(), "reloaded");
      await waitFor(() => existsSync(join(dir, "hups")));
      await sup.stop();
      assert.equal(sup.phase, "stopped");
      assert.equal(existsSync(paths.pid), false, "the process ran its TERM handler");
      assert.equal(await sup.reload(), "deferred");
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("a reload right after the start waits until keepalived has forked its child processes", async () => {
    const { dir, bin, paths } = setup();
    writeFileSync(join(dir, "slow"), "0.5");
    const sup = new KeepalivedSupervisor({
      keepalivedPath: bin,
      paths,
      logger,
      clock: realClock,
      onUnexpectedExit: () => Promise.reject(new Error("unexpected")),
    });
    try {
      assert.equal(await sup.reload(), "started");
      await waitFor(() => existsSync(paths.pid));
      assert.equal(await sup.reload(), "reloaded");
      assert.ok(existsSync(join(dir, "children")), "the reload returned only after the children were announced");
      await waitFor(() => existsSync(join(dir, "hups")));
      assert.equal(readFileSync(join(dir, "hups"), "utf8"), "hup\n", "no SIGHUP reached keepalived before its children started");
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("a keepalived that never announces its children is reloaded after the timeout", async () => {
    const { dir, bin, paths } = setup();
    writeFileSync(join(dir, "slow"), "30");
    const sup = new KeepalivedSupervisor({
      keepalivedPath: bin,
      paths,
      logger,
      clock: realClock,
      readyTimeoutMs: 300,
      onUnexpectedExit: () => Promise.reject(new Error("unexpected")),
    });
    try {
      assert.equal(await sup.reload(), "started");
      await waitFor(() => existsSync(paths.pid));
      assert.equal(await sup.reload(), "reloaded");
      await waitFor(() => existsSync(join(dir, "hups")));
      assert.equal(readFileSync(join(dir, "hups"), "utf8"), "early\n");
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("after a crash: cleanup first, then restarts with doubling backoff", async () => {
    const { dir, bin, paths } = setup();
    writeFileSync(join(dir, "crash"), "");
    const exits: Array<{ info: ExitInfo; at: number }> = [];
    const starts: number[] = [];
    const sup = new KeepalivedSupervisor({
      keepalivedPath: bin,
      paths,
      logger,
      clock: realClock,
      backoffInitialMs: 100,
      backoffMaxMs: 400,
      onUnexpectedExit: (info) => {
        exits.push({ info, at: Date.now() });
        return Promise.resolve();
      },
      onStarted: () => starts.push(Date.now()),
    });
    try {
      await sup.start();
      await waitFor(() => exits.length >= 4, 10_000);
      rmSync(join(dir, "crash"));
      await waitFor(() => sup.phase === "running" && starts.length >= 5 && existsSync(paths.pid), 10_000);
      assert.equal(exits[0]?.info.code, 3);
      assert.ok(sup.restarts >= 4);
      const gaps = starts.slice(1, 5).map((s, i) => s - (exits[i]?.at ?? 0));
      // At least 100, 200, 400, 400 ms (doubling, capped). Only a generous upper
      // bound: a loaded machine may schedule the restart late, never early.
      const want = [100, 200, 400, 400];
      gaps.forEach((g, i) => assert.ok(g >= want[i]! - 5 && g < want[i]! + 5_000, `gap ${i}: ${g} ms, want at least ${want[i]} ms`));
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test("stale keepalived processes named by the pid files are stopped, others are left alone", async () => {
    const { dir, bin, paths } = setup();
    const stale = spawn(bin, ["-p", paths.vrrpPid], { stdio: "ignore" });
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      await waitFor(() => existsSync(paths.vrrpPid));
      writeFileSync(paths.checkersPid, String(other.pid));
      writeFileSync(paths.pid, "999999999");
      const killed = await killStaleKeepalived(paths, { logger, graceMs: 1000 });
      assert.deepEqual(killed, [stale.pid]);
      await waitFor(() => stale.exitCode !== null || stale.signalCode !== null);
      assert.equal(other.exitCode, null, "a process that is not keepalived survives");
    } finally {
      stale.kill("SIGKILL");
      other.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
