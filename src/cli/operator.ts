// `keepalived-vip operator`: flags, env vars and config file into settings,
// then the operator until SIGTERM (graceful: the leader Lease is released). I/O.
import { readFileSync } from "node:fs";
import { describeError } from "../kube/client.js";
import { defaultIdentity, startOperator } from "../operator/operator.js";
import { OPERATOR_FLAGS, renderOperatorHelp } from "../operator/operator-flags.js";
import { parseOperatorOptions } from "../operator/options.js";
import { flagParseOptions } from "../shared/flags.js";
import { createLogger } from "../shared/logger.js";
import { PROGRAM, UsageError, parseCommandArgs, untilSignal } from "./command.js";

/** How long a graceful stop may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 10_000;

const OPTIONS = flagParseOptions(OPERATOR_FLAGS);

function readConfig(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`--config: cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Runs the operator until SIGTERM or SIGINT. It never resolves after a
 * start: after the graceful stop the process exits itself (0), so that no
 * request still in flight keeps it alive. Watch failures and lost leadership
 * never end it (ADR 0019).
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, OPTIONS);
  if (values.help) {
    process.stdout.write(renderOperatorHelp(PROGRAM));
    return 0;
  }
  const flags = values as Record<string, string | string[] | undefined>;
  const configPath = (flags.config as string | undefined) ?? process.env.KEEPALIVED_VIP_CONFIG;
  const configText = readConfig(configPath);
  const res = parseOperatorOptions({
    flags,
    env: process.env,
    ...(configText !== undefined ? { configText, configPath } : {}),
    defaultIdentity: defaultIdentity(),
  });
  if (!res.ok) throw new UsageError(res.errors.join("\nerror: "));
  const { config } = res;
  const logger = createLogger("operator", config.logLevel).child({ identity: config.identity });
  const fail = (what: string) => (err: unknown) => {
    logger.error(what, { error: describeError(err) });
    process.exit(1);
  };
  process.on("uncaughtException", fail("Stopped on an unexpected error"));
  process.on("unhandledRejection", fail("Stopped on an unhandled rejection"));
  const signal = untilSignal();
  logger.info("Starting operator", {
    namespace: config.namespace,
    leaderElect: config.leaderElect,
    metricsBindAddress: config.metricsBindAddress,
    agentImage: config.agent.image,
  });
  const handle = await startOperator({ config, logger });
  const sig = await signal;
  logger.info("Shutting down", { signal: sig });
  const timer = setTimeout(() => {
    logger.warn("Graceful stop took too long, exiting", { timeoutMs: STOP_TIMEOUT_MS });
    process.exit(0);
  }, STOP_TIMEOUT_MS);
  await handle.stop();
  clearTimeout(timer);
  logger.info("Stopped");
  process.exit(0);
}
