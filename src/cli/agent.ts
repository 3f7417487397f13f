// `keepalived-vip agent`: the node agent of the DaemonSet. Parses flags (with
// environment fallbacks from the downward API), runs the agent until SIGTERM.
import { DEFAULT_RUNTIME_DIR } from "../api/index.js";
import { Agent, type AgentSettings } from "../agent/agent.js";
import { CAP_SYS_NICE, hasCapability, readSelfStatus } from "../agent/capabilities.js";
import { createKubeClients } from "../kube/client.js";
import { parseBindAddress } from "../shared/health-server.js";
import { parseFlagDuration } from "../shared/duration.js";
import { EXIT_STATUS_NOTE, flagParseOptions, lookupFlag, renderCommandHelp, type FlagDef, type FlagValue } from "../shared/flags.js";
import { LOG_LEVELS, createLogger } from "../shared/logger.js";
import { PROGRAM, UsageError, parseCommandArgs, untilSignal } from "./command.js";

/** The default namespace when neither --namespace nor POD_NAMESPACE is given. */
export const DEFAULT_AGENT_NAMESPACE = "keepalived-vip-system";

/** Every flag of `agent`, in --help order (the operator's table layout, src/shared/flags.ts). */
export const AGENT_FLAGS: readonly FlagDef[] = [
  { name: "kubeconfig", help: "Kubeconfig file; without it: $KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount" },
  { name: "log-level", env: "LOG_LEVEL", default: "info", help: "Log level: error, warn, info or debug" },
  { name: "node-name", env: "NODE_NAME", help: "This node's name, required" },
  { name: "namespace", env: "POD_NAMESPACE", default: DEFAULT_AGENT_NAMESPACE, help: "Namespace of the config Secrets and the heartbeat Lease" },
  { name: "host-ip", env: "HOST_IP", help: "The node's InternalIP; its interface is published as the default interface" },
  { name: "runtime-dir", default: DEFAULT_RUNTIME_DIR, help: "Live config, pid files, notify FIFO" },
  { name: "keepalived-path", default: "keepalived", help: "keepalived binary" },
  { name: "metrics-bind-address", default: "0.0.0.0:9101", help: "Address of /metrics, /healthz and /readyz" },
  { name: "lease-duration", default: "10s", help: "Heartbeat Lease duration (DURATION)" },
  { name: "heartbeat-interval", default: "3s", help: "Heartbeat renewal period (DURATION)" },
];

/** The --help text of `agent`. */
export const AGENT_HELP = renderCommandHelp({
  command: `${PROGRAM} agent`,
  about: [
    "Runs on every node (DaemonSet, hostNetwork): follows the published plan (the",
    "node's Secret and the instance Secrets), assembles the node's keepalived.conf,",
    "checks it with keepalived --config-test, runs keepalived, reports VRRP state",
    "into each VirtualIP's status.nodes and renews a heartbeat Lease.",
    "Precedence: flag, then env var, then default.",
  ],
  flags: AGENT_FLAGS,
  notes: ["DURATION is a number with a unit: 500ms, 3s, 1m.", EXIT_STATUS_NOTE],
});

const OPTIONS = flagParseOptions(AGENT_FLAGS);

/** Parses a flag's duration ("500ms", "3s", "1m") into milliseconds, or throws a UsageError naming the flag. */
export function flagDurationMs(flag: string, value: string): number {
  const ms = parseFlagDuration(value);
  if (ms === undefined) throw new UsageError(`--${flag}: invalid duration "${value}" (want e.g. 500ms, 3s, 1m)`);
  if (ms <= 0) throw new UsageError(`--${flag}: must be positive`);
  return ms;
}

/** The agent's settings after flags and environment, and the kubeconfig to reach the API with. */
export interface AgentCommandSettings extends AgentSettings {
  kubeconfig?: string;
  logLevel: string;
}

/** Reads flags with environment fallbacks (AGENT_FLAGS); throws UsageError on anything wrong. Pure apart from reading `env`. */
export function parseAgentSettings(argv: string[], env: NodeJS.ProcessEnv): AgentCommandSettings | "help" {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) return "help";
  const lookup = (name: string): FlagValue => lookupFlag(AGENT_FLAGS.find((f) => f.name === name) as FlagDef, values, env);
  const flag = (name: string): string => lookup(name).value ?? "";
  const node = flag("node-name").trim();
  if (node === "") throw new UsageError("the node name is required: pass --node-name or set NODE_NAME");
  const metricsBindAddress = flag("metrics-bind-address");
  try {
    parseBindAddress(metricsBindAddress);
  } catch (err) {
    throw new UsageError(`--metrics-bind-address: ${err instanceof Error ? err.message : String(err)}`);
  }
  const leaseMs = flagDurationMs("lease-duration", flag("lease-duration"));
  const heartbeatIntervalMs = flagDurationMs("heartbeat-interval", flag("heartbeat-interval"));
  if (heartbeatIntervalMs >= leaseMs) throw new UsageError("--heartbeat-interval must be shorter than --lease-duration");
  const hostIP = flag("host-ip").trim();
  const level = lookup("log-level");
  const logLevel = (level.value ?? "").trim();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`${level.origin}: "${logLevel}" is not one of ${LOG_LEVELS.join(", ")}`);
  return {
    kubeconfig: lookup("kubeconfig").value,
    logLevel,
    node,
    namespace: flag("namespace").trim() || DEFAULT_AGENT_NAMESPACE,
    hostIP: hostIP === "" ? undefined : hostIP,
    runtimeDir: flag("runtime-dir"),
    keepalivedPath: flag("keepalived-path"),
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
    logger.warn(
      "CAP_SYS_NICE is not granted: keepalived's VRRP process runs at normal priority, so on a busy node adverts may be late and cause false failovers (docs/agent.md)",
    );
  }
  await agent.start();
  const sig = await signal;
  logger.info("Received signal", { signal: sig });
  await agent.stop();
  return 0;
}
