// keepalived supervision on a fake clock with a fake child process: after a
// crash the cleanup runs before the restart, the restart waits exactly the
// backoff (doubling, capped, reset by a long run), and a stop sends SIGTERM.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeepalivedSupervisor } from "../../../src/agent/keepalived.js";
import { runtimePaths } from "../../../src/agent/runtime.js";
import { FakeClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";

const logger = createLogger("test", "error");
logger.silent = true;

/** A child process that runs until the test makes it exit. */
class FakeChild extends EventEmitter {
  readonly signals: NodeJS.Signals[] = [];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdout = null;
  readonly stderr = null;

  constructor(readonly pid: number) {
    super();
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    this.signals.push(signal);
    if (signal === "SIGTERM") setImmediate(() => this.exit(null, "SIGTERM"));
    return true;
  }

  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.exitCode = code;
    this.signalCode = signal;
    this.emit("exit", code, signal);
  }
}

/** Waits (real time, generously bounded) for file I/O the supervisor does between two fake-clock steps. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), "timed out waiting for the supervisor");
}

void describe("KeepalivedSupervisor on a fake clock", () => {
  void test("a crash: cleanup, then a restart after 200, 400, 800 ms; a run of 30 s resets the backoff", async () => {
    const dir = mkdtempSync(join(tmpdir(), "supervisor-clock-"));
    const clock = new FakeClock();
    const children: FakeChild[] = [];
    const events: string[] = [];
    const sup = new KeepalivedSupervisor({
      keepalivedPath: "keepalived",
      paths: runtimePaths(dir),
      logger,
      clock,
      spawn: () => {
        const child = new FakeChild(1000 + children.length);
        children.push(child);
        events.push(`spawn@${clock.now()}`);
        return child as unknown as ChildProcess;
      },
      onUnexpectedExit: () => {
        events.push(`cleanup@${clock.now()}`);
        return Promise.resolve();
      },
    });
    try {
      const t0 = clock.now();
      await sup.start();
      assert.equal(sup.phase, "running");
      const crash = async (): Promise<void> => {
        const cleanups = events.filter((e) => e.startsWith("cleanup")).length;
        children.at(-1)?.exit(1);
        await until(() => events.filter((e) => e.startsWith("cleanup")).length > cleanups && sup.phase === "backoff");
        await clock.advance(0);
      };
      const spawned = async (n: number): Promise<void> => until(() => children.length === n && sup.phase === "running");
      const rel = (): string[] => events.map((e) => e.replace(/@(\d+)/, (_, t: string) => `@${Number(t) - t0}`));

      await crash();
      assert.equal(sup.phase, "backoff");
      await clock.advance(199);
      assert.equal(children.length, 1, "restarted before the backoff ended");
      await clock.advance(1);
      await spawned(2);
      await crash();
      await clock.advance(400);
      await spawned(3);
      await crash();
      await clock.advance(800);
      await spawned(4);
      assert.deepEqual(rel(), ["spawn@0", "cleanup@0", "spawn@200", "cleanup@200", "spawn@600", "cleanup@600", "spawn@1400"]);
      assert.equal(sup.restarts, 3);

      // A run of 30 s counts as stable: the next crash waits the first delay again.
      await clock.advance(30_000);
      await crash();
      const before = children.length;
      await clock.advance(199);
      assert.equal(children.length, before, "restarted before the backoff ended");
      await clock.advance(1);
      await spawned(before + 1);

      const last = children.at(-1)!;
      await sup.stop();
      assert.deepEqual(last.signals, ["SIGTERM"]);
      assert.equal(sup.phase, "stopped");
      await clock.advance(60_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(children.length, before + 1, "restarted after a stop");
    } finally {
      await sup.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
