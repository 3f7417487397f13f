// The node agent: wiring only. Config sync (config-sync.ts), state reporting
// (state-report.ts), the heartbeat and its node facts (heartbeat.ts,
// node-facts.ts), placement and the planned handover (planned-handover.ts)
// meet here, around the I/O seams of ports.ts (real ones: io.ts).
import type { SecretWatch } from "../kube/agent-io.js";
import { describeError, type KubeClients } from "../kube/client.js";
import { realClock, type Clock, type Timer } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { ConfigSync } from "./config-sync.js";
import { livenessOf, readinessOf, watchesHealthOf } from "./health.js";
import { Heartbeat } from "./heartbeat.js";
import { nodeIO } from "./io.js";
import { createAgentMetrics, type AgentMetrics } from "./metrics.js";
import { NodeFacts } from "./node-facts.js";
import { PlannedHandover } from "./planned-handover.js";
import type { AgentIO, KeepalivedControl, NotifyFifo } from "./ports.js";
import { PublishedPlanView } from "./published.js";
import { runtimePaths } from "./runtime.js";
import { StateReport } from "./state-report.js";

export { AGENT_COMPONENT, INSTANCE_SECRETS_SELECTOR } from "./io.js";

/** What configures an agent, as read from flags and environment. */
export interface AgentSettings {
  node: string;
  /** Namespace of the config Secrets and the heartbeat Lease (the operator's). */
  namespace: string;
  /** The node's InternalIP, to find the default interface. */
  hostIP?: string;
  runtimeDir: string;
  keepalivedPath: string;
  /** "host:port" of /metrics, /healthz, /readyz. */
  metricsBindAddress: string;
  leaseDurationSeconds: number;
  heartbeatIntervalMs: number;
}

/** Settings plus the collaborators the agent runs with. */
export interface AgentOptions extends AgentSettings {
  clients: KubeClients;
  logger: Logger;
  clock?: Clock;
  metrics?: AgentMetrics;
  /** The I/O seams; default the node's real ones (io.ts). Tests pass fakes. */
  io?: AgentIO;
  /** Every VirtualIP is reported again this often (repairs entries removed by others). Default 5 min. */
  resyncIntervalMs?: number;
  /** How long shutdown waits for the final STOPPED reports. Default 5 s. */
  shutdownReportTimeoutMs?: number;
  /** How long a planned handover may take (within the Pod's terminationGracePeriodSeconds). Default 15 s. */
  handoverTimeoutMs?: number;
}

/** The running agent of one node. */
export class Agent {
  readonly metrics: AgentMetrics;
  private readonly clock: Clock;
  private readonly io: AgentIO;
  private readonly plan: PublishedPlanView;
  private readonly sync: ConfigSync;
  private readonly state: StateReport;
  private readonly facts: NodeFacts;
  private readonly heartbeat: Heartbeat;
  private readonly handover: PlannedHandover;
  private readonly keepalived: KeepalivedControl;
  private readonly fifo: NotifyFifo;
  private watches: SecretWatch[] = [];
  private health?: { close(): Promise<void> };
  private resyncTimer?: Timer;

  constructor(private readonly opts: AgentOptions) {
    const clock = (this.clock = opts.clock ?? realClock);
    const metrics = (this.metrics = opts.metrics ?? createAgentMetrics());
    const io = (this.io = opts.io ?? nodeIO({ ...opts, clock, registry: metrics.registry }));
    const logger = opts.logger;
    this.plan = new PublishedPlanView(opts.node);
    this.state = new StateReport({
      node: opts.node,
      kube: io.kube,
      clock,
      logger,
      metrics,
      applied: () => this.sync.applied,
      rejections: () => this.sync.gate.rejections(),
      handover: () => io.trackFiles.handover,
    });
    this.handover = this.createHandover();
    this.sync = this.createConfigSync();
    this.facts = new NodeFacts({
      links: io.links,
      logger,
      ...(opts.hostIP !== undefined ? { hostIP: opts.hostIP } : {}),
      onChanged: (next) => {
        if (this.sync.retestRefused())
          logger.info("Node interfaces or IPVS changed: testing refused instances again", { interfaces: next.interfaces?.length, ipvs: next.ipvs });
      },
    });
    this.keepalived = io.keepalived({
      onUnexpectedExit: () => this.afterKeepalivedDied(),
      onStarted: () => void this.fifo.check(),
      beforeStart: async () => {
        await io.leftovers.beforeStart(this.sync.applied?.instances ?? []);
      },
    });
    this.fifo = io.fifo({
      onLine: (line, at) => this.state.onFifoLine(line, at),
      // keepalived keeps writing to the lost inode until it reloads.
      onRecreated: () =>
        void this.keepalived
          .hangup()
          .then((sent) => sent && logger.info("Sent SIGHUP to keepalived to reopen the notify FIFO", { path: runtimePaths(opts.runtimeDir).fifo })),
    });
    this.heartbeat = this.createHeartbeat();
  }

  private createConfigSync(): ConfigSync {
    const { opts, io } = this;
    return new ConfigSync({
      node: opts.node,
      plan: this.plan,
      files: io.files,
      kube: io.kube,
      keepalived: () => this.keepalived,
      clock: this.clock,
      logger: opts.logger,
      metrics: this.metrics,
      onApplied: (before, map) => {
        this.facts.setApplied(map);
        this.state.adopt(before, map);
      },
      onRejectionsChanged: (keys) => keys.forEach((key) => this.state.mark(key)),
      beforeDecide: () => this.handover.syncPlacement(),
      uid: (key) => this.state.uid(key),
    });
  }

  private createHandover(): PlannedHandover {
    const { opts, io } = this;
    return new PlannedHandover({
      plan: this.plan,
      state: this.state,
      trackFiles: io.trackFiles,
      leftovers: io.leftovers,
      keepalived: () => this.keepalived,
      applied: () => this.sync.applied,
      vrrpPid: () => io.vrrpPid(),
      syncSettled: () => this.sync.settled(),
      clock: this.clock,
      logger: opts.logger,
      ...(opts.handoverTimeoutMs !== undefined ? { timeoutMs: opts.handoverTimeoutMs } : {}),
    });
  }

  private createHeartbeat(): Heartbeat {
    const { io, clock } = this;
    return new Heartbeat({
      clock,
      intervalMs: this.opts.heartbeatIntervalMs,
      logger: this.opts.logger,
      renew: async () => io.kube.applyLease(await this.facts.leaseAnnotations(), clock.now()),
      onFailure: () => this.metrics.heartbeatFailures.inc(),
      // The API server answers again: catch up now rather than at the end of each backoff.
      // A silence that long may have let the operator mark this node UNKNOWN (it speaks for
      // a silent agent, ADR 0003) while nothing here changed: send every entry again.
      onRecovered: () => {
        this.state.markAll();
        this.state.retryNow();
        for (const w of this.watches) w.retryNow();
      },
    });
  }

  /** Starts everything; keepalived starts at once when a last good config is installed. */
  async start(): Promise<void> {
    const { io, opts } = this;
    await io.files.ensureDir();
    await this.fifo.start();
    this.health = await io.serveHealth({
      healthz: { keepalived: () => livenessOf(this.keepalived.phase, this.sync.hasConfig) },
      // Not ready while a config watch is down (an API outage); keepalived runs on regardless (ADR 0019).
      readyz: { keepalived: () => readinessOf(this.keepalived.phase, this.sync.hasConfig), watches: () => watchesHealthOf(this.watches) },
    });
    await this.facts.discover();
    this.heartbeat.start();
    await this.handover.reset();

    // 1: Resume the last good config (the API server may be unreachable).
    if (await this.sync.resume()) {
      opts.logger.info("Starting keepalived with the installed config", { path: runtimePaths(opts.runtimeDir).config });
      await this.keepalived.start();
    }
    this.facts.runningIsKnown();

    // 2: Follow the published plan: the node's own Secret and the instance Secrets.
    this.watches = [
      io.kube.watchNodeSecret({
        onChange: (secret) => this.sync.changed(this.plan.setNode(secret)),
        onError: (err, retryInMs) => opts.logger.warn("Failed to watch node Secret", { error: describeError(err), retryInMs }),
      }),
      io.kube.watchInstanceSecrets({
        onList: (secrets) => this.sync.changed(this.plan.replaceInstances(secrets)),
        onEvent: (type, secret) => this.sync.changed(type === "DELETED" ? this.plan.deleteInstance(secret.name) : this.plan.putInstance(secret)),
        onError: (err, retryInMs) => opts.logger.warn("Failed to watch instance Secrets", { error: describeError(err), retryInMs }),
      }),
    ];
    // 3: Report every VirtualIP again now and then (repairs entries removed by others).
    this.scheduleResync();
  }

  /** Stops keepalived (BACKUPs take over at once), reports STOPPED, closes everything. */
  async stop(): Promise<void> {
    const log = this.opts.logger;
    log.info("Stopping agent");
    for (const w of this.watches) w.stop();
    this.resyncTimer?.cancel();
    // The heartbeat goes on while this node still runs keepalived (the handover takes a few adverts).
    await this.handover.beforeStop();
    await this.keepalived.stop();
    this.heartbeat.stop();
    this.state.fold({ kind: "all", state: "STOPPED" }, this.clock.now());
    await this.state.flush(this.opts.shutdownReportTimeoutMs ?? 5000);
    this.state.close();
    this.fifo.close();
    await this.health?.close();
    log.info("Stopped agent");
  }

  private async afterKeepalivedDied(): Promise<void> {
    const removed = await this.io.leftovers.cleanup(this.sync.applied?.instances ?? []);
    this.state.fold({ kind: "all", state: "FAULT" }, this.clock.now());
    this.metrics.keepalivedRestarts.inc();
    this.opts.logger.info("Cleaned up after keepalived", { removedVIPs: removed.map((a) => a.address) });
  }

  private scheduleResync(): void {
    this.resyncTimer = this.clock.setTimer(() => {
      this.state.markAll();
      this.scheduleResync();
    }, this.opts.resyncIntervalMs ?? 300_000);
  }
}
