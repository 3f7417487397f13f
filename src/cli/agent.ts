// `keepalived-vip agent`: the node agent of the DaemonSet. Parses flags (with
// environment fallbacks from the downward API), runs the agent until SIGTERM.
import { DEFAULT_RUNTIME_DIR } from "../api/index.js";
import { Agent, type AgentSettings as AgentCoreSettings } from "../agent/agent.js";
import { CAP_SYS_NICE, hasCapability, readSelfStatus } from "../agent/capabilities.js";
import { createKubeClients } from "../kube/client.js";
import { parseBindAddress } from "../shared/health-server.js";
import { parseDuration } from "../shared/duration.js";
import { LOG_LEVELS, createLogger } from "../shared/logger.js";
import { PROGRAM, UsageError, parseCommandArgs, untilSignal } from "./command.js";

const DEFAULTS = {
  runtimeDir: DEFAULT_RUNTIME_DIR,
  keepalivedPath: "keepalived",
  metricsBindAddress: "0.0.0.0:9101",
  leaseDuration: "10s",
  heartbeatInterval: "3s",
};

/** The --help text of `agent` (the same layout as `operator --help`). */
export const AGENT_HELP = `Usage: ${PROGRAM} agent [options]

Runs on every node (DaemonSet, hostNetwork): follows the published plan (the
node's Secret and the instance Secrets), assembles the node's keepalived.conf,
checks it with keepalived --config-test, runs keepalived, reports VRRP state
into each VirtualIP's status.nodes and renews a heartbeat Lease.

Options:
  --kubeconfig
      Kubeconfig file; without it: $KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount
  --log-level
      Log level: error, warn, info or debug (default "info"; env LOG_LEVEL)
  --node-name
      This node's name, required (env NODE_NAME)
  --namespace
      Namespace of the config Secrets and the heartbeat Lease (default "keepalived-vip-system"; env POD_NAMESPACE)
  --host-ip
      The node's InternalIP; its interface is published as the default interface (env HOST_IP)
  --runtime-dir
      Live config, pid files, notify FIFO (default "${DEFAULTS.runtimeDir}")
  --keepalived-path
      keepalived binary (default "${DEFAULTS.keepalivedPath}")
  --metrics-bind-address
      Address of /metrics, /healthz and /readyz (default "${DEFAULTS.metricsBindAddress}")
  --lease-duration
      Heartbeat Lease duration (DURATION) (default "${DEFAULTS.leaseDuration}")
  --heartbeat-interval
      Heartbeat renewal period (DURATION) (default "${DEFAULTS.heartbeatInterval}")
  -h, --help
      Show this help

DURATION is a number with a unit: 500ms, 3s, 1m.
Exit status: 0 after SIGTERM/SIGINT, 1 on a failure, 2 on a usage error.
`;

const OPTIONS = {
  kubeconfig: { type: "string" },
  "log-level": { type: "string" },
  "node-name": { type: "string" },
  namespace: { type: "string" },
  "host-ip": { type: "string" },
  "runtime-dir": { type: "string" },
  "keepalived-path": { type: "string" },
  "metrics-bind-address": { type: "string" },
  "lease-duration": { type: "string" },
  "heartbeat-interval": { type: "string" },
} as const;

/** The default namespace when neither --namespace nor POD_NAMESPACE is given. */
export const DEFAULT_AGENT_NAMESPACE = "keepalived-vip-system";

/** Parses "500ms", "3s", "1m" (or a bare number of seconds) into milliseconds. */
export function parseDurationMs(flag: string, value: string): number {
  const text = value.trim();
  // A bare number is seconds.
  const ms = parseDuration(/^\d+(\.\d+)?$/.test(text) ? `${text}s` : text);
  if (ms === undefined) throw new UsageError(`--${flag}: invalid duration "${value}" (want e.g. 500ms, 3s, 1m)`);
  if (ms <= 0) throw new UsageError(`--${flag}: must be positive`);
  return ms;
}

/** The agent's settings after flags and environment, and the kubeconfig to reach the API with. */
export interface AgentSettings extends AgentCoreSettings {
  kubeconfig?: string;
  logLevel: string;
}

/** Reads flags with environment fallbacks; throws UsageError on anything wrong. Pure apart from reading `env`. */
export function parseAgentSettings(argv: string[], env: NodeJS.ProcessEnv): AgentSettings | "help" {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) return "help";
  const node = (values["node-name"] ?? env.NODE_NAME ?? "").trim();
  if (node === "") throw new UsageError("the node name is required: pass --node-name or set NODE_NAME");
  const metricsBindAddress = values["metrics-bind-address"] ?? DEFAULTS.metricsBindAddress;
  try {
    parseBindAddress(metricsBindAddress);
  } catch (err) {
    throw new UsageError(`--metrics-bind-address: ${err instanceof Error ? err.message : String(err)}`);
  }
  const leaseMs = parseDurationMs("lease-duration", values["lease-duration"] ?? DEFAULTS.leaseDuration);
  const heartbeatIntervalMs = parseDurationMs("heartbeat-interval", values["heartbeat-interval"] ?? DEFAULTS.heartbeatInterval);
  if (heartbeatIntervalMs >= leaseMs) throw new UsageError("--heartbeat-interval must be shorter than --lease-duration");
  const hostIP = (values["host-ip"] ?? env.HOST_IP ?? "").trim();
  const logLevel = (values["log-level"] ?? env.LOG_LEVEL ?? "info").trim();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level: "${logLevel}" is not one of ${LOG_LEVELS.join(", ")}`);
  return {
    kubeconfig: values.kubeconfig,
    logLevel,
    node,
    namespace: (values.namespace ?? env.POD_NAMESPACE ?? "").trim() || DEFAULT_AGENT_NAMESPACE,
    hostIP: hostIP === "" ? undefined : hostIP,
    runtimeDir: values["runtime-dir"] ?? DEFAULTS.runtimeDir,
    keepalivedPath: values["keepalived-path"] ?? DEFAULTS.keepalivedPath,
    metricsBindAddress,
    leaseDurationSeconds: Math.max(1, Math.ceil(leaseMs / 1000)),
    heartbeatIntervalMs,
  };
}


/** Runs the agent until SIGTERM/SIGINT; resolves to the exit status. */
export async function run(argv: string[]): Promise<number> {
  const settings = parseAgentSettings(argv, process.env);
  if (settings === "help") {
    process.stdout.write(AGENT_HELP);
    return 0;
  }
  const logger = createLogger("agent", settings.logLevel).child({ node: settings.node });
  const clients = createKubeClients({ kubeconfig: settings.kubeconfig });
  const agent = new Agent({ ...settings, clients, logger });
  const signal = untilSignal();
  logger.info("Starting agent", {
    namespace: settings.namespace,
    hostIP: settings.hostIP,
    runtimeDir: settings.runtimeDir,
    metricsBindAddress: settings.metricsBindAddress,
  });
  if (hasCapability(readSelfStatus(), CAP_SYS_NICE) === false) {
    logger.warn("CAP_SYS_NICE is not granted: keepalived's VRRP process runs at normal priority, so on a busy node adverts may be late and cause false failovers (docs/agent.md)");
  }
  await agent.start();
  const sig = await signal;
  logger.info("Received signal", { signal: sig });
  await agent.stop();
  return 0;
}
