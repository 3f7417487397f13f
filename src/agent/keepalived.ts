// keepalived as a child process of the agent: start, reload (SIGHUP), stop
// (SIGTERM), restart with backoff after an unexpected exit, and removal of
// stale keepalived processes. I/O (processes, signals, pid files).
import { spawn, type ChildProcess } from "node:child_process";
import { promises as fsp, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { realClock, sleep, type Clock, type Timer } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { RuntimePaths } from "./runtime.js";

/**
 * The keepalived command line (after the binary). Both the VRRP and the
 * checker subsystems always run (`--all`), so that a reload that adds the
 * first virtual_server needs no restart (a restart would fail the VIPs over);
 * an idle checker costs one sleeping process. BFD is never used (`--no_bfd`).
 */
export function keepalivedArgs(paths: RuntimePaths): string[] {
  return [
    "--dont-fork",
    "--log-console",
    "--log-detail",
    "--all",
    "--no_bfd",
    "-f",
    paths.config,
    "-p",
    paths.pid,
    "-r",
    paths.vrrpPid,
    "-c",
    paths.checkersPid,
  ];
}

/** Strips keepalived's own timestamp ("Thu Nov 26 02:28:43 2026: ") from a console line. */
export function stripKeepalivedTimestamp(line: string): string {
  return line.replace(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}: /, "");
}

const NOTABLE =
  /Entering|removing VIPs|setting VIPs|Stopp|Starting|Reload|error|warn|fail|fault|exit|terminat|Unknown|Non-existent|permanent|priority|rlimit|Unable|cannot/i;

/** Whether a keepalived console line goes to the agent log at info (else debug). */
export function isNotableKeepalivedLine(line: string): boolean {
  return NOTABLE.test(line);
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** How long the process ran. */
  ranMs: number;
}

export interface SupervisorOptions {
  keepalivedPath: string;
  paths: RuntimePaths;
  logger: Logger;
  clock: Clock;
  /** Called after an unexpected exit, once stale children are gone and before the backoff wait. */
  onUnexpectedExit(info: ExitInfo): Promise<void>;
  /** Called when a new keepalived process was spawned. */
  onStarted?(pid: number): void;
  /** Called just before each spawn, once stale keepalived processes are gone (e.g. to snapshot the interfaces). */
  beforeStart?(): Promise<void>;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** A run at least this long resets the backoff. Default 30 s. */
  stableAfterMs?: number;
  /**
   * How long a reload waits for a just-started keepalived to announce its
   * VRRP and checker child processes before it sends SIGHUP anyway. Default 5 s.
   */
  readyTimeoutMs?: number;
  /** Starts the process (tests pass a fake child). Default: node:child_process spawn, stdout and stderr piped. */
  spawn?(path: string, args: string[]): ChildProcess;
}

function spawnKeepalived(path: string, args: string[]): ChildProcess {
  return spawn(path, args, { stdio: ["ignore", "pipe", "pipe"] });
}

/** The console line keepalived's parent prints when it has forked a child process (VRRP or checker). */
const CHILD_STARTED = /^Starting (VRRP|Healthcheck) child process, pid=\d+/;

/**
 * When a just-started keepalived can take a reload. A SIGHUP that reaches
 * keepalived before it has forked its child processes is lost: the children
 * start from the config the parent read at start. So a reload waits until
 * both children are announced (--all starts both), the timeout passes, or
 * the process exits.
 */
class StartupGate {
  readonly ready: Promise<void>;
  private open = false;
  private release: () => void = () => undefined;
  private readonly children = new Set<string>();
  private timer?: Timer;

  constructor(clock: Clock, timeoutMs: number) {
    this.ready = new Promise((resolve) => (this.release = resolve));
    this.timer = clock.setTimer(() => this.openNow(), timeoutMs);
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Looks at one console line (timestamp stripped). */
  onLine(line: string): void {
    const m = CHILD_STARTED.exec(line);
    if (!m?.[1]) return;
    this.children.add(m[1]);
    if (this.children.size >= 2) this.openNow();
  }

  openNow(): void {
    if (this.open) return;
    this.open = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.release();
  }
}

/** What the supervisor is doing. */
export type SupervisorPhase = "idle" | "running" | "backoff" | "stopping" | "stopped";

/** Whether `pid` runs; a zombie (killed, not yet reaped by its new parent) does not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function isKeepalived(pid: number): Promise<boolean> {
  const comm = await fsp.readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
  return comm.trim() === "keepalived";
}

/**
 * Stops keepalived processes named by the pid files that are not `except`
 * (leftovers of a previous agent, or children of a parent that died):
 * SIGTERM, then SIGKILL after `graceMs`.
 */
export async function killStaleKeepalived(paths: RuntimePaths, opts: { logger: Logger; except?: number; graceMs?: number; clock?: Clock }): Promise<number[]> {
  const clock = opts.clock ?? realClock;
  const pids: number[] = [];
  for (const file of [paths.pid, paths.vrrpPid, paths.checkersPid]) {
    const text = await fsp.readFile(file, "utf8").catch(() => "");
    const pid = Number.parseInt(text.trim(), 10);
    if (Number.isInteger(pid) && pid > 1 && pid !== opts.except && pid !== process.pid && alive(pid) && (await isKeepalived(pid))) pids.push(pid);
  }
  if (pids.length === 0) return [];
  opts.logger.warn("Stopping stale keepalived processes", { pids });
  for (const pid of pids) process.kill(pid, "SIGTERM");
  const deadline = clock.now() + (opts.graceMs ?? 2000);
  while (pids.some(alive) && clock.now() < deadline) await sleep(clock, 50);
  for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL");
  while (pids.some(alive) && clock.now() < deadline + 2000) await sleep(clock, 50);
  return pids;
}

/** Runs keepalived as a child process and keeps it running. */
export class KeepalivedSupervisor {
  private child?: ChildProcess;
  private gate?: StartupGate;
  private startedAt = 0;
  private failures = 0;
  private restartTimer?: Timer;
  private currentPhase: SupervisorPhase = "idle";
  private exited?: Promise<void>;
  /** Number of restarts after unexpected exits. */
  restarts = 0;

  constructor(private readonly opts: SupervisorOptions) {}

  get phase(): SupervisorPhase {
    return this.currentPhase;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts keepalived unless it runs, waits for a restart, or was stopped. */
  async start(): Promise<void> {
    if (this.currentPhase !== "idle") return;
    await this.spawnNow();
  }

  /**
   * Makes keepalived read its config again: SIGHUP when it runs (once a
   * just-started keepalived has forked its children, see StartupGate), a
   * start when idle; during a backoff the coming restart reads the new file
   * anyway. Resolves to what was done.
   */
  async reload(): Promise<"reloaded" | "started" | "deferred"> {
    const child = this.child;
    const gate = this.gate;
    if (this.currentPhase === "running" && child?.pid && gate && !gate.isOpen) {
      this.opts.logger.debug("Waiting for keepalived to start its child processes before reloading", { pid: child.pid });
      await gate.ready;
    }
    if (this.currentPhase === "running" && this.child?.pid) {
      this.child.kill("SIGHUP");
      return "reloaded";
    }
    if (this.currentPhase === "idle") {
      await this.spawnNow();
      return "started";
    }
    return "deferred";
  }

  /**
   * SIGHUP to a running keepalived without a new config (it reopens its
   * notify FIFO on reload); false when none runs. Waits for a just-started
   * keepalived's children like {@link reload}.
   */
  async hangup(): Promise<boolean> {
    if (this.currentPhase !== "running") return false;
    await this.gate?.ready;
    if (this.currentPhase !== "running" || !this.child?.pid) return false;
    this.child.kill("SIGHUP");
    return true;
  }

  /** SIGTERM keepalived (it sends priority-0 adverts) and waits for it; SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.gate?.openNow();
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    const child = this.child;
    const exited = this.exited;
    this.currentPhase = "stopping";
    if (child && exited && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = this.opts.clock.setTimer(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      timer.cancel();
    }
    this.currentPhase = "stopped";
  }

  private async spawnNow(): Promise<void> {
    await killStaleKeepalived(this.opts.paths, { logger: this.opts.logger, clock: this.opts.clock });
    // keepalived refuses to start ("already running") while a pid file names a
    // live pid, and a killed child may linger as a zombie: the files go first.
    const { pid, vrrpPid, checkersPid } = this.opts.paths;
    await Promise.all([pid, vrrpPid, checkersPid].map((f) => fsp.rm(f, { force: true })));
    await this.opts.beforeStart?.();
    const args = keepalivedArgs(this.opts.paths);
    const child = (this.opts.spawn ?? spawnKeepalived)(this.opts.keepalivedPath, args);
    this.child = child;
    const gate = new StartupGate(this.opts.clock, this.opts.readyTimeoutMs ?? 5000);
    this.gate?.openNow();
    this.gate = gate;
    this.startedAt = this.opts.clock.now();
    this.currentPhase = "running";
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on("line", (raw) => {
        const line = stripKeepalivedTimestamp(raw);
        gate.onLine(line);
        if (isNotableKeepalivedLine(line)) this.opts.logger.info("keepalived", { line });
        else this.opts.logger.debug("keepalived", { line });
      });
    }
    this.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        this.opts.logger.error("Failed to run keepalived", { path: this.opts.keepalivedPath, error: err.message });
        // "exit" does not follow a spawn error.
        if (child.pid === undefined) {
          gate.openNow();
          void this.handleExit(child, { code: null, signal: null }).finally(resolve);
        }
      });
      child.once("exit", (code, signal) => {
        gate.openNow();
        void this.handleExit(child, { code, signal }).finally(resolve);
      });
    });
    if (child.pid !== undefined) {
      this.opts.logger.info("Started keepalived", { pid: child.pid, command: [this.opts.keepalivedPath, ...args].join(" ") });
      this.opts.onStarted?.(child.pid);
    }
  }

  private async handleExit(child: ChildProcess, how: { code: number | null; signal: NodeJS.Signals | null }): Promise<void> {
    if (this.child !== child) return;
    const ranMs = this.opts.clock.now() - this.startedAt;
    if (this.currentPhase === "stopping" || this.currentPhase === "stopped") {
      this.opts.logger.info("keepalived stopped", { code: how.code, signal: how.signal });
      return;
    }
    this.currentPhase = "backoff";
    this.opts.logger.error("keepalived exited unexpectedly", { code: how.code, signal: how.signal, ranMs });
    try {
      await killStaleKeepalived(this.opts.paths, { logger: this.opts.logger, clock: this.opts.clock });
      await this.opts.onUnexpectedExit({ ...how, ranMs });
    } catch (err) {
      this.opts.logger.error("Failed to clean up after keepalived exit", { error: err instanceof Error ? err.message : String(err) });
    }
    if (this.currentPhase !== "backoff") return;
    if (ranMs >= (this.opts.stableAfterMs ?? 30_000)) this.failures = 0;
    const wait = Math.min((this.opts.backoffInitialMs ?? 200) * 2 ** this.failures, this.opts.backoffMaxMs ?? 10_000);
    this.failures++;
    this.opts.logger.info("Restarting keepalived after backoff", { delayMs: wait });
    this.restartTimer = this.opts.clock.setTimer(() => {
      this.restartTimer = undefined;
      if (this.currentPhase !== "backoff") return;
      this.restarts++;
      this.spawnNow().catch((err: unknown) =>
        this.opts.logger.error("Failed to restart keepalived", { error: err instanceof Error ? err.message : String(err) }),
      );
    }, wait);
  }
}
