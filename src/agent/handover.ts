// Planned handover: the node's MASTER instances pass their VIPs to a BACKUP
// before keepalived stops (agent SIGTERM) or while the node is cordoned or
// excluded, with no moment where no node holds the address. I/O (signals to
// keepalived's VRRP process, timers). See docs/adr/0018.
import { promises as fsp } from "node:fs";
import { realClock, type Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { InstanceStates } from "./notify.js";

/** Time keepalived gets to read the handover track file (inotify) before its VRRP process is paused. */
export const HANDOVER_SETTLE_MS = 200;
/** Margin on top of the BACKUPs' master-down interval while the VRRP process is paused. */
const PAUSE_MARGIN_MS = 100;
/** Advert interval assumed for an instance whose interval is not known. */
const DEFAULT_ADVERT_MS = 1000;

/** What a handover needs from the agent. */
export interface HandoverPorts {
  /** The vrrp_instance names that are MASTER on this node now (from the notify FIFO). */
  masters(): string[];
  /** vrrp_instance name -> advert interval (ms). */
  advertIntervals(): ReadonlyMap<string, number>;
  /** Whether another node takes part in the instance (else nobody can take over). */
  hasPeers(instance: string): boolean;
  /** keepalived's VRRP process, when it runs. */
  vrrpPid(): Promise<number | undefined>;
  /** Removes the addresses of these instances from their interfaces (the VRRP process that held them is gone) and records them FAULT until the new process reports. */
  release(instances: readonly string[]): Promise<void>;
  /** Resolves true once `done()` holds (checked on every VRRP state change), false after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs: number): Promise<boolean>;
  sleep(ms: number): Promise<void>;
  logger: Logger;
  /** Epoch ms (the agent's clock). Default the real clock. */
  now?(): number;
}

/** How a handover went. */
export interface HandoverResult {
  /** The instances that were MASTER when it began. */
  masters: string[];
  /** Those still MASTER at its end (no BACKUP took over in time, or none exists). */
  stillMaster: string[];
  /** How long keepalived's VRRP process was paused (ms). */
  pausedMs: number;
  /** Whether the paused process was ended and its addresses released (else it was continued). */
  restarted: boolean;
}

/**
 * How long the VRRP process stays paused: long enough for the BACKUP of every
 * instance to miss three adverts plus its skew time (< one interval), that is
 * its master-down interval, so it becomes MASTER while this node still holds
 * the address. Within `budgetMs`.
 */
export function planPauseMs(masters: readonly string[], intervals: ReadonlyMap<string, number>, budgetMs: number): number {
  return Math.max(0, Math.min(fullPauseMs(masters, intervals), budgetMs));
}

function fullPauseMs(masters: readonly string[], intervals: ReadonlyMap<string, number>): number {
  const longest = Math.max(0, ...masters.map((m) => intervals.get(m) ?? DEFAULT_ADVERT_MS));
  return 4 * longest + PAUSE_MARGIN_MS;
}

/**
 * Hands this node's MASTER instances over. The caller has set the handover
 * track file already (every instance at priority 1). That alone moves a VIP
 * only where the BACKUP preempts: a `nopreempt` BACKUP accepts lower-priority
 * adverts and never takes over, and a stop (priority-0 advert) would leave the
 * address unheld for the BACKUP's skew time. So the VRRP process is paused
 * (SIGSTOP): adverts stop while the address stays on the interface and keeps
 * answering; the best BACKUP's master-down timer fires, it takes the address
 * and sends gratuitous ARP. Then the paused process is ended (SIGKILL) and its
 * addresses removed: continued, it would first run the timers that fell due
 * while it was paused, and a gratuitous ARP among them (the second set after
 * becoming MASTER, the refresh) would draw the clients back to an address it
 * is about to drop. keepalived's parent starts a new VRRP process, which
 * comes up BACKUP at priority 1. When the budget cuts the pause short, the
 * process is continued instead (the BACKUP may not have taken over yet), and
 * so it is when an instance has no other node.
 * Bounded by `budgetMs`.
 */
export async function handOver(ports: HandoverPorts, budgetMs: number): Promise<HandoverResult> {
  const clockNow = (): number => (ports.now ? ports.now() : realClock.now());
  const started = clockNow();
  await ports.sleep(Math.min(HANDOVER_SETTLE_MS, budgetMs));
  const masters = ports.masters();
  if (masters.length === 0) return { masters, stillMaster: [], pausedMs: 0, restarted: false };
  const intervals = ports.advertIntervals();
  const pid = await ports.vrrpPid();
  let pausedMs = 0;
  let restarted = false;
  if (pid !== undefined) {
    const pause = planPauseMs(masters, intervals, budgetMs - (clockNow() - started));
    // End the process only when each MASTER had a BACKUP that could take over during a full pause.
    const full = pause >= fullPauseMs(masters, intervals) && masters.every((m) => ports.hasPeers(m));
    ports.logger.info("Pausing VRRP adverts for the handover", { instances: masters, pauseMs: pause, pid });
    const from = clockNow();
    let paused = false;
    try {
      process.kill(pid, "SIGSTOP");
      paused = true;
      await ports.sleep(pause);
      if (full) {
        process.kill(pid, "SIGKILL");
        restarted = true;
      }
    } catch (err) {
      ports.logger.warn("Failed to pause or end the VRRP process", { pid, error: err instanceof Error ? err.message : String(err) });
    } finally {
      if (paused && !restarted) {
        try {
          process.kill(pid, "SIGCONT");
        } catch {
          // Gone meanwhile: nothing to continue.
        }
      }
      pausedMs = clockNow() - from;
    }
    if (restarted) await ports.release(masters);
  }
  const left = Math.max(0, budgetMs - (clockNow() - started));
  const longest = Math.max(DEFAULT_ADVERT_MS, ...masters.map((m) => intervals.get(m) ?? DEFAULT_ADVERT_MS));
  const isMaster = (): string[] => {
    const now = new Set(ports.masters());
    return masters.filter((m) => now.has(m));
  };
  await ports.waitFor(() => isMaster().length === 0, Math.min(left, 2 * longest));
  return { masters, stillMaster: isMaster(), pausedMs, restarted };
}

/**
 * Of the instances the ended VRRP process was MASTER of, those still reported
 * MASTER: the ones to record FAULT until keepalived's new VRRP process reports
 * them. Any other state came from the new process already (keepalived starts
 * it within milliseconds the first time, often before the agent has removed
 * the addresses): recording FAULT over it would stick until its next transition.
 */
export function endedMasters(states: InstanceStates, instances: readonly string[]): string[] {
  return instances.filter((i) => states[i]?.state === "MASTER");
}

/** keepalived's VRRP process from its pid file, if it runs and is keepalived. */
export async function readVrrpPid(pidFile: string): Promise<number | undefined> {
  const text = await fsp.readFile(pidFile, "utf8").catch(() => "");
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const comm = await fsp.readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
  return comm.trim().startsWith("keepalived") ? pid : undefined;
}

/** Waits for a condition on the VRRP states, checked whenever they change. */
export class StateWaiters {
  private readonly waiters = new Set<() => void>();

  constructor(private readonly clock: Clock = realClock) {}

  /** The states changed: checks every waiting condition. */
  changed(): void {
    for (const check of [...this.waiters]) check();
  }

  /** Resolves true once `done()` holds, false after `timeoutMs`. */
  waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (done()) return resolve(true);
      const finish = (ok: boolean): void => {
        timer.cancel();
        this.waiters.delete(check);
        resolve(ok);
      };
      const check = (): void => {
        if (done()) finish(true);
      };
      const timer = this.clock.setTimer(() => finish(false), timeoutMs);
      this.waiters.add(check);
    });
  }
}
