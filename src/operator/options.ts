// The operator's settings: flag table (with env vars and defaults), the help
// text, and validation of flags, environment and config file into one
// OperatorConfig (the value schemas are in option-values.ts). Pure.
import { LOG_LEVELS } from "../shared/logger.js";
import { z } from "zod";
import yaml from "js-yaml";
import { OPERATOR_FLAGS } from "./operator-flags.js";
import {
  advertFloor,
  affinity,
  bindAddress,
  bool,
  dnsSubdomain,
  duration,
  extraArgs,
  fromJSON,
  intIn,
  logLevel,
  nodeSelector,
  podAnnotations,
  podLabels,
  resources,
  toleration,
} from "./option-values.js";

export type { FlagDef } from "../shared/flags.js";

/** A Kubernetes toleration, as the DaemonSet carries it. */
export interface Toleration {
  key?: string;
  operator?: "Exists" | "Equal";
  value?: string;
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  tolerationSeconds?: number;
}

/** Container resources of the agent. */
export interface Resources {
  limits?: Record<string, string>;
  requests?: Record<string, string>;
}

/** How the agent DaemonSet is built. */
export interface AgentPodSettings {
  image: string;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  /** Extra labels of the agent pods (never the ones the operator sets). */
  podLabels: Record<string, string>;
  /** Annotations of the agent pods. */
  podAnnotations: Record<string, string>;
  /** Affinity of the agent pods, as Kubernetes spells it; checked by the API server on apply. */
  affinity?: Record<string, unknown>;
  resources: Resources;
  priorityClassName?: string;
  /** Arguments appended after `agent` and the flags the operator sets. */
  extraArgs: string[];
  serviceAccountName: string;
  /** Port of the agent's /metrics, /healthz and /readyz on the node (hostNetwork). */
  metricsPort: number;
  /** The agents' --log-level. */
  logLevel: (typeof LOG_LEVELS)[number];
}

/** Everything the operator needs to run. */
export interface OperatorConfig {
  kubeconfig?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Namespace of the operator: its leader Lease and the agent DaemonSet. */
  namespace: string;
  /**
   * Namespace of the published plan (node and instance Secrets) and of the
   * agents' heartbeat Leases: the only namespace the agent can read (ADR 0010).
   */
  planNamespace: string;
  identity: string;
  leaderElect: boolean;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  metricsBindAddress: string;
  /** How many objects are written at once. */
  workers: number;
  /** Where the renderer runs: on the main thread, or in a worker thread of its own. */
  renderThread: "inline" | "worker";
  /** How long a VirtualIP that became unusable keeps its claim on its address (ms). */
  claimGraceMs: number;
  /** How long a deleted VirtualIP waits for a node whose agent is not live to confirm its address is gone (ms). */
  deletionTimeoutMs: number;
  /** Serve LoadBalancer Services without spec.loadBalancerClass too (as if they named ours). */
  loadBalancerDefaultClass: boolean;
  /** The smallest spec.vrrp.advertisementInterval a VirtualIP may use, in ms (below it: Ready=False, AdvertIntervalTooShort). */
  minAdvertIntervalMs: number;
  agent: AgentPodSettings;
}

/** Schema of the merged settings, keyed by flag name. */
const settingsSchema = z
  .object({
    kubeconfig: z.string().min(1).optional(),
    "log-level": logLevel,
    namespace: z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "not a namespace name"),
    "plan-namespace": z
      .string()
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "not a namespace name")
      .optional(),
    identity: z.string().min(1).max(128),
    "leader-elect": bool,
    "lease-duration": duration,
    "renew-deadline": duration,
    "retry-period": duration,
    "metrics-bind-address": bindAddress,
    workers: intIn(1, 256),
    "render-thread": z.enum(["inline", "worker"]),
    "claim-grace-period": duration,
    "deletion-timeout": duration,
    "load-balancer-default-class": bool,
    "min-advert-interval": advertFloor,
    "agent-image": z.string().regex(/^\S+$/, "not an image reference"),
    "agent-node-selector": nodeSelector,
    "agent-tolerations": z.unknown().transform(fromJSON).pipe(z.array(toleration)),
    "agent-pod-labels": podLabels,
    "agent-pod-annotations": podAnnotations,
    "agent-affinity": affinity,
    "agent-resources": z.unknown().transform(fromJSON).pipe(resources),
    "agent-priority-class": z.union([z.literal(""), dnsSubdomain]),
    "agent-extra-args": extraArgs,
    "agent-service-account": dnsSubdomain,
    "agent-log-level": logLevel,
    "agent-metrics-port": intIn(1, 65535),
  })
  .strict();

/** Where the settings come from. */
export interface OptionSources {
  /** Parsed flags (strings, or string lists for repeatable flags). */
  flags: Record<string, string | string[] | boolean | undefined>;
  env: Record<string, string | undefined>;
  /** Text of the --config file, if any. */
  configText?: string;
  /** Name of the --config file, for messages. */
  configPath?: string;
  /** Default identity (hostname_pid). */
  defaultIdentity: string;
}

export type OptionsResult = { ok: true; config: OperatorConfig } | { ok: false; errors: string[] };

function readConfigFile(sources: OptionSources): { ok: true; values: Record<string, unknown> } | { ok: false; errors: string[] } {
  if (sources.configText === undefined) return { ok: true, values: {} };
  const where = sources.configPath ?? "config file";
  let doc: unknown;
  try {
    doc = yaml.load(sources.configText);
  } catch (e) {
    return { ok: false, errors: [`--config ${where}: not valid YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`] };
  }
  if (doc === undefined || doc === null) return { ok: true, values: {} };
  if (typeof doc !== "object" || Array.isArray(doc)) return { ok: false, errors: [`--config ${where}: want a map of flag names to values`] };
  const known = new Set(OPERATOR_FLAGS.map((f) => f.name));
  const unknown = Object.keys(doc).filter((k) => !known.has(k) || k === "config");
  if (unknown.length > 0) return { ok: false, errors: unknown.map((k) => `--config ${where}: unknown setting ${JSON.stringify(k)}`) };
  return { ok: true, values: doc as Record<string, unknown> };
}

/** Picks each setting by precedence: flag, env var, config file, default. */
function mergeSources(sources: OptionSources, file: Record<string, unknown>): { values: Record<string, unknown>; origin: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  for (const f of OPERATOR_FLAGS) {
    if (f.name === "config") continue;
    const flag = sources.flags[f.name];
    const env = sources.env[f.env];
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) {
      values[f.name] = flag;
      origin[f.name] = `--${f.name}`;
    } else if (env !== undefined && env !== "") {
      values[f.name] = env;
      origin[f.name] = `--${f.name} (from ${f.env})`;
    } else if (file[f.name] !== undefined) {
      values[f.name] = file[f.name];
      origin[f.name] = `--${f.name} (from ${sources.configPath ?? "the config file"})`;
    } else if (f.name === "identity") {
      values[f.name] = sources.defaultIdentity;
    } else if (f.name === "plan-namespace") {
      // Unset: the plan lives in the operator's namespace (--namespace).
    } else if (f.default !== undefined) {
      values[f.name] = f.default;
    } else if (f.multiple) {
      values[f.name] = [];
    }
    origin[f.name] ??= `--${f.name}`;
  }
  return { values, origin };
}

/**
 * Resolves flags, env vars and the config file into an {@link OperatorConfig}.
 * Each error names the flag (and where the bad value came from).
 */
export function parseOperatorOptions(sources: OptionSources): OptionsResult {
  const file = readConfigFile(sources);
  if (!file.ok) return file;
  const { values, origin } = mergeSources(sources, file.values);
  const res = settingsSchema.safeParse(values);
  if (!res.success) {
    const errors = res.error.issues.map((i) => {
      const [head, ...rest] = i.path.map(String);
      const where = head ? (origin[head] ?? `--${head}`) : "options";
      return `${where}${rest.length > 0 ? ` (${rest.join(".")})` : ""}: ${i.message}`;
    });
    return { ok: false, errors };
  }
  const s = res.data;
  const errors: string[] = [];
  if (s["renew-deadline"] >= s["lease-duration"]) errors.push("--renew-deadline: must be shorter than --lease-duration");
  if (s["retry-period"] * 1.2 >= s["renew-deadline"]) errors.push("--retry-period: must be shorter than --renew-deadline / 1.2");
  if (errors.length > 0) return { ok: false, errors };
  const config: OperatorConfig = {
    logLevel: s["log-level"],
    namespace: s.namespace,
    planNamespace: s["plan-namespace"] ?? s.namespace,
    identity: s.identity,
    leaderElect: s["leader-elect"],
    leaseDurationMs: s["lease-duration"],
    renewDeadlineMs: s["renew-deadline"],
    retryPeriodMs: s["retry-period"],
    metricsBindAddress: s["metrics-bind-address"],
    workers: s.workers,
    renderThread: s["render-thread"],
    claimGraceMs: s["claim-grace-period"],
    deletionTimeoutMs: s["deletion-timeout"],
    loadBalancerDefaultClass: s["load-balancer-default-class"],
    minAdvertIntervalMs: s["min-advert-interval"],
    agent: {
      image: s["agent-image"],
      nodeSelector: s["agent-node-selector"],
      tolerations: s["agent-tolerations"],
      podLabels: s["agent-pod-labels"],
      podAnnotations: s["agent-pod-annotations"],
      ...(Object.keys(s["agent-affinity"]).length > 0 ? { affinity: s["agent-affinity"] } : {}),
      resources: s["agent-resources"],
      ...(s["agent-priority-class"] ? { priorityClassName: s["agent-priority-class"] } : {}),
      extraArgs: s["agent-extra-args"],
      serviceAccountName: s["agent-service-account"],
      metricsPort: s["agent-metrics-port"],
      logLevel: s["agent-log-level"],
    },
  };
  if (s.kubeconfig) config.kubeconfig = s.kubeconfig;
  return { ok: true, config };
}
