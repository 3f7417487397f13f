// The node agent: glues config sync (watches of the published plan,
// assembly, --config-test, atomic install, reload), keepalived supervision,
// notify FIFO, status reports, heartbeat, interface discovery and metrics
// together. I/O (through the modules it wires).
import { ANNOTATION_DEFAULT_INTERFACE, ANNOTATION_HOST_ADDRESSES, COMPONENT_INSTANCE_CONFIG, LABEL_COMPONENT, agentLeaseName, nodeConfigSecretName, type NodeInstanceMap } from "../api/index.js";
import { describeError, type KubeClients } from "../kube/client.js";
import { applyHeartbeatLease, applyNodeStatusEntry, createVirtualIPEvent, watchSecretByName, watchSecrets, type SecretWatch } from "../kube/agent-io.js";
import { realClock, type Clock, type Timer } from "../shared/clock.js";
import { startHealthServer, type HealthCheckResult, type HealthServer } from "../shared/health-server.js";
import type { Logger } from "../shared/logger.js";
import { planConfigSync, type NodeConfig } from "./config.js";
import { NotifyFifoReader } from "./fifo.js";
import { Heartbeat } from "./heartbeat.js";
import { findHostInterface, hostAddresses } from "./ip.js";
import { readInterfaces, removeLeftoverVips } from "./ip-io.js";
import { KeepalivedSupervisor } from "./keepalived.js";
import { createAgentMetrics, removeInstance, setInstanceInfo, setInstanceState, type AgentMetrics } from "./metrics.js";
import { foldState, parseNotifyLine, type InstanceStates, type NotifyEvent } from "./notify.js";
import { PublishedPlanView, type PlanDecision } from "./published.js";
import { StatusReporter } from "./reporter.js";
import { ensureRuntimeDir, installConfig, installInstances, readRunningConfig, runtimePaths, testCandidateConfig, type RuntimePaths } from "./runtime.js";
import { planReport, splitKey, virtualIPKeys } from "./status.js";

/** Reporting component name in Events and logs. */
export const AGENT_COMPONENT = "keepalived-vip-agent";

/** Label selector of the instance Secrets (instance.json) in the agent's namespace. */
export const INSTANCE_SECRETS_SELECTOR = `${LABEL_COMPONENT}=${COMPONENT_INSTANCE_CONFIG}`;

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
  /** Every VirtualIP is reported again this often (repairs entries removed by others). Default 5 min. */
  resyncIntervalMs?: number;
  /** How long shutdown waits for the final STOPPED reports. Default 5 s. */
  shutdownReportTimeoutMs?: number;
}

/** The running agent of one node. */
export class Agent {
  private readonly paths: RuntimePaths;
  private readonly clock: Clock;
  readonly metrics: AgentMetrics;
  private readonly supervisor: KeepalivedSupervisor;
  private readonly reporter: StatusReporter;
  private readonly fifo: NotifyFifoReader;
  private readonly heartbeat: Heartbeat;
  private watches: SecretWatch[] = [];
  private health?: HealthServer;
  private resyncTimer?: Timer;

  private appliedConfig?: string;
  private applied?: NodeInstanceMap;
  private states: InstanceStates = {};
  private lastRejectedHash?: string;
  private defaultInterface?: string;
  /** The node's own addresses, published on the heartbeat Lease (never a VirtualIP). */
  private hostAddresses: string[] = [];
  private beats = 0;
  private readonly uids = new Map<string, string>();
  private readonly plan: PublishedPlanView;
  /** The problem of the last refusal before config-test (the same one is not refused again). */
  private lastRefusedProblem?: string;
  /** What the agent waits for, while it waits. */
  private waitingFor?: string;
  private syncPending = false;
  private syncing?: Promise<void>;

  constructor(private readonly opts: AgentOptions) {
    this.paths = runtimePaths(opts.runtimeDir);
    this.clock = opts.clock ?? realClock;
    this.metrics = opts.metrics ?? createAgentMetrics();
    this.plan = new PublishedPlanView(opts.node);
    this.supervisor = new KeepalivedSupervisor({
      keepalivedPath: opts.keepalivedPath,
      paths: this.paths,
      logger: opts.logger,
      clock: this.clock,
      onUnexpectedExit: () => this.afterKeepalivedDied(),
      onStarted: () => void this.fifo.check(),
    });
    this.reporter = new StatusReporter({
      clock: this.clock,
      // Short enough that the status catches up within seconds after an API outage.
      retryMaxMs: 5000,
      desired: (key) => planReport({ key, node: opts.node, map: this.applied, states: this.states, now: this.clock.now() }),
      apply: async (key, report) => {
        const uid = await applyNodeStatusEntry(opts.clients, splitKey(key), opts.node, report.kind === "entry" ? report.entry : undefined);
        if (uid) this.uids.set(key, uid);
      },
      onReported: (key, report, ms) => {
        this.metrics.reportLatency.observe(ms / 1000);
        const fields = report.kind === "entry" ? { state: report.entry.state, priority: report.entry.priority } : { removed: true };
        opts.logger.info("Reported node status", { virtualIP: key, ...fields, latencyMs: ms });
      },
      onFailed: (key, err, retryInMs) => {
        this.metrics.reportFailures.inc();
        opts.logger.warn("Failed to report node status", { virtualIP: key, error: describeError(err), retryInMs });
      },
    });
    this.fifo = new NotifyFifoReader({ path: this.paths.fifo, logger: opts.logger, onLine: (line, at) => this.onFifoLine(line, at), now: () => this.clock.now() });
    this.heartbeat = new Heartbeat({
      clock: this.clock,
      intervalMs: opts.heartbeatIntervalMs,
      logger: opts.logger,
      renew: () => this.renewLease(),
      onFailure: () => this.metrics.heartbeatFailures.inc(),
      // The API server answers again: catch up now rather than at the end of each backoff.
      // A silence that long may have let the operator mark this node UNKNOWN (it speaks for
      // a silent agent, ADR 0003) while nothing here changed: send every entry again.
      onRecovered: () => {
        for (const key of virtualIPKeys(this.applied)) this.reporter.mark(key);
        this.reporter.retryNow();
        for (const w of this.watches) w.retryNow();
      },
    });
  }

  /** Starts everything; keepalived starts at once when a last good config is installed. */
  async start(): Promise<void> {
    const log = this.opts.logger;
    await ensureRuntimeDir(this.paths);
    await this.fifo.start();
    this.health = await startHealthServer({
      bindAddress: this.opts.metricsBindAddress,
      registry: this.metrics.registry,
      healthz: { keepalived: () => this.liveness() },
      // Not ready while a config watch is down (an API outage); keepalived runs on regardless (ADR 0014).
      readyz: { keepalived: () => this.readiness(), watches: () => this.watchHealth() },
      logger: log,
    });
    await this.discoverInterface();
    this.heartbeat.start();

    // 1: Resume the last good config (the API server may be unreachable).
    const running = await readRunningConfig(this.paths);
    if (running.config !== undefined && running.instances) {
      this.appliedConfig = running.config;
      this.setApplied(running.instances);
      log.info("Starting keepalived with the installed config", { path: this.paths.config });
      await this.supervisor.start();
    }

    // 2: Follow the published plan: the node's own Secret and the instance Secrets.
    const namespace = this.opts.namespace;
    this.watches = [
      watchSecretByName(this.opts.clients, {
        namespace,
        name: nodeConfigSecretName(this.opts.node),
        onChange: (secret) => this.changed(this.plan.setNode(secret)),
        onError: (err, retryInMs) => log.warn("Failed to watch node Secret", { error: describeError(err), retryInMs }),
        clock: this.clock,
      }),
      watchSecrets(this.opts.clients, {
        namespace,
        labelSelector: INSTANCE_SECRETS_SELECTOR,
        onList: (secrets) => this.changed(this.plan.replaceInstances(secrets)),
        onEvent: (type, secret) => this.changed(type === "DELETED" ? this.plan.deleteInstance(secret.name) : this.plan.putInstance(secret)),
        onError: (err, retryInMs) => log.warn("Failed to watch instance Secrets", { error: describeError(err), retryInMs }),
        clock: this.clock,
      }),
    ];
    this.scheduleResync();
  }

  /** Stops keepalived (BACKUPs take over at once), reports STOPPED, closes everything. */
  async stop(): Promise<void> {
    const log = this.opts.logger;
    log.info("Stopping agent");
    for (const w of this.watches) w.stop();
    this.heartbeat.stop();
    this.resyncTimer?.cancel();
    await this.supervisor.stop();
    this.fold({ kind: "all", state: "STOPPED" }, this.clock.now());
    const timeout = this.opts.shutdownReportTimeoutMs ?? 5000;
    const done = await Promise.race([this.reporter.idle().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeout))]);
    if (!done) log.warn("Gave up reporting STOPPED before exit", { pending: this.reporter.pending() });
    this.reporter.close();
    this.fifo.close();
    await this.health?.close();
    log.info("Stopped agent");
  }

  private liveness(): HealthCheckResult {
    const phase = this.supervisor.phase;
    if (phase === "running") return { ok: true };
    if (phase === "backoff") return this.appliedConfig !== undefined ? { ok: true } : { ok: false, message: "keepalived is failing without a good config" };
    if (phase === "idle") return this.appliedConfig === undefined ? { ok: true, message: "waiting for a config" } : { ok: false, message: "keepalived is not started" };
    return { ok: false, message: `keepalived is ${phase}` };
  }

  private watchHealth(): HealthCheckResult {
    const bad = this.watches.map((w) => w.health()).filter((h) => !h.ok);
    if (this.watches.length === 0) return { ok: false, message: "not watching yet" };
    return bad.length === 0 ? { ok: true } : { ok: false, message: bad.map((h) => h.message).join("; ") };
  }

  private readiness(): HealthCheckResult {
    if (this.appliedConfig === undefined) return { ok: false, message: "no config installed yet" };
    return this.supervisor.phase === "running" ? { ok: true } : { ok: false, message: `keepalived is ${this.supervisor.phase}` };
  }

  // --- config sync ---------------------------------------------------------

  /** A watch changed the plan view; `relevant`: the change can matter to this node's config. */
  private changed(relevant: boolean): void {
    if (!relevant || !this.plan.synced) return;
    this.syncPending = true;
    this.syncing ??= this.drainChanges().finally(() => (this.syncing = undefined));
  }

  /** Decides on the plan one change at a time; a burst collapses to one decision on the latest view. */
  private async drainChanges(): Promise<void> {
    while (this.syncPending) {
      this.syncPending = false;
      try {
        await this.syncConfig();
      } catch (err) {
        this.opts.logger.error("Failed to sync config", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  private async syncConfig(): Promise<void> {
    const log = this.opts.logger;
    const decision = this.plan.decide(this.applied);
    this.setWaiting(decision);
    if (decision.kind === "wait") return;
    if (decision.kind === "refuse") {
      if (decision.problem === this.lastRefusedProblem) {
        log.debug("Config still refused", { problem: decision.problem });
        return;
      }
      this.lastRefusedProblem = decision.problem;
      this.refuse({ problems: [decision.problem], virtualIPs: decision.virtualIPs });
      return;
    }
    this.lastRefusedProblem = undefined;
    const candidate = decision.candidate;
    const plan = planConfigSync(candidate, { config: this.appliedConfig, instances: this.applied });
    if (plan.action === "none") {
      log.debug("Config unchanged", { hash: candidate.hash });
      if (this.supervisor.phase === "idle") await this.supervisor.start();
      return;
    }
    if (plan.action === "write-instances") {
      await installInstances(this.paths, candidate.instances);
      this.setApplied(candidate.instances);
      log.info("Updated instance map", { hash: candidate.hash });
      return;
    }
    await this.applyConfig(candidate);
  }

  /**
   * Tracks waiting for the rest of the published plan: the gauge, and a log
   * line when the reason changes (info) or stays (debug). Waiting is not a
   * failure: the running config keeps running.
   */
  private setWaiting(decision: PlanDecision): void {
    const log = this.opts.logger;
    const before = this.waitingFor;
    this.waitingFor = decision.kind === "wait" ? decision.problem : undefined;
    this.metrics.configWaiting.set(decision.kind === "wait" ? 1 : 0);
    if (decision.kind === "wait") {
      const fields = { problem: decision.problem, missing: decision.missing.slice(0, 20), keepsRunning: this.appliedConfig !== undefined };
      if (decision.problem !== before) log.info("Waiting for the published plan", fields);
      else log.debug("Still waiting for the published plan", fields);
    } else if (before !== undefined) {
      log.info("Stopped waiting for the published plan", { waitedFor: before, decision: decision.kind });
    }
  }

  private async applyConfig(candidate: NodeConfig): Promise<void> {
    const log = this.opts.logger;
    if (candidate.hash === this.lastRejectedHash) return;
    const verdict = await testCandidateConfig(this.paths, candidate.config, { keepalivedPath: this.opts.keepalivedPath });
    if (!verdict.ok) {
      this.lastRejectedHash = candidate.hash;
      this.refuse({ problems: verdict.problems, virtualIPs: virtualIPKeys(candidate.instances), hash: candidate.hash });
      return;
    }
    this.lastRejectedHash = undefined;
    await installConfig(this.paths, candidate.instances);
    this.appliedConfig = candidate.config;
    this.setApplied(candidate.instances);
    const how = await this.supervisor.reload();
    if (how === "reloaded") this.metrics.reloads.inc();
    log.info("Applied keepalived config", { hash: candidate.hash, keepalived: how, instances: candidate.instances.instances.length });
  }

  /** A refused candidate: counted, logged, and an Event on each VirtualIP it concerns. The last good config keeps running. */
  private refuse(what: { problems: string[]; virtualIPs: string[]; hash?: string }): void {
    this.metrics.configTestFailures.inc();
    const running = this.appliedConfig !== undefined;
    this.opts.logger.error("Refused keepalived config", { hash: what.hash, problems: what.problems, keepsRunning: running });
    const hash = what.hash ? ` (hash ${what.hash.slice(0, 12)})` : "";
    const tail = running ? "the last good config keeps running" : "keepalived is not started";
    const message = `Node ${this.opts.node} refused its keepalived config${hash}: ${what.problems.slice(0, 5).join("; ")}; ${tail}`;
    for (const key of what.virtualIPs) {
      const ref = splitKey(key);
      createVirtualIPEvent(this.opts.clients, {
        ref,
        uid: this.uids.get(key),
        type: "Warning",
        reason: "ConfigTestFailed",
        message,
        component: AGENT_COMPONENT,
        node: this.opts.node,
        now: this.clock.now(),
      }).catch((err: unknown) => this.opts.logger.warn("Failed to record Event", { virtualIP: key, error: describeError(err) }));
    }
  }

  /** Adopts an instance map: configured priorities, dropped instances, and a report for every VirtualIP named before or now. */
  private setApplied(map: NodeInstanceMap): void {
    const keys = new Set([...virtualIPKeys(this.applied), ...virtualIPKeys(map)]);
    this.applied = map;
    setInstanceInfo(this.metrics, map.instances);
    const priorities = Object.fromEntries(map.instances.map((i) => [i.instance, i.priority]));
    this.fold({ kind: "configured", priorities }, this.clock.now());
    const now = this.clock.now();
    for (const key of keys) this.reporter.mark(key, now);
  }

  // --- keepalived state ----------------------------------------------------

  private onFifoLine(line: string, at: number): void {
    const event = parseNotifyLine(line);
    if (!event) {
      this.opts.logger.debug("Ignored notify FIFO line", { line });
      return;
    }
    // A reload reports instances it just removed (2.2.7: FAULT); only configured instances count.
    if ("instance" in event && !this.applied?.instances.some((i) => i.instance === event.instance)) {
      this.opts.logger.debug("Ignored notify FIFO line of an unconfigured instance", { line });
      return;
    }
    this.fold(event, at);
  }

  private fold(event: NotifyEvent, at: number): void {
    const before = this.states;
    const after = foldState(before, event, at);
    if (after === before) return;
    this.states = after;
    const touched = new Set<string>();
    for (const [instance, s] of Object.entries(after)) {
      const prev = before[instance];
      if (prev === s) continue;
      touched.add(instance);
      if (prev?.state !== s.state) {
        setInstanceState(this.metrics, instance, s.state);
        if (prev) this.metrics.transitions.inc({ vrrp_instance: instance, to: s.state });
        this.opts.logger.info("Observed VRRP state", { instance, from: prev?.state, to: s.state, priority: s.priority });
      }
    }
    for (const instance of Object.keys(before)) {
      if (instance in after) continue;
      touched.add(instance);
      removeInstance(this.metrics, instance);
    }
    for (const inst of this.applied?.instances ?? []) {
      if (touched.has(inst.instance)) for (const key of inst.virtualIPs) this.reporter.mark(key, at);
    }
  }

  private async afterKeepalivedDied(): Promise<void> {
    const removed = await removeLeftoverVips({ instances: this.applied?.instances ?? [], hostIP: this.opts.hostIP, logger: this.opts.logger });
    this.fold({ kind: "all", state: "FAULT" }, this.clock.now());
    this.metrics.keepalivedRestarts.inc();
    this.opts.logger.info("Cleaned up after keepalived", { removedVIPs: removed.map((a) => a.address) });
  }

  private scheduleResync(): void {
    const every = this.opts.resyncIntervalMs ?? 300_000;
    this.resyncTimer = this.clock.setTimer(() => {
      for (const key of virtualIPKeys(this.applied)) this.reporter.mark(key);
      this.scheduleResync();
    }, every);
  }

  // --- heartbeat and interface ---------------------------------------------

  private async discoverInterface(): Promise<void> {
    if (!this.opts.hostIP) return;
    try {
      const links = await readInterfaces();
      const found = findHostInterface(links, this.opts.hostIP);
      this.hostAddresses = hostAddresses(links, found, this.opts.hostIP);
      if (found !== this.defaultInterface) {
        if (found) this.opts.logger.info("Found default interface", { interface: found, hostIP: this.opts.hostIP });
        else this.opts.logger.warn("No interface carries the host IP", { hostIP: this.opts.hostIP });
      }
      this.defaultInterface = found;
    } catch (err) {
      this.opts.logger.warn("Failed to read interfaces", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async renewLease(): Promise<void> {
    if (this.beats++ % 10 === 9 || this.defaultInterface === undefined) await this.discoverInterface();
    const annotations: Record<string, string> = this.defaultInterface ? { [ANNOTATION_DEFAULT_INTERFACE]: this.defaultInterface } : {};
    if (this.hostAddresses.length > 0) annotations[ANNOTATION_HOST_ADDRESSES] = this.hostAddresses.join(",");
    await applyHeartbeatLease(this.opts.clients, {
      namespace: this.opts.namespace,
      name: agentLeaseName(this.opts.node),
      node: this.opts.node,
      leaseDurationSeconds: this.opts.leaseDurationSeconds,
      annotations,
      now: this.clock.now(),
    });
  }
}
