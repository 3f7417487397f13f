// The node agent: glues config sync (watches of the published plan,
// assembly, --config-test, atomic install, reload), keepalived supervision,
// notify FIFO, status reports, heartbeat, interface discovery and metrics
// together. I/O (through the modules it wires).
import { ANNOTATION_DEFAULT_INTERFACE, ANNOTATION_HOST_ADDRESSES, ANNOTATION_RUNNING_ADDRESSES, COMPONENT_INSTANCE_CONFIG, HANDOVER_TRACK_FILE, LABEL_COMPONENT, agentLeaseName, nodeConfigSecretName, type NodeInstanceMap } from "../api/index.js";
import { describeError, type KubeClients } from "../kube/client.js";
import { applyHeartbeatLease, applyNodeStatusEntry, createVirtualIPEvent, watchSecretByName, watchSecrets, type SecretWatch } from "../kube/agent-io.js";
import { realClock, type Clock, type Timer } from "../shared/clock.js";
import { startHealthServer, type HealthCheckResult, type HealthServer } from "../shared/health-server.js";
import type { Logger } from "../shared/logger.js";
import { ConfigGate } from "./gate.js";
import { NotifyFifoReader } from "./fifo.js";
import { endedMasters, handOver, readVrrpPid, StateWaiters, type HandoverPorts } from "./handover.js";
import { Heartbeat } from "./heartbeat.js";
import { findHostInterface, hostAddresses, nodeFactsAnnotations, publishedInterfaces } from "./ip.js";
import { readInterfaces } from "./ip-io.js";
import { LeftoverTracker } from "./leftovers.js";
import { KeepalivedSupervisor } from "./keepalived.js";
import { createAgentMetrics, removeInstance, setInstanceInfo, setInstanceState, type AgentMetrics } from "./metrics.js";
import { foldState, parseNotifyLine, type InstanceStates, type NotifyEvent } from "./notify.js";
import { effectivePriorities, effectivePriority, planTrackValues, TrackFiles } from "./placement.js";
import { PublishedPlanView, type PlanDecision } from "./published.js";
import { fieldOfProblem, sanitizeText } from "./isolate.js";
import { StatusReporter } from "./reporter.js";
import { RunningAddresses } from "./running.js";
import { ensureRuntimeDir, installConfig, installInstances, ipvsAvailable, readAcceptedParts, readRunningConfig, runtimePaths, testCandidateConfig, type RuntimePaths } from "./runtime.js";
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
  /** How long a planned handover may take (within the Pod's terminationGracePeriodSeconds). Default 15 s. */
  handoverTimeoutMs?: number;
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
  /** Judges each VRRP instance on its own and installs what passes (ADR 0016). */
  private readonly gate: ConfigGate;
  /** What was on the interfaces before keepalived started: the cleanup removes only what it added. */
  private readonly leftovers: LeftoverTracker;
  private watches: SecretWatch[] = [];
  private health?: HealthServer;
  private resyncTimer?: Timer;

  private appliedConfig?: string;
  private applied?: NodeInstanceMap;
  private states: InstanceStates = {};
  private defaultInterface?: string;
  /** The node's own addresses, published on the heartbeat Lease (never a VirtualIP). */
  private hostAddresses: string[] = [];
  /** What the node has, published on the heartbeat Lease (ADR 0016): interface names and IPVS. */
  private facts: { interfaces?: string[]; ipvs?: boolean } = {};
  private beats = 0;
  /** What the node runs, published for deletions to wait on (ADR 0017); unknown until the installed config is resumed. */
  private readonly running = new RunningAddresses();
  private runningKnown = false;
  private readonly uids = new Map<string, string>();
  private readonly plan: PublishedPlanView;
  /** The problem of the last refusal before config-test (the same one is not refused again). */
  private lastRefusedProblem?: string;
  /** What the agent waits for, while it waits. */
  private waitingFor?: string;
  private syncPending = false;
  private syncing?: Promise<void>;
  /** Track files (handover, standby) and the planned handover (docs/adr/0018). */
  private readonly trackFiles: TrackFiles;
  private stopping = false;
  private handoverReason?: string;
  private handingOver?: Promise<void>;
  private readonly stateWaiters = new StateWaiters();

  constructor(private readonly opts: AgentOptions) {
    this.paths = runtimePaths(opts.runtimeDir);
    this.clock = opts.clock ?? realClock;
    this.metrics = opts.metrics ?? createAgentMetrics();
    this.plan = new PublishedPlanView(opts.node);
    this.leftovers = new LeftoverTracker({ file: this.paths.addressSnapshot, logger: opts.logger, ...(opts.hostIP !== undefined ? { hostIP: opts.hostIP } : {}) });
    this.gate = new ConfigGate({
      assemble: (node, instances) => this.plan.assemble(node, instances),
      test: (config) => testCandidateConfig(this.paths, config, { keepalivedPath: opts.keepalivedPath }),
      install: (installed) => installConfig(this.paths, installed),
      installInstances: (installed) => installInstances(this.paths, installed),
      now: () => this.clock.now(),
    });
    this.trackFiles = new TrackFiles(opts.runtimeDir);
    this.supervisor = new KeepalivedSupervisor({
      keepalivedPath: opts.keepalivedPath,
      paths: this.paths,
      logger: opts.logger,
      clock: this.clock,
      onUnexpectedExit: () => this.afterKeepalivedDied(),
      onStarted: () => void this.fifo.check(),
      beforeStart: async () => {
        await this.leftovers.beforeStart(this.applied?.instances ?? []);
      },
    });
    this.reporter = new StatusReporter({
      clock: this.clock,
      // Short enough that the status catches up within seconds after an API outage.
      retryMaxMs: 5000,
      desired: (key) => planReport({ key, node: opts.node, map: this.applied, states: this.states, rejected: this.gate.rejections(), now: this.clock.now() }),
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
    this.fifo = new NotifyFifoReader({
      path: this.paths.fifo,
      logger: opts.logger,
      onLine: (line, at) => this.onFifoLine(line, at),
      now: () => this.clock.now(),
      // keepalived keeps writing to the lost inode until it reloads.
      onRecreated: () => void this.supervisor.hangup().then((sent) => sent && opts.logger.info("Sent SIGHUP to keepalived to reopen the notify FIFO", { path: this.paths.fifo })),
    });
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
      // Not ready while a config watch is down (an API outage); keepalived runs on regardless (ADR 0019).
      readyz: { keepalived: () => this.readiness(), watches: () => this.watchHealth() },
      logger: log,
    });
    await this.discoverInterface();
    this.heartbeat.start();

    // A handover of an earlier run ends with it; the plan sets it again while the node is cordoned.
    await this.trackFiles.setHandover(false);

    // 1: Resume the last good config (the API server may be unreachable).
    const running = await readRunningConfig(this.paths);
    if (running.config !== undefined && running.instances) {
      this.gate.resume(await readAcceptedParts(this.paths));
      this.appliedConfig = running.config;
      this.setApplied(running.instances);
      log.info("Starting keepalived with the installed config", { path: this.paths.config });
      await this.supervisor.start();
    }
    this.runningKnown = true;

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
    this.resyncTimer?.cancel();
    // The heartbeat goes on while this node still runs keepalived (the handover takes a few adverts).
    await this.handOverBeforeStop();
    await this.supervisor.stop();
    this.heartbeat.stop();
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
    await this.syncPlacement();
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
    await this.applyConfig(decision);
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

  /**
   * Judges the plan instance by instance (ADR 0016), installs what passes and
   * reloads keepalived; a refused instance is reported on its own VirtualIPs only.
   */
  private async applyConfig(decision: Extract<PlanDecision, { kind: "apply" }>): Promise<void> {
    const log = this.opts.logger;
    const outcome = await this.gate.apply({ node: decision.node, instances: decision.instances, full: decision.candidate }, { config: this.appliedConfig, instances: this.applied });
    if (outcome.kind === "refused") {
      if (!outcome.repeated) this.refuse({ problems: outcome.problems, virtualIPs: virtualIPKeys(decision.candidate.instances), hash: outcome.hash });
      return;
    }
    for (const r of outcome.newlyRejected) this.refuse({ problems: r.problems, virtualIPs: r.virtualIPs, instance: r.instance, kept: r.kept });
    const candidate = outcome.candidate;
    if (outcome.action !== "none") {
      this.appliedConfig = candidate.config;
      this.setApplied(candidate.instances);
    }
    for (const key of outcome.touched) this.reporter.mark(key);
    if (outcome.tests > 1) log.info("Judged VRRP instances one by one", { tests: outcome.tests, refused: outcome.newlyRejected.map((r) => r.instance) });
    if (outcome.action === "none") {
      log.debug("Config unchanged", { hash: candidate.hash });
      if (this.supervisor.phase === "idle") await this.supervisor.start();
      return;
    }
    if (outcome.action === "write-instances") {
      log.info("Updated instance map", { hash: candidate.hash });
      return;
    }
    const how = await this.supervisor.reload();
    if (how === "reloaded") this.metrics.reloads.inc();
    log.info("Applied keepalived config", { hash: candidate.hash, keepalived: how, instances: candidate.instances.instances.length });
  }

  /**
   * A refusal: counted, logged, and an Event on each VirtualIP it concerns
   * (with `instance`, only that instance's). The last good config keeps running.
   */
  private refuse(what: { problems: string[]; virtualIPs: string[]; hash?: string; instance?: string; kept?: boolean }): void {
    this.metrics.configTestFailures.inc();
    const running = this.appliedConfig !== undefined;
    this.opts.logger.error("Refused keepalived config", { hash: what.hash, instance: what.instance, problems: what.problems, keepsRunning: what.instance ? what.kept : running });
    const hash = what.hash ? ` (hash ${what.hash.slice(0, 12)})` : "";
    const tail = what.instance
      ? what.kept
        ? "its last good version keeps running"
        : "it does not run on this node; the other instances do"
      : running
        ? "the last good config keeps running"
        : "keepalived is not started";
    const words = sanitizeText(what.problems.slice(0, 5).join("; ")).slice(0, 800);
    const subject = what.instance ? `VRRP instance ${what.instance} (${fieldOfProblem(words)})` : `its keepalived config${hash}`;
    const message = `Node ${this.opts.node} refused ${subject}: ${words}; ${tail}`;
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

  /** Adopts an instance map: effective priorities, dropped instances, and a report for every VirtualIP named before or now. */
  private setApplied(map: NodeInstanceMap): void {
    const keys = new Set([...virtualIPKeys(this.applied), ...virtualIPKeys(map)]);
    this.applied = map;
    this.running.setApplied(map);
    setInstanceInfo(this.metrics, map.instances);
    this.foldEffectivePriorities();
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
    this.stateWaiters.changed();
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

  // --- placement and planned handover (docs/adr/0018) ---------------------

  /** Writes the track files the plan asks for; starts a handover when the node begins to hand over. */
  private async syncPlacement(): Promise<void> {
    const node = this.plan.publishedNode;
    if (!node) return;
    const changed = await this.trackFiles.write(planTrackValues(node, this.stopping));
    if (changed.length > 0) this.opts.logger.info("Updated track files", { changed, handover: node.handover });
    if (changed.includes(HANDOVER_TRACK_FILE)) this.foldEffectivePriorities();
    const began = node.handover !== undefined && this.handoverReason === undefined;
    this.handoverReason = node.handover;
    if (began && !this.stopping) this.handingOver ??= this.runHandover(`node ${node.handover}`).finally(() => (this.handingOver = undefined));
  }

  /** The agent is stopping: every instance to the lowest priority, MASTERs handed over, then keepalived may stop. */
  private async handOverBeforeStop(): Promise<void> {
    this.stopping = true;
    try {
      // A sync under way may still write the handover file from the plan; let it finish first.
      await this.syncing;
      await this.handingOver;
      if (await this.trackFiles.setHandover(true)) this.foldEffectivePriorities();
      if (this.supervisor.phase === "running") await this.runHandover("agent stopping");
    } catch (err) {
      this.opts.logger.warn("Failed to hand over before stopping", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** The priorities keepalived runs with (configured, lowered while the handover file is 1) become the ones reported. */
  private foldEffectivePriorities(): void {
    if (this.applied) this.fold({ kind: "configured", priorities: effectivePriorities(this.applied.instances, this.trackFiles.handover) }, this.clock.now());
  }

  private async runHandover(reason: string): Promise<void> {
    const started = this.clock.now();
    const res = await handOver(this.handoverPorts(), this.opts.handoverTimeoutMs ?? 15_000);
    if (res.masters.length === 0) return;
    const fields = { reason, instances: res.masters, stillMaster: res.stillMaster, pausedMs: res.pausedMs, restartedVrrp: res.restarted, ms: this.clock.now() - started };
    if (res.stillMaster.length === 0) this.opts.logger.info("Handed over MASTER instances", fields);
    else this.opts.logger.warn("Some instances are still MASTER after the handover (no BACKUP took over)", fields);
  }

  private handoverPorts(): HandoverPorts {
    return {
      masters: () => Object.entries(this.states).filter(([, s]) => s.state === "MASTER").map(([name]) => name),
      advertIntervals: () => this.plan.advertIntervals(),
      hasPeers: (instance) => this.plan.hasPeers(instance),
      vrrpPid: () => readVrrpPid(this.paths.vrrpPid),
      release: async (names) => {
        const instances = (this.applied?.instances ?? []).filter((i) => names.includes(i.instance));
        // Only what keepalived added: never an address the interface had before it started (ADR 0016).
        await this.leftovers.cleanup(instances, "handover");
        // The node holds none of them now and runs no VRRP process until keepalived starts a new one,
        // which reports them BACKUP (its start may be delayed: keepalived spaces restarts of a process
        // that ran less than a minute; or it reported already).
        const now = this.clock.now();
        const ended = new Set(endedMasters(this.states, names));
        for (const i of instances) if (ended.has(i.instance)) this.fold({ kind: "state", instance: i.instance, state: "FAULT", priority: effectivePriority(i.priority, this.trackFiles.handover) }, now);
      },
      waitFor: (done, timeoutMs) => this.stateWaiters.waitFor(done, timeoutMs),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      logger: this.opts.logger,
    };
  }

  private async afterKeepalivedDied(): Promise<void> {
    const removed = await this.leftovers.cleanup(this.applied?.instances ?? []);
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
    try {
      const links = await readInterfaces();
      this.setFacts({ interfaces: publishedInterfaces(links), ipvs: await ipvsAvailable() });
      if (!this.opts.hostIP) return;
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

  /** The running-addresses annotation; an address that left the config counts until no interface carries it. */
  private async runningAnnotation(): Promise<string> {
    if (this.running.settling) {
      try {
        this.running.settle(await readInterfaces());
      } catch (err) {
        this.opts.logger.warn("Failed to read interfaces", { error: err instanceof Error ? err.message : String(err) });
      }
    }
    return this.running.annotation();
  }

  /** Adopts what the node has; when it changed, instances refused before are tested again (an interface may have come). */
  private setFacts(next: { interfaces?: string[]; ipvs?: boolean }): void {
    const changed = JSON.stringify(next) !== JSON.stringify(this.facts);
    const first = this.facts.interfaces === undefined && this.facts.ipvs === undefined;
    this.facts = next;
    if (!changed || first || this.gate.rejections().size === 0) return;
    this.opts.logger.info("Node interfaces or IPVS changed: testing refused instances again", { interfaces: next.interfaces?.length, ipvs: next.ipvs });
    this.gate.forgetRejections();
    this.changed(true);
  }

  private async renewLease(): Promise<void> {
    if (this.beats++ % 10 === 9 || (this.opts.hostIP !== undefined && this.defaultInterface === undefined)) await this.discoverInterface();
    const annotations: Record<string, string> = this.defaultInterface ? { [ANNOTATION_DEFAULT_INTERFACE]: this.defaultInterface } : {};
    if (this.hostAddresses.length > 0) annotations[ANNOTATION_HOST_ADDRESSES] = this.hostAddresses.join(",");
    if (this.runningKnown) annotations[ANNOTATION_RUNNING_ADDRESSES] = await this.runningAnnotation();
    Object.assign(annotations, nodeFactsAnnotations(this.facts));
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
