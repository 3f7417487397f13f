// The agent's own Linux capabilities, read from /proc/self/status, so that a
// missing optional one is a clear warning at start rather than a quiet
// difference in how keepalived runs. Pure apart from readSelfStatus.
import { readFileSync } from "node:fs";

/** CAP_SYS_NICE: lets keepalived raise its VRRP process's priority (vrrp_priority in global_defs). */
export const CAP_SYS_NICE = 23;

/** The effective capability set (CapEff) of a /proc/<pid>/status text; undefined when there is none. */
export function effectiveCapabilities(statusText: string): bigint | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]{1,16})\s*$/m.exec(statusText);
  return m?.[1] === undefined ? undefined : BigInt(`0x${m[1]}`);
}

/** Whether capability number `cap` is in the effective set; undefined when the set is unknown. */
export function hasCapability(statusText: string, cap: number): boolean | undefined {
  const eff = effectiveCapabilities(statusText);
  return eff === undefined ? undefined : (eff >> BigInt(cap)) % 2n === 1n;
}

/** The text of /proc/self/status, or "" where there is none (not Linux). */
export function readSelfStatus(): string {
  try {
    return readFileSync("/proc/self/status", "utf8");
  } catch {
    return "";
  }
}
