// State reporting: the VRRP state fold of this node's instances (notify FIFO
// lines and the agent's own events), its metrics and logs, and the status
// writes that follow (one coalesced write per VirtualIP, reporter.ts). No I/O
// of its own: the status write goes through the AgentKube port.
import type { NodeInstanceMap } from "../api/index.js";
import { describeError } from "../kube/client.js";
import { withTimeout, type Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { StateWaiters } from "./handover.js";
import { removeInstance, setInstanceInfo, setInstanceState, type AgentMetrics } from "./metrics.js";
import { foldState, parseNotifyLine, type InstanceStates, type NotifyEvent } from "./notify.js";
import { effectivePriorities } from "./placement.js";
import type { AgentKube } from "./ports.js";
import { StatusReporter } from "./reporter.js";
import { planReport, virtualIPKeys } from "./status.js";
import { splitKey } from "../shared/keys.js";

export interface StateReportOptions {
  node: string;
  kube: Pick<AgentKube, "applyStatusEntry">;
  clock: Clock;
  logger: Logger;
  metrics: AgentMetrics;
  /** The instance map keepalived runs now (undefined before the first config). */
  applied(): NodeInstanceMap | undefined;
  /** VirtualIP key -> why this node refused its instance, and since when. */
  rejections(): ReadonlyMap<string, { message: string; since: number }>;
  /** Whether the handover track file holds 1 (every priority lowered, as keepalived lowers it). */
  handover(): boolean;
}

/** The VRRP states of this node's instances and their way into each VirtualIP's status.nodes. */
export class StateReport {
  private current: InstanceStates = {};
  /** Known VirtualIP uids (from status writes), for the Events. */
  private readonly uids = new Map<string, string>();
  /** Conditions waiting on the states (the planned handover). */
  readonly waiters: StateWaiters;
  private readonly reporter: StatusReporter;

  constructor(private readonly opts: StateReportOptions) {
    this.waiters = new StateWaiters(opts.clock);
    this.reporter = new StatusReporter({
      clock: opts.clock,
      // Short enough that the status catches up within seconds after an API outage.
      retryMaxMs: 5000,
      desired: (key) => planReport({ key, node: opts.node, map: opts.applied(), states: this.current, rejected: opts.rejections(), now: opts.clock.now() }),
      apply: async (key, report) => {
        const uid = await opts.kube.applyStatusEntry(splitKey(key), report.kind === "entry" ? report.entry : undefined);
        if (uid) this.uids.set(key, uid);
      },
      onReported: (key, report, ms) => {
        opts.metrics.reportLatency.observe(ms / 1000);
        const fields = report.kind === "entry" ? { state: report.entry.state, priority: report.entry.priority } : { removed: true };
        opts.logger.info("Reported node status", { virtualIP: key, ...fields, latencyMs: ms });
      },
      onFailed: (key, err, retryInMs) => {
        opts.metrics.reportFailures.inc();
        opts.logger.warn("Failed to report node status", { virtualIP: key, error: describeError(err), retryInMs });
      },
    });
  }

  /** The states now (never mutated: each change is a new object). */
  get states(): InstanceStates {
    return this.current;
  }

  /** The vrrp_instance names that are MASTER now. */
  masters(): string[] {
    return Object.entries(this.current)
      .filter(([, s]) => s.state === "MASTER")
      .map(([name]) => name);
  }

  /** The uid of a VirtualIP, once a status write returned it. */
  uid(key: string): string | undefined {
    return this.uids.get(key);
  }

  /** Notes that a VirtualIP's report may have changed (because of an event at `at`, default now). */
  mark(key: string, at?: number): void {
    this.reporter.mark(key, at);
  }

  /** Reports every VirtualIP of the applied map again (a resync, or after an API outage). */
  markAll(): void {
    for (const key of virtualIPKeys(this.opts.applied())) this.reporter.mark(key);
  }

  /** Sends the writes waiting for a retry now (the API server is back). */
  retryNow(): void {
    this.reporter.retryNow();
  }

  /** A new instance map runs: metrics, effective priorities, and a report for every VirtualIP named before or now. */
  adopt(before: NodeInstanceMap | undefined, map: NodeInstanceMap): void {
    const keys = new Set([...virtualIPKeys(before), ...virtualIPKeys(map)]);
    setInstanceInfo(this.opts.metrics, map.instances);
    const now = this.opts.clock.now();
    this.fold({ kind: "configured", priorities: effectivePriorities(map.instances, this.opts.handover()) }, now);
    for (const key of keys) this.reporter.mark(key, now);
  }

  /** The priorities keepalived runs with (configured, lowered while the handover file is 1) become the ones reported. */
  refreshPriorities(): void {
    const map = this.opts.applied();
    if (map) this.fold({ kind: "configured", priorities: effectivePriorities(map.instances, this.opts.handover()) }, this.opts.clock.now());
  }

  /** One notify FIFO line, read at `at`. */
  onFifoLine(line: string, at: number): void {
    const event = parseNotifyLine(line);
    if (!event) {
      this.opts.logger.debug("Ignored notify FIFO line", { line });
      return;
    }
    // A reload reports instances it just removed (2.2.7: FAULT); only configured instances count.
    if ("instance" in event && !this.opts.applied()?.instances.some((i) => i.instance === event.instance)) {
      this.opts.logger.debug("Ignored notify FIFO line of an unconfigured instance", { line });
      return;
    }
    this.fold(event, at);
  }

  /** Folds one event into the states; a changed instance updates its metrics and marks its VirtualIPs. */
  fold(event: NotifyEvent, at: number): void {
    const before = this.current;
    const after = foldState(before, event, at);
    if (after === before) return;
    this.current = after;
    this.waiters.changed();
    const touched = this.recordChanges(before, after);
    for (const inst of this.opts.applied()?.instances ?? []) {
      if (touched.has(inst.instance)) for (const key of inst.virtualIPs) this.reporter.mark(key, at);
    }
  }

  /** Metrics and logs of what changed between two folds; answers the instances that changed. */
  private recordChanges(before: InstanceStates, after: InstanceStates): Set<string> {
    const { metrics, logger } = this.opts;
    const touched = new Set<string>();
    for (const [instance, s] of Object.entries(after)) {
      const prev = before[instance];
      if (prev === s) continue;
      touched.add(instance);
      if (prev?.state === s.state) continue;
      setInstanceState(metrics, instance, s.state);
      if (prev) metrics.transitions.inc({ vrrp_instance: instance, to: s.state });
      logger.info("Observed VRRP state", { instance, from: prev?.state, to: s.state, priority: s.priority });
    }
    for (const instance of Object.keys(before)) {
      if (instance in after) continue;
      touched.add(instance);
      removeInstance(metrics, instance);
    }
    return touched;
  }

  /** Waits until every pending write is done, at most `timeoutMs`; answers whether they all were. */
  async flush(timeoutMs: number): Promise<boolean> {
    const done = await withTimeout(
      this.opts.clock,
      this.reporter.idle().then(() => true),
      timeoutMs,
      false,
    );
    if (!done) this.opts.logger.warn("Gave up reporting STOPPED before exit", { pending: this.reporter.pending() });
    return done;
  }

  /** Stops writing (writes in flight finish). */
  close(): void {
    this.reporter.close();
  }
}
