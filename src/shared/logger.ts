// winston JSON logger with a `component` field. Log lines follow Kubernetes
// conventions: capital first letter, no period, structured keys, no secrets.
import winston from "winston";

export type Logger = winston.Logger;

/** The log levels `--log-level` accepts (operator and agent). */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/** Creates the process logger for a component (operator, agent, render). */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ["error", "warn", "info", "debug", "verbose", "silly"] })],
  });
}
