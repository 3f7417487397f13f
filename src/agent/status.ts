// What this node reports for a VirtualIP, computed from the applied instance
// map and the current instance states at send time. Pure.
import type { NodeInstanceMap, NodeStatus } from "../api/index.js";
import type { InstanceState, InstanceStates, InstanceVrrpState } from "./notify.js";
import type { DesiredReport } from "./reporter.js";

/** "namespace/name" keys of every VirtualIP an instance map names, sorted. */
export function virtualIPKeys(map: NodeInstanceMap | undefined): string[] {
  return [...new Set((map?.instances ?? []).flatMap((i) => i.virtualIPs))].sort();
}

const RANK: Record<InstanceVrrpState, number> = { MASTER: 0, BACKUP: 1, FAULT: 2, STOPPED: 3 };

export interface PlanReportInput {
  key: string;
  node: string;
  map: NodeInstanceMap | undefined;
  states: InstanceStates;
  /** VirtualIP key -> why this node's keepalived refused its instance (isolate.ts), and since when. */
  rejected?: ReadonlyMap<string, { message: string; since: number }>;
  now: number;
}

/**
 * The complete status.nodes entry this node should have for `key`: from the
 * state of the instance carrying it (the best one, should two carry it),
 * "remove" when no instance carries it any more, "skip" while no state is known.
 * A refused instance adds `configRejected` (FAULT when no version of it runs).
 */
export function planReport(input: PlanReportInput): DesiredReport {
  const carriers = (input.map?.instances ?? []).filter((i) => i.virtualIPs.includes(input.key));
  const rejected = input.rejected?.get(input.key);
  const lastReportTime = new Date(input.now).toISOString();
  if (carriers.length === 0) {
    if (!rejected) return { kind: "remove" };
    // Refused and no last good version runs: FAULT, with keepalived's words.
    return {
      kind: "entry",
      entry: { name: input.node, state: "FAULT", since: new Date(rejected.since).toISOString(), lastReportTime, configRejected: rejected.message },
    };
  }
  const known = carriers.map((i) => input.states[i.instance]).filter((s): s is InstanceState => s !== undefined);
  const best = known.sort((a, b) => RANK[a.state] - RANK[b.state] || a.since - b.since)[0];
  if (!best) return { kind: "skip" };
  const entry: NodeStatus = {
    name: input.node,
    state: best.state,
    priority: best.priority,
    since: new Date(best.since).toISOString(),
    lastReportTime,
  };
  if (rejected) entry.configRejected = rejected.message;
  return { kind: "entry", entry };
}
