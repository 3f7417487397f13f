// Child-process helpers for the test harness: run a command and capture its
// output, start a long-running daemon that dies with us, stop it. Does I/O.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

/** Outcome of {@link runCommand}. */
export interface CommandResult {
  /** Exit code; null when the process was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCommand}. */
export interface RunOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Throw when the command does not exit 0 (default true). */
  check?: boolean;
  /** SIGKILL the command after this long (default: no limit). */
  timeoutMs?: number;
}

/** Thrown by {@link runCommand} when a checked command fails. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    const how = result.code === null ? `was killed by ${result.signal ?? "a signal"}` : `exited ${result.code}`;
    const out = [result.stderr.trim(), result.stdout.trim()].filter((s) => s !== "").join("\n");
    super(`${command} ${how}${out ? `:\n${tail(out, 40)}` : ""}`);
    this.name = "CommandError";
  }
}

/** Shell-like rendering of a command line, for messages only. */
export function formatCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
}

/** Last `lines` lines of a text. */
export function tail(text: string, lines: number): string {
  const all = text.split("\n");
  if (all.length > 0 && all[all.length - 1] === "") all.pop();
  return all.slice(-lines).join("\n");
}

/** Last `lines` lines of a file, or a note that it cannot be read. */
export function tailFile(path: string, lines = 40): string {
  try {
    return tail(readFileSync(path, "utf8"), lines);
  } catch (err) {
    return `(cannot read ${path}: ${(err as Error).message})`;
  }
}

/** Runs a command to completion and captures stdout and stderr. */
export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${formatCommand(cmd, args)}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = { code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
      if ((opts.check ?? true) && code !== 0) reject(new CommandError(formatCommand(cmd, args), result));
      else resolve(result);
    });
    child.stdin.on("error", () => undefined); // the command may exit before reading its input
    child.stdin.end(opts.input ?? "");
  });
}

/** Synchronous {@link runCommand} for exit handlers; never throws, returns the exit code (-1 on spawn failure). */
export function runCommandSync(cmd: string, args: readonly string[]): number {
  const res = spawnSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
  return res.status ?? -1;
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined when it is gone. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); field 22 is fields[19].
    if (fields[0] === "Z") return undefined;
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** A process identity that survives pid reuse: pid plus start time. */
export interface ProcessRef {
  pid: number;
  startTime: number;
}

/** Identity of a running process, or undefined when it is gone. */
export function processRef(pid: number): ProcessRef | undefined {
  const startTime = processStartTime(pid);
  return startTime === undefined ? undefined : { pid, startTime };
}

/** Whether the process `ref` names is still the one running under its pid. */
export function isAlive(ref: ProcessRef): boolean {
  return processStartTime(ref.pid) === ref.startTime;
}

/** Sends `signal` to the process `ref` names, if it is still that process. */
export function signalProcess(ref: ProcessRef, signal: NodeJS.Signals): void {
  if (!isAlive(ref)) return;
  try {
    process.kill(ref.pid, signal);
  } catch {
    // gone in between
  }
}

/** Options of {@link startDaemon}. */
export interface DaemonOptions {
  /** File that receives stdout and stderr (appended). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a long-running process whose output goes to a log file. The process
 * gets SIGKILL from the kernel when this process dies (setpriv --pdeathsig),
 * so even a SIGKILLed test run leaves no daemon behind. It does not keep
 * this process alive (unref); stopChild re-references it while it waits.
 */
export function startDaemon(cmd: string, args: readonly string[], opts: DaemonOptions): ChildProcess {
  const fd = openSync(opts.logFile, "a");
  try {
    const spawnOpts: SpawnOptions = { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", fd, fd] };
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", cmd, ...args], spawnOpts);
    // A forgotten stop() must not keep the test process alive; the exit handlers end the daemon.
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Resolves when `child` has exited (at once if it already has). */
export function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref();
  const exited = waitForExit(child);
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Blocks the thread for `ms` milliseconds (exit handlers cannot await). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
