// The operator's side of VirtualIPPools: the status it writes on each pool
// (counts and the Ready condition) and whether the live one differs. Pure.
import type { PoolPlan } from "../render/index.js";
import type { RawObject } from "../kube/watch.js";

/** The status the operator applies on a pool, without lastTransitionTime (set against the live one). */
export interface DesiredPoolStatus {
  name: string;
  allocated: number;
  available: number;
  ready: PoolPlan["ready"];
}

/** The desired status of one pool; a pool that failed the schema is reported with its parse error. */
export function buildPoolStatus(plan: PoolPlan, invalid: ReadonlyMap<string, string>): DesiredPoolStatus {
  const error = invalid.get(plan.name);
  if (error !== undefined) return { name: plan.name, allocated: 0, available: 0, ready: { status: "False", reason: "InvalidSpec", message: error } };
  return { name: plan.name, allocated: plan.allocated, available: plan.available, ready: plan.ready };
}

interface LivePoolStatus {
  observedGeneration?: number;
  allocated?: number;
  available?: number;
  conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string; observedGeneration?: number }[];
}

/** The status object to apply: lastTransitionTime kept while the Ready status is unchanged. */
export function poolStatusBody(desired: DesiredPoolStatus, live: RawObject | undefined, nowText: string): Record<string, unknown> {
  const status = (live?.status ?? {}) as LivePoolStatus;
  const prev = status.conditions?.find((c) => c.type === "Ready");
  const generation = live?.metadata?.generation ?? 0;
  const lastTransitionTime = prev && prev.status === desired.ready.status ? prev.lastTransitionTime : nowText;
  return {
    observedGeneration: generation,
    allocated: desired.allocated,
    available: desired.available,
    conditions: [{ type: "Ready", ...desired.ready, observedGeneration: generation, lastTransitionTime }],
  };
}

/** Whether the live pool's status differs from the desired one. */
export function poolStatusNeedsApply(desired: DesiredPoolStatus, live: RawObject | undefined): boolean {
  if (!live) return false;
  const status = (live.status ?? {}) as LivePoolStatus;
  const ready = status.conditions?.find((c) => c.type === "Ready");
  return (
    status.observedGeneration !== (live.metadata?.generation ?? 0) ||
    status.allocated !== desired.allocated ||
    status.available !== desired.available ||
    ready?.status !== desired.ready.status ||
    ready.reason !== desired.ready.reason ||
    ready.message !== desired.ready.message
  );
}
