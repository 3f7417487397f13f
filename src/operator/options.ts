// The operator's settings: flag table (with env vars and defaults), the help
// text, and validation of flags, environment and config file into one
// OperatorConfig (the value schemas are in option-values.ts). Pure.
import { LOG_LEVELS } from "../shared/logger.js";
import { z } from "zod";
import yaml from "js-yaml";
import { EXIT_STATUS_NOTE, renderCommandHelp, type FlagDef } from "../shared/flags.js";
import { advertFloor, affinity, bindAddress, bool, dnsSubdomain, duration, extraArgs, fromJSON, intIn, logLevel, nodeSelector, podAnnotations, podLabels, resources, toleration } from "./option-values.js";

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

/** Every flag of `operator`, in --help order. */
export const OPERATOR_FLAGS: readonly (FlagDef & { env: string })[] = [
  { name: "config", env: "KEEPALIVED_VIP_CONFIG", help: "YAML file with any of these settings, keyed by flag name (flags and env vars win)" },
  { name: "kubeconfig", env: "KUBECONFIG", help: "Kubeconfig file; without it: $KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount" },
  { name: "log-level", env: "LOG_LEVEL", default: "info", help: "Log level: error, warn, info or debug" },
  { name: "namespace", env: "POD_NAMESPACE", default: "keepalived-vip-system", help: "Namespace of the operator, its leader Lease and the agent DaemonSet" },
  {
    name: "plan-namespace",
    env: "KEEPALIVED_VIP_PLAN_NAMESPACE",
    default: "<--namespace>",
    help: "Namespace of the node and instance config Secrets and the agents' heartbeat Leases, the only one the agents can read (the shipped manifests: keepalived-vip-nodes)",
  },
  { name: "identity", env: "POD_NAME", default: "<hostname>_<pid>", help: "Leader-election identity of this replica" },
  { name: "leader-elect", env: "KEEPALIVED_VIP_LEADER_ELECT", default: "true", help: "Elect a leader through a Lease; only the leader writes (true|false)" },
  { name: "lease-duration", env: "KEEPALIVED_VIP_LEASE_DURATION", default: "15s", help: "How long others wait for an unrenewed leader Lease before taking over" },
  { name: "renew-deadline", env: "KEEPALIVED_VIP_RENEW_DEADLINE", default: "10s", help: "How long the leader retries renewing before it steps down (stops writing, keeps running)" },
  { name: "retry-period", env: "KEEPALIVED_VIP_RETRY_PERIOD", default: "2s", help: "Interval between leader-election attempts" },
  { name: "metrics-bind-address", env: "KEEPALIVED_VIP_METRICS_BIND_ADDRESS", default: ":8080", help: "Address of /metrics, /healthz and /readyz (host:port, :port, [v6]:port)" },
  { name: "workers", env: "KEEPALIVED_VIP_WORKERS", default: "8", help: "How many objects are written concurrently" },
  {
    name: "render-thread",
    env: "KEEPALIVED_VIP_RENDER_THREAD",
    default: "inline",
    help: "Where the plan is rendered: inline (on the main thread; about 0.1 s for 1,000 VirtualIPs over 50 Nodes) or worker (a thread of its own, for very large clusters; costs memory)",
  },
  {
    name: "claim-grace-period",
    env: "KEEPALIVED_VIP_CLAIM_GRACE_PERIOD",
    default: "5m",
    help: "How long a VirtualIP that became unusable (Service missing, refused) keeps its claim on its address before another may take it",
  },
  {
    name: "deletion-timeout",
    env: "KEEPALIVED_VIP_DELETION_TIMEOUT",
    default: "5m",
    help: "How long a deleted VirtualIP waits for a node whose agent is not live to confirm its address is gone; then it goes with a Warning Event naming the node (a live node that still runs the address is always waited for)",
  },
  {
    name: "load-balancer-default-class",
    env: "KEEPALIVED_VIP_LOAD_BALANCER_DEFAULT_CLASS",
    default: "false",
    help: "Also give a VirtualIP to LoadBalancer Services that name no loadBalancerClass (true|false); those naming keepalived-vip.io/vip always get one",
  },
  {
    name: "min-advert-interval",
    env: "KEEPALIVED_VIP_MIN_ADVERT_INTERVAL",
    default: "100ms",
    help: "Smallest spec.vrrp.advertisementInterval a VirtualIP may use; a shorter one is refused (Ready=False, AdvertIntervalTooShort). 10ms allows every VRRPv3 interval",
  },
  { name: "agent-image", env: "KEEPALIVED_VIP_AGENT_IMAGE", default: "localhost/keepalived-vip-operator:dev", help: "Image of the agent DaemonSet" },
  { name: "agent-node-selector", env: "KEEPALIVED_VIP_AGENT_NODE_SELECTOR", default: "", help: "Node labels the agent pods need, k=v,k2=v2 (a map in the config file)" },
  { name: "agent-tolerations", env: "KEEPALIVED_VIP_AGENT_TOLERATIONS", default: "[]", help: "Tolerations of the agent pods, as a JSON list (a list in the config file)" },
  { name: "agent-pod-labels", env: "KEEPALIVED_VIP_AGENT_POD_LABELS", default: "", help: "Extra labels of the agent pods, k=v,k2=v2 (a map in the config file); not the app.kubernetes.io/name, component or managed-by labels, which the operator sets" },
  { name: "agent-pod-annotations", env: "KEEPALIVED_VIP_AGENT_POD_ANNOTATIONS", default: "{}", help: "Annotations of the agent pods, as a JSON object (a map in the config file)" },
  { name: "agent-affinity", env: "KEEPALIVED_VIP_AGENT_AFFINITY", default: "{}", help: "Affinity of the agent pods (nodeAffinity, podAffinity, podAntiAffinity), as JSON (a map in the config file)" },
  { name: "agent-resources", env: "KEEPALIVED_VIP_AGENT_RESOURCES", default: '{"requests":{"cpu":"10m","memory":"64Mi"},"limits":{"memory":"256Mi"}}', help: "Resources of the agent container, as JSON" },
  { name: "agent-priority-class", env: "KEEPALIVED_VIP_AGENT_PRIORITY_CLASS", default: "system-node-critical", help: "priorityClassName of the agent pods (empty for none)" },
  { name: "agent-extra-args", env: "KEEPALIVED_VIP_AGENT_EXTRA_ARGS", multiple: true, help: "Extra argument for the agent; repeat for several (env: space-separated; config: a list)" },
  { name: "agent-service-account", env: "KEEPALIVED_VIP_AGENT_SERVICE_ACCOUNT", default: "keepalived-vip-agent", help: "ServiceAccount of the agent pods" },
  { name: "agent-log-level", env: "KEEPALIVED_VIP_AGENT_LOG_LEVEL", default: "info", help: "Log level of the agents (their --log-level): error, warn, info or debug" },
  { name: "agent-metrics-port", env: "KEEPALIVED_VIP_AGENT_METRICS_PORT", default: "9101", help: "Port of the agent's /metrics and /healthz on each node" },
];

/** The --help text of `operator` (the layout of every command's, src/shared/flags.ts). */
export function renderOperatorHelp(program: string): string {
  return renderCommandHelp({
    command: `${program} operator`,
    about: [
      "Runs the operator: watches VirtualIPs, VirtualIPPools, Namespaces, ServiceCIDRs, Services,",
      "EndpointSlices, Nodes and agent Leases; allocates addresses from the pools; writes the agent",
      "DaemonSet, the published plan (one config Secret per VRRP instance and one per Node, from",
      "which each agent assembles its keepalived.conf), the VirtualIPs of LoadBalancer Services,",
      "Service load-balancer status, VirtualIP and pool status.",
      "Precedence: flag, then env var, then config file, then default.",
    ],
    flags: OPERATOR_FLAGS,
    notes: [EXIT_STATUS_NOTE],
  });
}

/** Schema of the merged settings, keyed by flag name. */
const settingsSchema = z
  .object({
    kubeconfig: z.string().min(1).optional(),
    "log-level": logLevel,
    namespace: z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "not a namespace name"),
    "plan-namespace": z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "not a namespace name").optional(),
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
