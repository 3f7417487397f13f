// Records what a test run created on the host (network namespaces, links,
// daemons, directories) under /run/keepalived-vip-tests/<run-id>/, and sweeps
// what runs whose owning process died left behind. Does I/O.
import { randomInt } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerCleanup } from "./cleanup.js";
import { isAlive, processRef, runCommandSync, signalProcess, sleepSync, type ProcessRef } from "./process.js";

/** Directory that holds one subdirectory per live (or stale) test run (root: under /run; others: under the temp dir). */
export const RUN_STATE_ROOT =
  process.env.KVO_TEST_RUN_ROOT ??
  (process.getuid?.() === 0 ? "/run/keepalived-vip-tests" : join(tmpdir(), `keepalived-vip-tests-${process.getuid?.() ?? "user"}`));
/** Prefix of every network namespace and link name a run creates. */
export const NAME_PREFIX = "kvo";
/** Length of a run id: 5 base-36 digits of the pid, 2 random ones. */
const RUN_ID_LENGTH = 7;
const RECORD_FILE = "run.json";

/** What one run has created and must remove. */
export interface RunRecord {
  runId: string;
  owner: ProcessRef;
  netns: string[];
  links: string[];
  processes: ProcessRef[];
  dirs: string[];
}

type ListKind = "netns" | "links" | "dirs";

/** The current process's run: its id, state directory and record. */
export interface Run {
  readonly runId: string;
  /** /run/keepalived-vip-tests/<run-id>: per-run files may live here (removed with the run). */
  readonly dir: string;
  add(kind: ListKind, value: string): void;
  remove(kind: ListKind, value: string): void;
  addProcess(ref: ProcessRef): void;
  removeProcess(pid: number): void;
}

let current: Run | undefined;

function newRunId(): string {
  const rand = randomInt(36 * 36)
    .toString(36)
    .padStart(2, "0");
  return process.pid.toString(36).padStart(5, "0").slice(-5) + rand;
}

function writeRecord(dir: string, record: RunRecord): void {
  const tmp = join(dir, `.${RECORD_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(record, null, 2) + "\n");
  renameSync(tmp, join(dir, RECORD_FILE));
}

function readRecord(dir: string): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD_FILE), "utf8")) as RunRecord;
  } catch {
    return undefined;
  }
}

/** The run of this process, created (and recorded) on first use. */
export function currentRun(): Run {
  if (current) return current;
  const owner = processRef(process.pid);
  if (!owner) throw new Error("cannot read this process's start time from /proc");
  const runId = newRunId();
  const dir = join(RUN_STATE_ROOT, runId);
  mkdirSync(dir, { recursive: true });
  const record: RunRecord = { runId, owner, netns: [], links: [], processes: [], dirs: [] };
  writeRecord(dir, record);
  const save = (): void => writeRecord(dir, record);
  current = {
    runId,
    dir,
    add(kind, value) {
      if (!record[kind].includes(value)) record[kind].push(value);
      save();
    },
    remove(kind, value) {
      record[kind] = record[kind].filter((v) => v !== value);
      save();
    },
    addProcess(ref) {
      record.processes.push(ref);
      save();
    },
    removeProcess(pid) {
      record.processes = record.processes.filter((p) => p.pid !== pid);
      save();
    },
  };
  // Registered first, so it runs after every other cleanup: removes what is left, then the directory.
  registerCleanup(() => {
    if (releaseRunSync(record)) rmSync(dir, { recursive: true, force: true });
  });
  return current;
}

/** Kills every process in a network namespace and waits (up to 5 s) until none is left. */
export function killNetnsProcessesSync(netns: string): void {
  for (let i = 0; i < 50; i++) {
    const pids = listNetnsPids(netns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    sleepSync(100);
  }
}

function listNetnsPids(netns: string): number[] {
  const nsPath = `/run/netns/${netns}`;
  if (!existsSync(nsPath)) return [];
  let nsIno: number;
  try {
    nsIno = statSync(nsPath).ino;
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (statSync(`/proc/${name}/ns/net`).ino === nsIno) pids.push(Number(name));
    } catch {
      // process ended while listing
    }
  }
  return pids.filter((p) => p !== process.pid);
}

/** Processes (pids) whose network namespace is the named one. */
export function netnsPids(netns: string): number[] {
  return listNetnsPids(netns);
}

/**
 * Removes everything a run record lists: processes (only if still the same
 * process), processes inside its namespaces, the namespaces, links and
 * directories. Returns true when nothing listed is left.
 */
export function releaseRunSync(record: RunRecord): boolean {
  for (const ref of record.processes) signalProcess(ref, "SIGKILL");
  for (let i = 0; i < 50 && record.processes.some((p) => p.pid !== process.pid && isAlive(p)); i++) sleepSync(20);
  for (const ns of record.netns) killNetnsProcessesSync(ns);
  for (const ns of record.netns) if (existsSync(`/run/netns/${ns}`)) runCommandSync("ip", ["netns", "delete", ns]);
  for (const link of record.links) if (linkExists(link)) runCommandSync("ip", ["link", "delete", link]);
  for (const dir of record.dirs) rmSync(dir, { recursive: true, force: true });
  const leftNs = record.netns.filter((ns) => existsSync(`/run/netns/${ns}`));
  const leftLinks = record.links.filter(linkExists);
  const leftProcs = record.processes.filter((p) => p.pid !== process.pid && isAlive(p));
  return leftNs.length === 0 && leftLinks.length === 0 && leftProcs.length === 0;
}

/** Mounted cgroup hierarchies (v1 controllers, name=systemd, the unified one; or the one v2 root), each once. */
export function cgroupHierarchies(): string[] {
  const root = "/sys/fs/cgroup";
  if (existsSync(join(root, "cgroup.controllers"))) return [root];
  const seen = new Set<string>();
  try {
    for (const name of readdirSync(root)) {
      try {
        const real = realpathSync(join(root, name));
        if (statSync(real).isDirectory() && existsSync(join(real, "cgroup.procs"))) seen.add(real);
      } catch {
        // not a hierarchy
      }
    }
  } catch {
    return [];
  }
  return [...seen];
}

function cgroupDirsBottomUp(dir: string): string[] {
  const out: string[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return out;
  }
  for (const e of entries) out.push(...cgroupDirsBottomUp(join(dir, e)));
  out.push(dir);
  return out;
}

function cgroupPids(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) {
    try {
      for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (l.trim() !== "") pids.add(Number(l));
    } catch {
      // removed meanwhile
    }
  }
  pids.delete(process.pid);
  return [...pids];
}

/**
 * Kills every process in the top-level cgroup `name` (and below) of every
 * hierarchy, waits (up to 5 s) until none is left, then removes the cgroups
 * bottom-up. Returns true when none is left.
 */
export function removeCgroupTreeSync(name: string): boolean {
  const tops = cgroupHierarchies()
    .map((h) => join(h, name))
    .filter((d) => existsSync(d));
  for (let i = 0; i < 50; i++) {
    const pids = cgroupPids(tops.flatMap(cgroupDirsBottomUp));
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    sleepSync(100);
  }
  for (const top of tops) {
    for (const d of cgroupDirsBottomUp(top)) {
      try {
        rmdirSync(d);
      } catch {
        // still busy: reported below
      }
    }
  }
  return tops.every((d) => !existsSync(d));
}

function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** What {@link sweepStaleRuns} removed. */
export interface SweepReport {
  runs: string[];
  netns: string[];
  links: string[];
  processes: number[];
}

function isLiveRun(runId: string): boolean {
  if (current?.runId === runId) return true;
  const record = readRecord(join(RUN_STATE_ROOT, runId));
  return record !== undefined && isAlive(record.owner);
}

/** Run id encoded in a namespace or link name this harness created, if it is one. */
export function runIdOfName(name: string): string | undefined {
  const m = new RegExp(`^${NAME_PREFIX}([0-9a-z]{${RUN_ID_LENGTH}})`).exec(name);
  return m?.[1];
}

function listNetns(): string[] {
  try {
    return readdirSync("/run/netns");
  } catch {
    return [];
  }
}

/**
 * Removes what test runs whose owning process is dead left behind: their
 * recorded daemons, namespaces, links, directories and state directory, and
 * any namespace or link named by this harness whose run is not alive.
 */
export function sweepStaleRuns(): SweepReport {
  const report: SweepReport = { runs: [], netns: [], links: [], processes: [] };
  let runDirs: string[] = [];
  try {
    runDirs = readdirSync(RUN_STATE_ROOT);
  } catch {
    runDirs = [];
  }
  for (const runId of runDirs) {
    const dir = join(RUN_STATE_ROOT, runId);
    if (isLiveRun(runId)) continue;
    const record = readRecord(dir);
    if (!record) {
      // Created but not yet written: leave a young one alone.
      const young = Date.now() - statSync(dir).mtimeMs < 60_000;
      if (!young) rmSync(dir, { recursive: true, force: true });
      continue;
    }
    report.processes.push(...record.processes.filter(isAlive).map((p) => p.pid));
    report.netns.push(...record.netns.filter((ns) => existsSync(`/run/netns/${ns}`)));
    report.links.push(...record.links.filter(linkExists));
    if (releaseRunSync(record)) {
      rmSync(dir, { recursive: true, force: true });
      report.runs.push(runId);
    }
  }
  for (const ns of listNetns()) {
    const runId = runIdOfName(ns);
    if (runId === undefined || isLiveRun(runId)) continue;
    killNetnsProcessesSync(ns);
    runCommandSync("ip", ["netns", "delete", ns]);
    report.netns.push(ns);
  }
  // Kubelet-node clusters: a top-level cgroup per node, named like its namespace.
  for (const h of cgroupHierarchies()) {
    let names: string[] = [];
    try {
      names = readdirSync(h);
    } catch {
      names = [];
    }
    for (const name of names) {
      const runId = runIdOfName(name);
      if (runId === undefined || isLiveRun(runId) || !statSync(join(h, name)).isDirectory()) continue;
      removeCgroupTreeSync(name);
    }
  }
  for (const link of readdirSync("/sys/class/net")) {
    const runId = runIdOfName(link);
    if (runId === undefined || isLiveRun(runId)) continue;
    runCommandSync("ip", ["link", "delete", link]);
    report.links.push(link);
  }
  return report;
}
