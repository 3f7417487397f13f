// The agent's /healthz and /readyz verdicts, from keepalived's phase, whether
// a config is installed and the health of the plan's watches. Pure.
import type { HealthCheckResult } from "../shared/health-server.js";
import type { SupervisorPhase } from "./keepalived.js";

/** Alive unless keepalived should run and does not (a failing keepalived with a good config keeps restarting: alive). */
export function livenessOf(phase: SupervisorPhase, hasConfig: boolean): HealthCheckResult {
  if (phase === "running") return { ok: true };
  if (phase === "backoff") return hasConfig ? { ok: true } : { ok: false, message: "keepalived is failing without a good config" };
  if (phase === "idle") return hasConfig ? { ok: false, message: "keepalived is not started" } : { ok: true, message: "waiting for a config" };
  return { ok: false, message: `keepalived is ${phase}` };
}

/** Ready once a config is installed and keepalived runs it. */
export function readinessOf(phase: SupervisorPhase, hasConfig: boolean): HealthCheckResult {
  if (!hasConfig) return { ok: false, message: "no config installed yet" };
  return phase === "running" ? { ok: true } : { ok: false, message: `keepalived is ${phase}` };
}

/** Ready while every watch of the plan is (not during an API outage; keepalived runs on regardless, ADR 0019). */
export function watchesHealthOf(watches: readonly { health(): HealthCheckResult }[]): HealthCheckResult {
  if (watches.length === 0) return { ok: false, message: "not watching yet" };
  const bad = watches.map((w) => w.health()).filter((h) => !h.ok);
  return bad.length === 0 ? { ok: true } : { ok: false, message: bad.map((h) => h.message).join("; ") };
}
