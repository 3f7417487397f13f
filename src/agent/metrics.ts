// The agent's Prometheus metrics, in a registry of its own. Creating them is
// pure; the health server serves the registry.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { registerBuildInfo } from "../shared/version.js";
import type { InstanceVrrpState } from "./notify.js";

const STATES: readonly InstanceVrrpState[] = ["MASTER", "BACKUP", "FAULT", "STOPPED"];

/** Every metric the agent exports. */
export interface AgentMetrics {
  registry: Registry;
  /** 1 for the instance's current state, 0 for the others. */
  vrrpState: Gauge<"vrrp_instance" | "state">;
  transitions: Counter<"vrrp_instance" | "to">;
  /** 1 per VRRP instance and VirtualIP it carries: maps vrrp_instance to the VirtualIP and its addresses. */
  instanceInfo: Gauge<"vrrp_instance" | "namespace" | "name" | "address">;
  reloads: Counter;
  configTestFailures: Counter;
  /** 1 while the published plan is incomplete for this node (the running config is kept). */
  configWaiting: Gauge;
  keepalivedRestarts: Counter;
  /** FIFO line (or other state change) -> status write done. */
  reportLatency: Histogram;
  reportFailures: Counter;
  heartbeatFailures: Counter;
}

/** Creates the agent's metrics in a fresh registry (with process metrics when `defaults`). */
export function createAgentMetrics(defaults = true): AgentMetrics {
  const registry = new Registry();
  if (defaults) collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry, "agent");
  const registers = [registry];
  return {
    registry,
    vrrpState: new Gauge({
      name: "keepalived_vip_agent_vrrp_state",
      help: "VRRP state of each keepalived instance on this node (1 for the current state).",
      labelNames: ["vrrp_instance", "state"],
      registers,
    }),
    transitions: new Counter({
      name: "keepalived_vip_agent_vrrp_transitions_total",
      help: "VRRP state transitions seen on the notify FIFO.",
      labelNames: ["vrrp_instance", "to"],
      registers,
    }),
    instanceInfo: new Gauge({
      name: "keepalived_vip_agent_vrrp_instance_info",
      help: "A constant 1 per VRRP instance of this node and VirtualIP it carries: namespace and name of the VirtualIP, address the instance's virtual addresses (comma-separated).",
      labelNames: ["vrrp_instance", "namespace", "name", "address"],
      registers,
    }),
    reloads: new Counter({ name: "keepalived_vip_agent_reloads_total", help: "keepalived reloads (SIGHUP) after a new config was installed.", registers }),
    configTestFailures: new Counter({
      name: "keepalived_vip_agent_config_test_failures_total",
      help: "Refusals: a VRRP instance (or a whole config) refused by keepalived --config-test, or a config refused before it (an unreadable or unsafe published plan).",
      registers,
    }),
    configWaiting: new Gauge({
      name: "keepalived_vip_agent_config_waiting",
      help: "1 while this node's published plan is incomplete (no node Secret, an instance it names not published yet, or an address moving between instances): the running config is kept.",
      registers,
    }),
    keepalivedRestarts: new Counter({
      name: "keepalived_vip_agent_keepalived_restarts_total",
      help: "Restarts of keepalived after it exited unexpectedly.",
      registers,
    }),
    reportLatency: new Histogram({
      name: "keepalived_vip_agent_report_latency_seconds",
      help: "Time from a state change (notify FIFO line) to the status write being done.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    reportFailures: new Counter({ name: "keepalived_vip_agent_report_failures_total", help: "Failed status writes (retried).", registers }),
    heartbeatFailures: new Counter({ name: "keepalived_vip_agent_heartbeat_failures_total", help: "Failed heartbeat Lease renewals.", registers }),
  };
}

/** Sets the state gauge of one instance (one series per state, 1 for the current). */
export function setInstanceState(m: AgentMetrics, instance: string, state: InstanceVrrpState): void {
  for (const s of STATES) m.vrrpState.set({ vrrp_instance: instance, state: s }, s === state ? 1 : 0);
}

/** Drops the series of an instance that no longer exists. */
export function removeInstance(m: AgentMetrics, instance: string): void {
  for (const s of STATES) m.vrrpState.remove({ vrrp_instance: instance, state: s });
}

/** Replaces the info series with the instances of the applied plan. */
export function setInstanceInfo(
  m: AgentMetrics,
  instances: readonly { instance: string; addresses: readonly string[]; virtualIPs: readonly string[] }[],
): void {
  m.instanceInfo.reset();
  for (const inst of instances) {
    const address = inst.addresses.join(",");
    for (const key of inst.virtualIPs) {
      const slash = key.indexOf("/");
      m.instanceInfo.set({ vrrp_instance: inst.instance, namespace: key.slice(0, slash), name: key.slice(slash + 1), address }, 1);
    }
  }
}
