// The node config as the agent receives it (Secret data) and the decisions
// taken on it: parse, compare with the running config, judge --config-test. Pure.
import { createHash } from "node:crypto";
import { SECRET_KEY_CONFIG, SECRET_KEY_INSTANCES, formatIssues, nodeInstanceMapSchema, type NodeInstanceMap } from "../api/index.js";

/** A node's keepalived.conf and the instance map that goes with it. */
export interface NodeConfig {
  config: string;
  instances: NodeInstanceMap;
  /** sha256 hex of `config`. */
  hash: string;
}

/** sha256 hex of a config text (the same hash the operator puts on the Secret). */
export function hashConfig(config: string): string {
  return createHash("sha256").update(config, "utf8").digest("hex");
}

/** Parses the JSON text of instances.json. */
export function parseInstanceMap(text: string): { ok: true; value: NodeInstanceMap } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${SECRET_KEY_INSTANCES} is not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  const res = nodeInstanceMapSchema.safeParse(raw);
  return res.success ? { ok: true, value: res.data } : { ok: false, error: formatIssues(res.error, SECRET_KEY_INSTANCES) };
}

/**
 * Parses the base64 `data` of a node-config Secret. Errors name the key, never a value.
 * `node` must match the map's node (a Secret meant for another node is refused).
 */
export function parseNodeConfigSecret(
  data: Readonly<Record<string, string>> | undefined,
  node: string,
): { ok: true; value: NodeConfig } | { ok: false; error: string; instances?: NodeInstanceMap } {
  const b64config = data?.[SECRET_KEY_CONFIG];
  const b64instances = data?.[SECRET_KEY_INSTANCES];
  if (b64config === undefined) return { ok: false, error: `Secret has no ${SECRET_KEY_CONFIG} key` };
  if (b64instances === undefined) return { ok: false, error: `Secret has no ${SECRET_KEY_INSTANCES} key` };
  const config = Buffer.from(b64config, "base64").toString("utf8");
  const parsed = parseInstanceMap(Buffer.from(b64instances, "base64").toString("utf8"));
  if (!parsed.ok) return parsed;
  if (parsed.value.node !== node) {
    return { ok: false, error: `${SECRET_KEY_INSTANCES} is for node "${parsed.value.node}", not "${node}"`, instances: parsed.value };
  }
  return { ok: true, value: { config, instances: parsed.value, hash: hashConfig(config) } };
}

/** What the agent has installed in its runtime directory (undefined parts are missing). */
export interface RunningConfig {
  config?: string;
  instances?: NodeInstanceMap;
}

/** What to do with a candidate config. */
export type ConfigSyncPlan =
  /** Same bytes as running: no write, no reload. */
  | { action: "none" }
  /** Only instances.json differs: write it, no test and no reload. */
  | { action: "write-instances" }
  /** keepalived.conf differs: test, install, reload. */
  | { action: "apply" };

/** Compares a candidate with what runs now. */
export function planConfigSync(candidate: NodeConfig, running: RunningConfig): ConfigSyncPlan {
  if (running.config !== candidate.config) return { action: "apply" };
  if (JSON.stringify(running.instances) !== JSON.stringify(candidate.instances)) return { action: "write-instances" };
  return { action: "none" };
}

/** Verdict on a `keepalived --config-test` run. */
export interface ConfigTestVerdict {
  ok: boolean;
  /** Problem lines, paths and quoted values removed (quoted text may be a password). */
  problems: string[];
}

const FAILURE_LINE = /unknown keyword|error|invalid|not valid|outside range|non-existent|doesn't exist|must be/i;

/** Removes what may carry a secret or a host path from a keepalived message line. */
export function redactConfigTestLine(line: string): string {
  return line
    .replace(/\(([^():]*): Line (\d+)\)/g, "(Line $2)")
    .replace(/'[^']*'/g, "'…'")
    .replace(/"[^"]*"/g, '"…"')
    .trim();
}

/**
 * Judges a config test: a non-zero exit code or any line that reports an error
 * (keepalived before 2.2 exited 0 on unknown keywords) is a failure.
 */
export function judgeConfigTest(exitCode: number | null, output: string): ConfigTestVerdict {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const bad = lines.filter((l) => FAILURE_LINE.test(l));
  const ok = exitCode === 0 && bad.length === 0;
  const shown = bad.length > 0 ? bad : ok ? [] : lines.length > 0 ? lines : [`keepalived exited with code ${String(exitCode)}`];
  return { ok, problems: [...new Set(shown.map(redactConfigTestLine))] };
}

/** Where the kernel lists IPVS virtual services; missing when IPVS is not available. */
export const IPVS_PROC_FILE = "/proc/net/ip_vs";

/** Message of a config refused because the kernel has no IPVS. */
export const NO_IPVS_PROBLEM =
  `the config has IPVS virtual servers (forwarding: ipvs) but this node's kernel has no IPVS (${IPVS_PROC_FILE} is missing): load the ip_vs module on the node, or use forwarding: kube-proxy`;

/**
 * Judges what `keepalived --config-test` cannot see: a config with
 * `virtual_server` blocks passes the test on a kernel without IPVS, but
 * keepalived then exits at start with a fatal error, taking every VIP of the
 * node down with it. Such a config is refused like a failed test.
 */
export function judgeKernelSupport(config: string, ipvsAvailable: boolean): ConfigTestVerdict {
  const needsIpvs = /^\s*virtual_server\s/m.test(config);
  return needsIpvs && !ipvsAvailable ? { ok: false, problems: [NO_IPVS_PROBLEM] } : { ok: true, problems: [] };
}
