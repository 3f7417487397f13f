// The project's container image for tests: built with podman (hack/image/),
// and agent containers run from it inside a node's network namespace. Does I/O.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { registerCleanup } from "./cleanup.js";
import { REPO_ROOT } from "./k8sbins.js";
import { runCommand, runCommandSync, type CommandResult } from "./process.js";
import { RUN_STATE_ROOT, currentRun } from "./runstate.js";

/** Image the tests build and run (KVO_IMAGE overrides it). */
export const IMAGE_REF = process.env.KVO_IMAGE ?? "localhost/keepalived-vip-operator:dev";
/** Label on every container a test run starts: the run id, for stale sweeps. */
export const CONTAINER_RUN_LABEL = "io.keepalived-vip.test-run";
/** Capabilities of the agent, exactly as the agent DaemonSet grants them. */
export const AGENT_CAPABILITIES = ["NET_ADMIN", "NET_RAW", "NET_BROADCAST", "SYS_NICE"] as const;
/** Runtime directory of the agent inside the container. */
export const AGENT_RUNTIME_DIR = "/run/keepalived-vip";

/**
 * podman flags every test container gets. `--runtime runc`: crun fails on
 * this host's cgroup v1 layout (hack/image/setup.sh also makes runc the
 * default, together with `default_ulimits = []`).
 */
const BASE_RUN_FLAGS = ["--runtime", "runc", "--pull=never"] as const;

let built: Promise<string> | undefined;

/** Runs podman; throws with its output when it fails (unless check is false). */
export function podman(args: readonly string[], opts: { check?: boolean; timeoutMs?: number; input?: string } = {}): Promise<CommandResult> {
  return runCommand("podman", args, { check: opts.check ?? true, timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input });
}

/**
 * Builds the image with `hack/image/build.sh` (the local base image first,
 * when missing) once per process and resolves its reference. A warm build
 * reuses podman's layer cache and takes seconds; a cold one takes minutes.
 * With KVO_IMAGE_NO_BUILD=1 an existing image is used as is.
 * Fails (never skips) when podman is missing or the build fails.
 */
export function ensureImage(): Promise<string> {
  built ??= buildImage().catch((err: unknown) => {
    built = undefined;
    throw err;
  });
  return built;
}

async function buildImage(): Promise<string> {
  if (process.env.KVO_IMAGE_NO_BUILD === "1") {
    const exists = await podman(["image", "exists", IMAGE_REF], { check: false });
    if (exists.code === 0) return IMAGE_REF;
  }
  await runCommand(join(REPO_ROOT, "hack/image/setup.sh"), [], { cwd: REPO_ROOT, timeoutMs: 600_000 });
  await runCommand(join(REPO_ROOT, "hack/image/build.sh"), [], {
    cwd: REPO_ROOT,
    env: { ...process.env, IMAGE: IMAGE_REF },
    timeoutMs: 1_200_000,
  });
  return IMAGE_REF;
}

/** A file or directory of the host visible inside the container. */
export interface Mount {
  host: string;
  container: string;
  /** Default true. */
  readOnly?: boolean;
}

/** Options of {@link runAgentContainer}. */
export interface AgentContainerOptions {
  /** Short name, unique within the run (e.g. the node name); the container is `kvo-<run id>-<name>`. */
  name: string;
  /** Network namespace to join, e.g. NetNode.netnsPath (/run/netns/<name>). */
  netnsPath: string;
  /** Arguments after the entrypoint, e.g. ["agent", "--node-name=node-a", ...]. */
  args: readonly string[];
  /** Default: the entrypoint of the image (tini, then `node /app/dist/main.js`). */
  entrypoint?: string;
  env?: Record<string, string>;
  /** Host directory mounted read-write at /run/keepalived-vip (e.g. NetNode.runtimeDir). */
  runtimeDir?: string;
  mounts?: readonly Mount[];
  /** Default {@link IMAGE_REF} (call {@link ensureImage} first). */
  image?: string;
}

/** A running container; removed at {@link AgentContainer.remove} or when the test process ends. */
export interface AgentContainer {
  /** Container name. */
  readonly name: string;
  /** Its stdout and stderr so far. */
  logs(): Promise<string>;
  /** Sends a signal to the container's main process (the agent). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Runs a command inside the running container. */
  exec(args: readonly string[], opts?: { check?: boolean }): Promise<CommandResult>;
  /** Whether the main process still runs. */
  running(): Promise<boolean>;
  /** Exit code of the main process, once it has exited. */
  exitCode(): Promise<number | undefined>;
  /** Stops (SIGTERM, SIGKILL after graceSeconds, default 5) and removes the container. */
  remove(graceSeconds?: number): Promise<void>;
}

/**
 * The podman arguments of an agent container: the same confinement as the
 * agent DaemonSet, which is not privileged:
 *   --network ns:<path>                  the node's network namespace (hostNetwork)
 *   --cap-drop all --cap-add NET_ADMIN,NET_RAW,NET_BROADCAST,SYS_NICE
 *   --user 0                             the image defaults to 65532 (the operator)
 *   --read-only                          read-only root; podman adds tmpfs /run and /tmp
 *   --security-opt no-new-privileges
 * Pure.
 */
export function agentRunArgs(opts: AgentContainerOptions, containerName: string, runId: string): string[] {
  const args = [
    "run",
    "--detach",
    ...BASE_RUN_FLAGS,
    "--name",
    containerName,
    "--label",
    `${CONTAINER_RUN_LABEL}=${runId}`,
    "--network",
    `ns:${opts.netnsPath}`,
    "--cap-drop",
    "all",
    "--cap-add",
    AGENT_CAPABILITIES.join(","),
    "--user",
    "0",
    "--read-only",
    "--security-opt",
    "no-new-privileges",
    "--log-driver",
    "k8s-file",
  ];
  if (opts.runtimeDir !== undefined) args.push("--volume", `${opts.runtimeDir}:${AGENT_RUNTIME_DIR}:rw`);
  for (const m of opts.mounts ?? []) args.push("--volume", `${m.host}:${m.container}:${m.readOnly === false ? "rw" : "ro"}`);
  for (const [k, v] of Object.entries(opts.env ?? {}).sort(([a], [b]) => a.localeCompare(b))) args.push("--env", `${k}=${v}`);
  if (opts.entrypoint !== undefined) args.push("--entrypoint", opts.entrypoint);
  args.push(opts.image ?? IMAGE_REF, ...opts.args);
  return args;
}

let swept = false;

/** Removes containers of earlier runs whose run state is gone (their owner died and was swept). */
async function sweepStaleContainers(): Promise<void> {
  if (swept) return;
  swept = true;
  const res = await podman(["ps", "--all", "--filter", `label=${CONTAINER_RUN_LABEL}`, "--format", `{{.Names}} {{index .Labels "${CONTAINER_RUN_LABEL}"}}`], {
    check: false,
  });
  const stale = res.stdout
    .split("\n")
    .map((l) => l.trim().split(" "))
    .filter(([name, runId]) => name && runId && !existsSync(join(RUN_STATE_ROOT, runId)))
    .map(([name]) => name as string);
  if (stale.length > 0) await podman(["rm", "--force", "--time", "0", ...stale], { check: false });
}

/**
 * Starts an agent container from the image inside a node's network
 * namespace (see {@link agentRunArgs} for the podman flags) and resolves
 * once podman has started it. Removed when the test process ends, also on
 * failure.
 */
export async function runAgentContainer(opts: AgentContainerOptions): Promise<AgentContainer> {
  await sweepStaleContainers();
  const run = currentRun();
  const name = `kvo-${run.runId}-${opts.name}`;
  const release = registerCleanup(() => {
    runCommandSync("podman", ["rm", "--force", "--time", "0", name]);
  });
  try {
    await podman(agentRunArgs(opts, name, run.runId));
  } catch (err) {
    runCommandSync("podman", ["rm", "--force", "--time", "0", name]);
    release();
    throw err;
  }
  const inspect = async (format: string): Promise<string> => (await podman(["inspect", "--format", format, name])).stdout.trim();
  return {
    name,
    logs: async () => {
      const res = await podman(["logs", name], { check: false });
      return res.stdout + res.stderr;
    },
    kill: async (signal = "SIGKILL") => {
      await podman(["kill", "--signal", signal, name]);
    },
    exec: (args, eopts = {}) => podman(["exec", name, ...args], { check: eopts.check ?? true }),
    running: async () => (await inspect("{{.State.Running}}")) === "true",
    exitCode: async () => {
      const [running, code] = (await inspect("{{.State.Running}} {{.State.ExitCode}}")).split(" ");
      return running === "true" ? undefined : Number(code);
    },
    remove: async (graceSeconds = 5) => {
      await podman(["rm", "--force", "--time", String(graceSeconds), name], { check: false });
      release();
    },
  };
}
