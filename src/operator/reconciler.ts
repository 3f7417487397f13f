// The reconcile loop, a coordinator. Events only mark work (marks.ts); one
// debounced planning pass runs 1 gather (cache, auth Secrets) 2 plan (pure:
// desired.ts, vipstatus.ts) 3 diff (drift.ts) and queues one key per object
// that differs; 4 apply (apply.ts, apply-virtualip.ts) writes that object
// through the ClusterWriter port if it still differs; 5 report (gauges, timers).
import { AGENT_LEASE_PREFIX, LABEL_LB_SERVICE } from "../api/index.js";
import { describeError } from "../kube/client.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { KeyedQueue, type HandlerResult } from "../shared/queue.js";
import { applyDaemonSet, applyLoadBalancerVIP, applyPool, applySecret, applyService } from "./apply.js";
import { applyVirtualIP, type VirtualIPApplyContext } from "./apply-virtualip.js";
import { AuthSecrets } from "./authsecrets.js";
import type { CacheChange, ObjectCache } from "./cache.js";
import { buildAgentDaemonSet } from "./daemonset.js";
import { DeletionTracker } from "./deletion.js";
import { emptyDesiredState, leftOutAsTooLarge, renderPass, type DesiredState } from "./desired.js";
import { diffOwnedObjects, virtualIPDiffers } from "./drift.js";
import { VirtualIPGatherer, VirtualIPParser } from "./gather.js";
import { HeartbeatSightings } from "./heartbeats.js";
import { StatusInputIndex, unionDirty } from "./planner.js";
import { planLoadBalancerVIPs } from "./lbservices.js";
import { ChangeMarks, type MarkContext } from "./marks.js";
import { PlanSession } from "../render/index.js";
import type { OperatorMetrics } from "./metrics.js";
import type { OperatorConfig } from "./options.js";
import { sessionRenderer, type Renderer } from "./render-worker.js";
import { VirtualIPDerivations } from "./derived.js";
import { VirtualIPMemory } from "./vipmemory.js";
import { planStatus, type StatusContext } from "./vipstatus.js";
import type { ClusterWriter, SecretReader } from "./writer.js";

/** Key of the global planning pass in the work queue. */
export const PLAN_KEY = "plan";
/** Default delay between an event and the planning pass while passes follow each other, so that a burst is planned once or twice (an event after a quiet spell is planned at once). */
export const DEFAULT_DEBOUNCE_MS = 20;

export interface ReconcilerOptions {
  config: OperatorConfig;
  /** Every write of the apply step (src/kube/cluster-writer.ts, or a fake in tests). */
  writer: ClusterWriter;
  /** Reads the VRRP auth Secrets VirtualIPs reference. */
  readSecret: SecretReader;
  cache: ObjectCache;
  /** The only source of time (and timers, through the queue). */
  clock: Clock;
  logger: Logger;
  metrics: OperatorMetrics;
  debounceMs?: number;
  /** Runs planCluster; default a long-lived session inline (the operator passes a worker thread with --render-thread=worker). */
  render?: Renderer;
}

/** Runs planning and applies; one instance per operator process. */
export class Reconciler {
  readonly queue: KeyedQueue;
  private leading = false;
  private synced = false;
  private readonly marks = new ChangeMarks();
  private desired: DesiredState = emptyDesiredState();
  private readonly parser = new VirtualIPParser();
  private readonly gatherer = new VirtualIPGatherer(this.parser);
  /** Which VirtualIPs a render changed the status inputs of (planner.ts). */
  private readonly statusInputs = new StatusInputIndex();
  private readonly auth: AuthSecrets;
  private readonly memory = new VirtualIPMemory();
  /** Agent Lease renewals as the operator saw them, on its own clock (ADR 0011). */
  private readonly heartbeats: HeartbeatSightings;
  /** Deleted VirtualIPs wait for their nodes (ADR 0017). */
  private readonly deletions: DeletionTracker;
  private readonly applyContext: VirtualIPApplyContext;
  private readonly debounceMs: number;
  /** When the last planning pass started (clock time). */
  private lastPassAt = -Infinity;
  private readonly render: Renderer;
  /** The renderer's session, unless a renderer was given (a worker thread). */
  private readonly session: PlanSession | undefined;
  /** Service ingress, referenced Services and interfaces, the next claim expiry: kept up to date render by render. */
  private readonly derivations = new VirtualIPDerivations();

  constructor(private readonly opts: ReconcilerOptions) {
    const { config, clock, logger } = opts;
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    opts.cache.indexLabel("VirtualIP", LABEL_LB_SERVICE);
    this.session = opts.render ? undefined : new PlanSession();
    this.render = opts.render ?? sessionRenderer(this.session);
    const elapsed = clock.elapsed ? (): number => (clock.elapsed as () => number)() : undefined;
    this.heartbeats = new HeartbeatSightings(elapsed);
    this.deletions = new DeletionTracker(elapsed);
    this.auth = new AuthSecrets({ read: opts.readSecret, clock, logger });
    this.applyContext = {
      writer: opts.writer,
      cache: opts.cache,
      clock,
      logger,
      namespace: config.namespace,
      planNamespace: config.planNamespace,
      desired: () => this.desired,
      daemonSet: buildAgentDaemonSet({ namespace: config.namespace, agent: config.agent, planNamespace: config.planNamespace }),
      agentImage: config.agent.image,
      report: (change) => this.onChange(change),
      status: () => this.statusContext(),
      memory: this.memory,
    };
    this.queue = new KeyedQueue({
      clock,
      // The planning pass is one more key of this queue (at most one run at a time): the extra slot
      // keeps a running pass from taking one of the `workers` slots the writes get.
      concurrency: config.workers + 1,
      handler: (key) => this.handle(key),
      onError: (key, err, attempt) => {
        const level = attempt >= 5 ? "error" : "warn";
        logger.log(level, "Failed to reconcile, will retry", { key, attempt, error: describeError(err) });
      },
    });
  }

  /** The cache holds every object of every watch: planning may start. */
  markSynced(): void {
    this.synced = true;
    this.schedulePlan();
  }

  /** This replica became the leader: plan everything from the cache. */
  startLeading(): void {
    this.leading = true;
    this.opts.metrics.leader.set(1);
    this.marks.markAll();
    this.schedulePlan();
  }

  /** Stops writing: a graceful stop, or leadership lost (then startLeading plans everything again). */
  stopLeading(): void {
    this.leading = false;
    this.opts.metrics.leader.set(0);
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /**
   * Queues the planning pass: after `delayMs` when given (a timer); else,
   * while a pass runs, once more right after it (everything that came
   * meanwhile in one pass); else at once (the next turn of the event loop,
   * so events of one read are planned together) when no pass started within
   * the debounce time, and after the debounce time otherwise.
   */
  private schedulePlan(delayMs?: number): void {
    if (!this.leading || !this.synced) return;
    if (delayMs === undefined && this.queue.isRunning(PLAN_KEY)) return this.queue.add(PLAN_KEY);
    const idle = this.opts.clock.now() - this.lastPassAt >= this.debounceMs;
    this.queue.addAfter(PLAN_KEY, delayMs ?? (idle ? 1 : this.debounceMs));
  }

  /**
   * Turns a cache change into marks and schedules the planning pass; changes
   * nothing reads (a Lease renewal, a Node heartbeat, an unreferenced EndpointSlice) schedule nothing.
   */
  onChange(change: CacheChange): void {
    if (change.kind === "VirtualIP" && !change.current) this.forget(change.key);
    if (this.marks.mark(change, this.markContext())) this.schedulePlan();
  }

  private forget(key: string): void {
    this.parser.forget(key);
    this.memory.forget(key);
    this.deletions.forget(key);
  }

  private markContext(): MarkContext {
    const { cache, clock, config } = this.opts;
    const { referencedServices, referencedInterfaces } = this.desired;
    return {
      cache,
      planNamespace: config.planNamespace,
      referencedServices,
      referencedInterfaces,
      heartbeats: this.heartbeats,
      deletions: this.deletions,
      now: clock.now(),
    };
  }

  /** The agent Lease watch went down or is current again: no agent is judged silent on what the operator could not see (ADR 0011). */
  onLeaseWatch(ok: boolean): void {
    if (ok) this.heartbeats.watchUp(this.opts.clock.now());
    else this.heartbeats.watchDown();
    this.marks.markAllStatus();
    this.schedulePlan();
  }

  private statusContext(): StatusContext {
    const { cache, config } = this.opts;
    return {
      cache,
      planNamespace: config.planNamespace,
      deletionTimeoutMs: config.deletionTimeoutMs,
      render: this.desired.render,
      parser: this.parser,
      heartbeats: this.heartbeats,
      deletions: this.deletions,
      holders: this.memory.holders,
    };
  }

  private async handle(key: string): Promise<HandlerResult | void> {
    const kind = key === PLAN_KEY ? "plan" : key.slice(0, key.indexOf("/"));
    const end = this.opts.metrics.reconcileDuration.startTimer({ kind });
    try {
      const res = await this.dispatch(kind, key.slice(kind.length + 1));
      this.opts.metrics.reconciles.inc({ kind, result: "success" });
      return res;
    } catch (err) {
      this.opts.metrics.reconciles.inc({ kind, result: "error" });
      throw err;
    } finally {
      end();
      this.opts.metrics.queueDepth.set(this.queue.depth);
    }
  }

  /** Runs one key: the planning pass, or step 4 (apply) of one object. A follower writes nothing. */
  private async dispatch(kind: string, rest: string): Promise<HandlerResult | void> {
    if (!this.leading) return;
    const ctx = this.applyContext;
    switch (kind) {
      case "plan":
        return this.planPass();
      case "secret":
        return applySecret(ctx, rest);
      case "virtualip":
        return applyVirtualIP(ctx, rest);
      case "service":
        return applyService(ctx, rest);
      case "pool":
        return applyPool(ctx, rest);
      case "lbvip":
        return applyLoadBalancerVIP(ctx, rest);
      case "daemonset":
        return applyDaemonSet(ctx);
    }
  }

  /** Steps 1-3 and 5; step 4 runs as the keys this pass queues. */
  private async planPass(): Promise<void> {
    if (!this.synced) return;
    const { cache, config } = this.opts;
    const now = this.opts.clock.now();
    this.lastPassAt = now;
    this.marks.refreshLiveness({ cache, planNamespace: config.planNamespace, heartbeats: this.heartbeats, now });
    const claimDue = this.desired.claimExpiresAt !== undefined && this.desired.claimExpiresAt <= now;
    const authDue = (this.auth.nextRefreshAt() ?? Infinity) <= now;
    // 1-2: gather and plan the whole cluster, when something it reads changed.
    if (this.marks.renderDirty || claimDue || authDue) await this.gatherAndRender();
    // 2: the VirtualIPs of LoadBalancer Services follow the Services on every pass.
    const vips = { get: (key: string) => cache.get("VirtualIP", key), labelled: () => cache.withLabel("VirtualIP", LABEL_LB_SERVICE) };
    this.desired.loadBalancers = planLoadBalancerVIPs(cache.entries("Service"), vips, { defaultClass: config.loadBalancerDefaultClass });
    // 3: diff, the data plane first: node configs and Service ingress are queued before statuses.
    const owned = { namespaces: config, daemonSet: this.applyContext.daemonSet, secretNames: this.marks.takeSecrets() };
    for (const key of diffOwnedObjects(this.desired, cache, owned)) this.queue.add(key);
    this.diffVirtualIPs(now);
    // 5: report, and plan again when time alone changes something.
    this.updateGauges();
    this.scheduleTimers(now);
  }

  /** 1 gather (the cached VirtualIPs, the auth Secrets they reference) and 2 plan (the pure desired state). */
  private async gatherAndRender(): Promise<void> {
    const { cache, config, metrics } = this.opts;
    // Cleared before anything is read: a change during the awaits below marks it again.
    this.marks.renderDirty = false;
    const gathered = this.gatherer.gather(cache);
    await this.auth.refresh(gathered.authSecretRefs);
    const rendered = await renderPass({
      cache,
      gathered,
      authSecrets: this.auth.secrets(),
      planNamespace: config.planNamespace,
      options: { minAdvertIntervalMs: config.minAdvertIntervalMs, claimGraceMs: config.claimGraceMs },
      render: this.render,
      previousSecrets: this.desired.secrets,
      previousRefused: leftOutAsTooLarge(this.desired.render),
      ...(this.session ? { lastPass: () => (this.session as PlanSession).last } : {}),
      derivations: this.derivations,
      now: this.opts.clock.now(),
      startTimer: () => metrics.renderDuration.startTimer(),
      countPass: (pass) => metrics.renderPasses.inc({ pass: pass.kind, reason: pass.reason ?? "" }),
    });
    const previous = this.desired.render;
    // The desired Secrets this render built anew are compared with the cache on this pass (the others were, or changed there).
    for (const [name, built] of rendered.secrets) if (this.desired.secrets.get(name) !== built) this.marks.markSecret(name);
    this.desired = { ...rendered, loadBalancers: this.desired.loadBalancers };
    // Nothing reads the previous render's plan entries any more (every reader asks for desired anew): the session may reuse them.
    if (previous && previous.plan.virtualIPs !== rendered.render?.plan.virtualIPs) this.session?.release(previous.plan);
    if (rendered.render) this.deletions.noteParticipants(rendered.render.plan.virtualIPs, rendered.touched);
    // Only the VirtualIPs this render decided something new for (and those being deleted) have their statuses planned again (ADR 0020).
    this.marks.statusDirty = rendered.render
      ? unionDirty(
          this.marks.statusDirty,
          this.statusInputs.changed(rendered.render, gathered.deleting, rendered.touched === "all" ? undefined : rendered.touched),
        )
      : "all";
  }

  /** 2-3 for the VirtualIPs marked since the last pass: plan each status and queue those that differ. */
  private diffVirtualIPs(now: number): void {
    const dirty = this.marks.takeStatus();
    const ctx = this.statusContext();
    const keys = dirty === "all" ? this.opts.cache.entries("VirtualIP").keys() : dirty;
    for (const key of keys) {
      const obj = this.opts.cache.get("VirtualIP", key);
      if (!obj) continue;
      const sp = planStatus(ctx, key, obj, now);
      this.memory.note(key, sp);
      if (virtualIPDiffers(sp, obj)) this.queue.add(`virtualip/${key}`);
    }
  }

  private updateGauges(): void {
    const { byReason, conflicts } = this.memory.counts();
    for (const [reason, n] of byReason) this.opts.metrics.virtualIPs.set({ reason }, n);
    this.opts.metrics.conflicts.set(conflicts);
  }

  /** Plans again when time alone changes something: split brain due, an agent Lease expiring, an auth Secret to re-read, a claim expiring. */
  private scheduleTimers(now: number): void {
    const recheck = this.memory.nextRecheck();
    let at = recheck.at;
    for (const lease of this.opts.cache.values("Lease")) {
      const exp = this.heartbeats.expiry(lease, now);
      if (exp !== undefined && exp > now && (lease.metadata?.name ?? "").startsWith(AGENT_LEASE_PREFIX)) at = Math.min(at, exp);
    }
    at = Math.min(at, this.auth.nextRefreshAt() ?? Infinity, this.desired.claimExpiresAt ?? Infinity);
    if (at === Infinity) return;
    for (const key of recheck.keys) this.marks.markStatus(key);
    this.schedulePlan(Math.max(at - now + 10, this.debounceMs));
  }
}
