// Faults and their measurement, shared by the e2e tier and the failover
// benchmark: inject a fault on the MASTER, see who answers at the VIP and
// what status.master says, bring the node back, wait for a steady state. Does I/O.
import { sleep } from "../support/process.js";
import type { Env, VirtualIPObject } from "./env.js";
import type { Probe, StatusWatch } from "./probe.js";
import { monotonicNow } from "../support/clock.js";

/** The faults the tier injects on a MASTER node: crashes, and planned moves (drain, agent SIGTERM). */
export type Fault = "keepalived" | "agent" | "link" | "drain" | "sigterm";

/** Every crash fault, in the order they are reported. */
export const FAULTS: readonly Fault[] = ["keepalived", "agent", "link"];

/** Planned faults: the node hands its VIPs over (docs/adr/0018). */
export const PLANNED_FAULTS: readonly Fault[] = ["drain", "sigterm"];

/** What a fault means, for reports. */
export const FAULT_TEXT: Record<Fault, string> = {
  keepalived: "SIGKILL keepalived",
  agent: "SIGKILL agent",
  link: "link down",
  drain: "kubectl drain",
  sigterm: "SIGTERM agent",
};

/** Options of {@link waitFor}. */
export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/** Polls `check` until it returns a value other than undefined; throws with `what` and the last detail on timeout. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, opts: WaitOptions): Promise<T> {
  const deadline = monotonicNow() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (monotonicNow() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** The VRRP state each node reports in status.nodes. */
export function nodeStates(vip: VirtualIPObject | undefined): Record<string, string> {
  return Object.fromEntries((vip?.status?.nodes ?? []).map((n) => [n.name, n.state]));
}

/** A compact text of the status, for failure messages. */
export function describeStatus(vip: VirtualIPObject | undefined): string {
  if (!vip) return "(no such VirtualIP)";
  const states = Object.entries(nodeStates(vip))
    .map(([n, s]) => `${n}=${s}`)
    .join(" ");
  const ready = vip.status?.conditions?.find((c) => c.type === "Ready");
  return `master=${vip.status?.master || "-"} nodes[${states}] failovers=${vip.status?.failovers ?? 0} Ready=${ready?.status ?? "-"}/${ready?.reason ?? "-"}`;
}

/** Options of {@link waitForSteadyState}. */
export interface SteadyOptions {
  name: string;
  namespace?: string;
  address: string;
  /** Nodes that take part (default: every node). */
  nodes?: string[];
  /** Expected master, when known. */
  master?: string;
  timeoutMs?: number;
}

/**
 * Waits until one node is MASTER and every other taking-part node BACKUP
 * in status.nodes, status.master names that node, only that node carries
 * the address, and it answers at the address. Resolves the master.
 */
export async function waitForSteadyState(env: Env, opts: SteadyOptions): Promise<string> {
  const nodes = opts.nodes ?? env.nodeNames;
  let last = "";
  try {
    return await waitFor(
      `a steady state of ${opts.name} (one MASTER, the others BACKUP)`,
      async () => {
        const vip = await env.getVirtualIP(opts.name, opts.namespace);
        last = describeStatus(vip);
        const states = nodeStates(vip);
        const masters = nodes.filter((n) => states[n] === "MASTER");
        if (masters.length !== 1 || nodes.some((n) => states[n] !== "MASTER" && states[n] !== "BACKUP")) return undefined;
        const master = masters[0]!;
        if (opts.master !== undefined && master !== opts.master) return undefined;
        if (vip?.status?.master !== master) return undefined;
        const holders = await env.holders(opts.address);
        last += ` holders=${holders.join(",") || "-"}`;
        if (holders.length !== 1 || holders[0] !== master) return undefined;
        const who = await env.whoAnswers(opts.address, 1_000);
        last += ` answers=${who ?? "-"}`;
        return who === master ? master : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 200 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\nlast seen: ${last}\n${await env.diagnostics(25)}`);
  }
}

/** Injects `fault` on `node`; resolves the time (ms since the epoch) the fault took effect. */
export async function injectFault(env: Env, fault: Fault, node: string): Promise<number> {
  switch (fault) {
    case "keepalived": {
      const pids = env.killKeepalived(node);
      if (pids.length === 0) throw new Error(`no keepalived runs on ${node}`);
      return monotonicNow();
    }
    case "agent": {
      const t = monotonicNow();
      await env.agent(node).kill("SIGKILL");
      return t;
    }
    case "link": {
      const t = monotonicNow();
      await env.linkDown(node);
      return t;
    }
    case "drain": {
      const t = monotonicNow();
      // A drain cordons the node, then evicts its Pods but DaemonSet ones. The only Pods here are
      // the agents' (they stand in for DaemonSet Pods, to bind the agents' tokens, but have no
      // owner): a selector no Pod matches keeps them, as --ignore-daemonsets keeps the real ones.
      await env.kubectl([
        "drain",
        node,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--pod-selector=keepalived-vip.io/e2e-evictable=true",
        "--timeout=60s",
      ]);
      return t;
    }
    case "sigterm": {
      const t = monotonicNow();
      await env.agent(node).kill("SIGTERM");
      return t;
    }
  }
}

/** Undoes `fault` on `node`: the kubelet restarts the agent, the cable goes back in, the node is uncordoned; keepalived is restarted by its agent. */
export async function recoverFault(env: Env, fault: Fault, node: string): Promise<void> {
  if (fault === "agent" || fault === "sigterm") await env.agent(node).start();
  if (fault === "link") await env.linkUp(node);
  if (fault === "drain") await env.kubectl(["uncordon", node]);
}

/** One measured failover. */
export interface FailoverResult {
  fault: Fault;
  /** The MASTER the fault hit. */
  from: string;
  /** When the fault took effect (ms since the epoch). */
  faultAt: number;
  /** The first other node that answered at the VIP. */
  answeredBy: string;
  /** The node status.master named first after the fault (other than `from`). */
  statusMaster: string;
  /** Fault to the first answer from another node, ms. */
  vipMs: number;
  /** Fault to status.master naming another node, ms (receive time of the watch event). */
  statusMs: number;
}

/** Options of {@link measureFailover}. */
export interface MeasureOptions {
  fault: Fault;
  from: string;
  probe: Probe;
  watch: StatusWatch;
  timeoutMs: number;
}

/** Injects the fault on the MASTER and measures both the VIP and the status failover. The fault is left in place. */
export async function measureFailover(env: Env, opts: MeasureOptions): Promise<FailoverResult> {
  const t0 = await injectFault(env, opts.fault, opts.from);
  const until = t0 + opts.timeoutMs;
  let answer: { node: string; at: number } | undefined;
  let status: { node: string; at: number } | undefined;
  while ((!answer || !status) && monotonicNow() < until) {
    answer ??= firstOtherAnswer(opts.probe, opts.from, t0);
    status ??= firstOtherMaster(opts.watch, opts.from, t0);
    if (!answer || !status) await sleep(10);
  }
  if (!answer || !status) {
    const vip = await env.getVirtualIP(opts.watch.name, opts.watch.namespace);
    throw new Error(
      `${FAULT_TEXT[opts.fault]} on ${opts.from}: ${!answer ? "no other node answered at the VIP" : "status.master never named another node"} within ${opts.timeoutMs} ms; ` +
        `answers: ${opts.probe.describe(t0, monotonicNow())}; status: ${describeStatus(vip)}\n${await env.diagnostics(25)}`,
    );
  }
  return {
    fault: opts.fault,
    from: opts.from,
    faultAt: t0,
    answeredBy: answer.node,
    statusMaster: status.node,
    vipMs: answer.at - t0,
    statusMs: status.at - t0,
  };
}

function firstOtherAnswer(probe: Probe, from: string, after: number): { node: string; at: number } | undefined {
  const hit = probe.samples.find((x) => x.e > after && !x.r.startsWith("!") && x.r !== from);
  return hit ? { node: hit.r, at: hit.e } : undefined;
}

function firstOtherMaster(watch: StatusWatch, from: string, after: number): { node: string; at: number } | undefined {
  const hit = watch.events.find((e) => e.at >= after && e.master !== undefined && e.master !== from);
  return hit?.master ? { node: hit.master, at: hit.at } : undefined;
}
