// The node config as the agent receives it (node.json of its node Secret,
// instance.json of each instance Secret) and the decisions taken on it:
// parse, compare with the running config, judge --config-test. Pure.
import {
  INSTANCES_FILE_NAME,
  SECRET_KEY_INSTANCE,
  SECRET_KEY_NODE,
  formatIssues,
  nodeInstanceMapSchema,
  publishedInstanceSchema,
  publishedNodeSchema,
  type NodeInstanceMap,
  type PublishedInstance,
  type PublishedNode,
} from "../api/index.js";
import type { AssembledConfig } from "../render/index.js";
import type { z } from "zod";

/** A node's keepalived.conf, its sha256 and the instance map that goes with it (as assembled). */
export type NodeConfig = AssembledConfig;

/** A parsed value, or why it could not be parsed (never quoting a value). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses JSON text with a schema; errors start with `what` and name fields, never values. */
function parseJson<T>(text: string, what: string, schema: z.ZodType<T>): Parsed<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the text around the error, which may be a password.
    return { ok: false, error: `${what} is not valid JSON` };
  }
  const res = schema.safeParse(raw);
  return res.success ? { ok: true, value: res.data } : { ok: false, error: formatIssues(res.error, what) };
}

/** Decodes one key of a Secret's base64 `data`; undefined when the key is missing. */
function secretText(data: Readonly<Record<string, string>> | undefined, key: string): string | undefined {
  const b64 = data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, "base64").toString("utf8");
}

/** Parses the JSON text of the instance map file (instances.json in the runtime directory). */
export function parseInstanceMap(text: string): Parsed<NodeInstanceMap> {
  return parseJson(text, INSTANCES_FILE_NAME, nodeInstanceMapSchema);
}

/**
 * Parses the base64 `data` of a node Secret (its node.json). `node` must match
 * the one it names (a Secret meant for another node is refused). Errors name
 * the Secret and the key, never a value.
 */
export function parseNodeSecret(secretName: string, data: Readonly<Record<string, string>> | undefined, node: string): Parsed<PublishedNode> {
  const text = secretText(data, SECRET_KEY_NODE);
  if (text === undefined) return { ok: false, error: `Secret ${secretName} has no ${SECRET_KEY_NODE} key` };
  const parsed = parseJson(text, SECRET_KEY_NODE, publishedNodeSchema);
  if (!parsed.ok) return { ok: false, error: `Secret ${secretName}: ${parsed.error}` };
  if (parsed.value.node !== node) return { ok: false, error: `Secret ${secretName}: ${SECRET_KEY_NODE} is for node "${parsed.value.node}", not "${node}"` };
  return parsed;
}

/**
 * Parses the base64 `data` of an instance Secret (its instance.json). Errors
 * name the Secret and the key, never a value.
 */
export function parseInstanceSecret(secretName: string, data: Readonly<Record<string, string>> | undefined): Parsed<PublishedInstance> {
  const text = secretText(data, SECRET_KEY_INSTANCE);
  if (text === undefined) return { ok: false, error: `Secret ${secretName} has no ${SECRET_KEY_INSTANCE} key` };
  const parsed = parseJson(text, SECRET_KEY_INSTANCE, publishedInstanceSchema);
  return parsed.ok ? parsed : { ok: false, error: `Secret ${secretName}: ${parsed.error}` };
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
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const bad = lines.filter((l) => FAILURE_LINE.test(l));
  const ok = exitCode === 0 && bad.length === 0;
  const shown = bad.length > 0 ? bad : ok ? [] : lines.length > 0 ? lines : [`keepalived exited with code ${String(exitCode)}`];
  return { ok, problems: [...new Set(shown.map(redactConfigTestLine))] };
}

/** Where the kernel lists IPVS virtual services; missing when IPVS is not available. */
export const IPVS_PROC_FILE = "/proc/net/ip_vs";

/** Message of a config refused because the kernel has no IPVS. */
export const NO_IPVS_PROBLEM = `the config has IPVS virtual servers (forwarding: ipvs) but this node's kernel has no IPVS (${IPVS_PROC_FILE} is missing): load the ip_vs module on the node, or use forwarding: kube-proxy`;

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
