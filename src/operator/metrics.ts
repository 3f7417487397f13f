// The operator's Prometheus metrics, in a registry of its own. Creating them
// is pure; the shared health server serves the registry.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { registerBuildInfo } from "../shared/version.js";
import { ReadyReason } from "../api/index.js";

/** Every metric the operator exports. */
export interface OperatorMetrics {
  registry: Registry;
  /** Runs of the queue handler by kind of key (plan, virtualip, secret, service, daemonset) and result. */
  reconciles: Counter<"kind" | "result">;
  reconcileDuration: Histogram<"kind">;
  /** Every write request to the API server (create, apply, patch, update, delete). */
  writes: Counter<"verb" | "resource">;
  /** VirtualIPs by the reason of their Ready condition. */
  virtualIPs: Gauge<"reason">;
  /** VirtualIPs whose Conflict condition is True. */
  conflicts: Gauge;
  /** 1 while this replica is the leader. */
  leader: Gauge;
  /** Keys waiting or running in the work queue. */
  queueDepth: Gauge;
  /** Duration of the pure cluster planning (renderer) alone. */
  renderDuration: Histogram;
  /** Render passes by how the session planned them (full, incremental) and, for a full pass, why. */
  renderPasses: Counter<"pass" | "reason">;
  /** Watch requests that ended, by resource and how the list+watch carried on (resumed, relisted, failed). */
  watchRestarts: Counter<"resource" | "how">;
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Creates the operator's metrics in a fresh registry (with process metrics when `defaults`). */
export function createOperatorMetrics(defaults = true): OperatorMetrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry, "operator");
  const registers = [registry];
  const m: OperatorMetrics = {
    registry,
    reconciles: new Counter({
      name: "keepalived_vip_operator_reconciles_total",
      help: "Reconciles by kind of work (plan, virtualip, secret, service, daemonset) and result.",
      labelNames: ["kind", "result"],
      registers,
    }),
    reconcileDuration: new Histogram({
      name: "keepalived_vip_operator_reconcile_duration_seconds",
      help: "Duration of one reconcile by kind of work.",
      labelNames: ["kind"],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    writes: new Counter({
      name: "keepalived_vip_operator_kube_writes_total",
      help: "Write requests sent to the API server by verb and resource.",
      labelNames: ["verb", "resource"],
      registers,
    }),
    virtualIPs: new Gauge({
      name: "keepalived_vip_operator_virtualips",
      help: "VirtualIPs by the reason of their Ready condition.",
      labelNames: ["reason"],
      registers,
    }),
    conflicts: new Gauge({ name: "keepalived_vip_operator_conflicts", help: "VirtualIPs whose Conflict condition is True.", registers }),
    leader: new Gauge({ name: "keepalived_vip_operator_leader", help: "1 while this replica is the leader.", registers }),
    queueDepth: new Gauge({ name: "keepalived_vip_operator_queue_depth", help: "Keys waiting or running in the work queue.", registers }),
    renderDuration: new Histogram({
      name: "keepalived_vip_operator_render_duration_seconds",
      help: "Duration of planning the whole cluster (every node's keepalived.conf).",
      buckets: DURATION_BUCKETS,
      registers,
    }),
    renderPasses: new Counter({
      name: "keepalived_vip_operator_render_passes_total",
      help: "Render passes by how they planned: full (with the reason) or incremental (only what a change reaches).",
      labelNames: ["pass", "reason"],
      registers,
    }),
    watchRestarts: new Counter({
      name: "keepalived_vip_operator_watch_restarts_total",
      help: "Watch requests that ended, by resource and how the watch carried on (resumed, relisted, failed).",
      labelNames: ["resource", "how"],
      registers,
    }),
  };
  for (const reason of Object.values(ReadyReason)) m.virtualIPs.set({ reason }, 0);
  m.leader.set(0);
  m.conflicts.set(0);
  return m;
}
