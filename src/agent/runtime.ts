// The agent's runtime directory: the live keepalived.conf, instances.json and
// accepted.json (the last good config and the parts it was assembled from,
// kept across agent restarts), the candidate under test, pid files, the
// notify FIFO and the addresses keepalived added. I/O (files, keepalived --config-test).
import { execFile } from "node:child_process";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import { CONFIG_FILE_NAME, INSTANCES_FILE_NAME, NOTIFY_FIFO_NAME, type NodeInstanceMap } from "../api/index.js";
import { parseParts, serializeParts, type InstancePart, type InstanceParts } from "./isolate.js";
import { IPVS_PROC_FILE, judgeConfigTest, judgeKernelSupport, parseInstanceMap, type ConfigTestVerdict, type RunningConfig } from "./config.js";

/** Paths inside a runtime directory. */
export interface RuntimePaths {
  dir: string;
  config: string;
  instances: string;
  /** The instance parts of the live config (isolate.ts), with their last good versions. */
  accepted: string;
  candidate: string;
  /** The interface addresses before keepalived last started (leftovers.ts). */
  addressSnapshot: string;
  testLog: string;
  fifo: string;
  pid: string;
  vrrpPid: string;
  checkersPid: string;
}

/** The file names the agent uses in `dir`. */
export function runtimePaths(dir: string): RuntimePaths {
  return {
    dir,
    config: join(dir, CONFIG_FILE_NAME),
    instances: join(dir, INSTANCES_FILE_NAME),
    accepted: join(dir, "accepted.json"),
    candidate: join(dir, `${CONFIG_FILE_NAME}.candidate`),
    addressSnapshot: join(dir, "addresses-before-keepalived.json"),
    testLog: join(dir, "config-test.log"),
    fifo: join(dir, NOTIFY_FIFO_NAME),
    pid: join(dir, "keepalived.pid"),
    vrrpPid: join(dir, "vrrp.pid"),
    checkersPid: join(dir, "checkers.pid"),
  };
}

/** Creates the directory (0700: the config may carry a VRRP password). */
export async function ensureRuntimeDir(paths: RuntimePaths): Promise<void> {
  await fsp.mkdir(paths.dir, { recursive: true, mode: 0o700 });
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Reads the installed config and instance map; an unreadable map counts as missing. */
export async function readRunningConfig(paths: RuntimePaths): Promise<RunningConfig> {
  const config = await readText(paths.config);
  const text = await readText(paths.instances);
  const parsed = text === undefined ? undefined : parseInstanceMap(text);
  return { config, instances: parsed?.ok ? parsed.value : undefined };
}

/** Reads the parts of the installed config (empty when missing or unreadable). */
export async function readAcceptedParts(paths: RuntimePaths): Promise<Map<string, InstancePart>> {
  return parseParts(await readText(paths.accepted));
}

/** Writes a file atomically: temp file in the same directory, fsync, rename. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await fsp.open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, path);
}

export interface ConfigTestOptions {
  keepalivedPath: string;
  /** Kills the test after this long. Default 30 s. */
  timeoutMs?: number;
  /** Whether the kernel has IPVS. Default: {@link ipvsAvailable}. */
  ipvsAvailable?: () => Promise<boolean>;
}

/** Whether this node's kernel has IPVS (the ip_vs module is loaded or built in). */
export async function ipvsAvailable(): Promise<boolean> {
  try {
    await fsp.access(IPVS_PROC_FILE);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `config` as the candidate file and runs the real
 * `keepalived --config-test=<log> -f <candidate>` on it.
 */
export async function testCandidateConfig(paths: RuntimePaths, config: string, opts: ConfigTestOptions): Promise<ConfigTestVerdict> {
  await writeAtomic(paths.candidate, config);
  await fsp.rm(paths.testLog, { force: true });
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    execFile(
      opts.keepalivedPath,
      [`--config-test=${paths.testLog}`, "-f", paths.candidate],
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 4 * 1024 * 1024 },
      (err, _stdout, stderr) => {
        const c = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code: c, stderr: err && typeof err.code === "string" ? `${err.message}\n${stderr}` : stderr });
      },
    );
  });
  const log = (await readText(paths.testLog)) ?? "";
  const verdict = judgeConfigTest(code, `${log}\n${stderr}`);
  if (!verdict.ok) return verdict;
  return judgeKernelSupport(config, await (opts.ipvsAvailable ?? ipvsAvailable)());
}

/** Installs a tested config as the live one, with its instance map and the parts it was assembled from. */
export async function installConfig(paths: RuntimePaths, installed: { config: string; instances: NodeInstanceMap; parts: InstanceParts }): Promise<void> {
  await writeAtomic(`${paths.instances}.next`, `${JSON.stringify(installed.instances, null, 2)}\n`);
  await writeAtomic(`${paths.accepted}.next`, serializeParts(installed.parts));
  await writeAtomic(paths.config, installed.config);
  await fsp.rename(`${paths.instances}.next`, paths.instances);
  await fsp.rename(`${paths.accepted}.next`, paths.accepted);
}

/** Replaces only the instance map and the parts (the config bytes are unchanged). */
export async function installInstances(paths: RuntimePaths, installed: { instances: NodeInstanceMap; parts: InstanceParts }): Promise<void> {
  await writeAtomic(paths.instances, `${JSON.stringify(installed.instances, null, 2)}\n`);
  await writeAtomic(paths.accepted, serializeParts(installed.parts));
}
