// The planned handover's bounds and steps, with fake ports (no keepalived):
// the pause covers every MASTER's master-down interval within the budget, and
// the handover ends when the FIFO reports the former MASTERs BACKUP.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { endedMasters, handOver, planPauseMs, StateWaiters, type HandoverPorts } from "../../../src/agent/handover.js";
import { createLogger } from "../../../src/shared/logger.js";

void describe("planPauseMs", () => {
  const intervals = new Map([
    ["fast", 100],
    ["slow", 1000],
  ]);
  void test("four intervals of the slowest MASTER plus a margin (more than three adverts and the skew time)", () => {
    assert.equal(planPauseMs(["fast"], intervals, 60_000), 500);
    assert.equal(planPauseMs(["fast", "slow"], intervals, 60_000), 4100);
  });
  void test("an unknown interval counts as 1 s; the budget bounds it", () => {
    assert.equal(planPauseMs(["unknown"], intervals, 60_000), 4100);
    assert.equal(planPauseMs(["slow"], intervals, 2000), 2000);
    assert.equal(planPauseMs(["slow"], intervals, -5), 0);
  });
});

function ports(over: Partial<HandoverPorts> & { states: Map<string, string> }): HandoverPorts & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    masters: () => [...over.states].filter(([, s]) => s === "MASTER").map(([n]) => n),
    advertIntervals: () => new Map([["vip_4_51", 100]]),
    hasPeers: () => true,
    vrrpPid: () => Promise.resolve(undefined),
    release: () => Promise.resolve(),
    waitFor: (done) => Promise.resolve(done()),
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
    logger: createLogger("agent", "error"),
    ...over,
  };
}

/** The state letter of a process in /proc (T: stopped). */
function procState(child: ChildProcess): string {
  return readFileSync(`/proc/${child.pid}/stat`, "utf8").split(" ")[2] ?? "?";
}

/** A handover of one MASTER whose pause must end in SIGCONT: the process runs on and nothing is released. */
async function assertContinued(over: Partial<HandoverPorts>, budgetMs: number): Promise<void> {
  const child = spawn("sleep", ["30"]);
  try {
    const released: string[][] = [];
    const p = ports({
      states: new Map([["vip_4_51", "MASTER"]]),
      vrrpPid: () => Promise.resolve(child.pid),
      release: (names) => {
        released.push([...names]);
        return Promise.resolve();
      },
      ...over,
    });
    const res = await handOver(p, budgetMs);
    await new Promise((r) => setTimeout(r, 50));
    assert.notEqual(procState(child), "T", "the process was continued");
    assert.equal(res.restarted, false);
    assert.deepEqual(released, []);
  } finally {
    child.kill("SIGKILL");
  }
}

void describe("handOver", () => {
  void test("nothing to do without a MASTER instance: no pause", async () => {
    const p = ports({ states: new Map([["vip_4_51", "BACKUP"]]) });
    assert.deepEqual(await handOver(p, 10_000), { masters: [], stillMaster: [], pausedMs: 0, restarted: false });
    assert.deepEqual(p.slept, [200]);
  });
  void test("reports MASTERs that a BACKUP took over and those still MASTER", async () => {
    const states = new Map([
      ["vip_4_51", "MASTER"],
      ["vip_4_52", "MASTER"],
    ]);
    const p = ports({
      states,
      waitFor: (done) => {
        states.set("vip_4_51", "BACKUP");
        return Promise.resolve(done());
      },
    });
    const res = await handOver(p, 10_000);
    assert.deepEqual(res.masters, ["vip_4_51", "vip_4_52"]);
    assert.deepEqual(res.stillMaster, ["vip_4_52"]);
  });
  void test("pauses the VRRP process for the whole master-down bound, then ends it and releases its addresses", async () => {
    const child = spawn("sleep", ["30"]);
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on("exit", (_code, signal) => r(signal)));
    try {
      const released: string[][] = [];
      const seen: string[] = [];
      const p = ports({
        states: new Map([["vip_4_51", "MASTER"]]),
        vrrpPid: () => Promise.resolve(child.pid),
        release: (names) => {
          released.push([...names]);
          return Promise.resolve();
        },
        sleep: async (ms) => {
          if (ms === 200) return;
          await new Promise((r) => setTimeout(r, 50));
          seen.push(`${ms} ${procState(child)}`);
        },
      });
      const res = await handOver(p, 10_000);
      assert.deepEqual(seen, ["500 T"], "paused (state T) for four 100 ms intervals plus the margin");
      assert.equal(await exited, "SIGKILL");
      assert.equal(res.restarted, true);
      assert.deepEqual(released, [["vip_4_51"]]);
    } finally {
      child.kill("SIGKILL");
    }
  });
  void test("an instance without another node: the process is continued, nothing released", async () => {
    await assertContinued({ hasPeers: () => false }, 10_000);
  });
  void test("a pause cut short by the budget continues the process instead (the BACKUP may not have taken over)", async () => {
    await assertContinued({}, 300);
  });
});

void describe("endedMasters", () => {
  void test("only what the ended process still reports MASTER: a state the new VRRP process reported already is kept", () => {
    const states = {
      a: { state: "MASTER" as const, priority: 1, since: 1 },
      b: { state: "BACKUP" as const, priority: 1, since: 5 },
      c: { state: "FAULT" as const, priority: 1, since: 5 },
    };
    assert.deepEqual(endedMasters(states, ["a", "b", "c", "gone"]), ["a"]);
    assert.deepEqual(endedMasters({}, ["a"]), []);
  });
});

void describe("StateWaiters", () => {
  void test("resolves true when a change makes the condition hold, false after the timeout", async () => {
    const w = new StateWaiters();
    let held = false;
    const pending = w.waitFor(() => held, 5_000);
    w.changed();
    held = true;
    w.changed();
    assert.equal(await pending, true);
    assert.equal(await w.waitFor(() => false, 20), false);
    assert.equal(await w.waitFor(() => true, 20), true);
  });
});
