// The reconcile loop. Events only mark work; one debounced "plan" pass runs
// 1 Gather (cache -> view) 2 Plan (pure renderer + status) 3 Diff (desired vs
// cached live) and queues one key per object that differs; 4 Apply writes
// that object if it still differs, then 5 Report (Events, metrics). I/O.
import type { V1DaemonSet, V1Secret } from "@kubernetes/client-node";
import {
  AGENT_LEASE_PREFIX,
  agentLeaseName,
  canonicalIP,
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_DEFAULT_INTERFACE,
  ANNOTATION_INSTANCE,
  ANNOTATION_RUNNING_ADDRESSES,
  ANNOTATION_NODE,
  API_VERSION,
  CONDITION_CONFLICT,
  DAEMONSET_NAME,
  FINALIZER,
  KIND,
  OPERATOR_FIELD_MANAGER,
  ReadyReason,
  agentFieldManager,
  instanceSecretName,
  nodeConfigSecretName,
  type NodeStatus,
} from "../api/index.js";
import type { ClusterPlan, Problem } from "../render/index.js";
import { applyObject, applyVirtualIPStatus, describeError, errorStatus, patchVirtualIPMetadata, type KubeClients } from "../kube/client.js";
import { applyPoolStatus, applyServiceStatus, applyVirtualIPStatusAt, deleteSecret, deleteVirtualIP, toRaw } from "../kube/objects.js";
import type { k8s } from "../kube/client.js";
import { loadBalancerVIPNeedsApply, planLoadBalancerVIPs, type LoadBalancerPlan } from "./lbservices.js";
import type { RawObject } from "../kube/watch.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import { KeyedQueue, type HandlerResult } from "../shared/queue.js";
import { AuthSecrets } from "./authsecrets.js";
import type { CacheChange, ObjectCache } from "./cache.js";
import { buildAgentDaemonSet, daemonSetNeedsApply } from "./daemonset.js";
import { DeletionTracker, planDeletion, type AgentView, type DeletionDecision } from "./deletion.js";
import type { EventRecorder } from "./events.js";
import {
  agentCapabilities,
  agentHostAddresses,
  leaseRenderFingerprint,
  agentLeasesByNode,
  buildClusterView,
  gatherPools,
  gatherServiceCIDRs,
  gatherVirtualIPs,
  isDeleting,
  keyOf,
  leaseRenewal,
  nodeInterfaces,
  plannedStatusFingerprint,
  releasingAddresses,
  releasingRouterIds,
  VirtualIPParser,
} from "./gather.js";
import { buildPoolStatus, claimExpiry, poolStatusBody, poolStatusNeedsApply, type DesiredPoolStatus } from "./pools.js";

import { fitPlan } from "./fit.js";
import { StatusInputIndex, unionDirty } from "./planner.js";
import { HeartbeatSightings } from "./heartbeats.js";
import type { OperatorMetrics } from "./metrics.js";
import { buildInstanceSecret, buildNodeConfigSecret, dataDigests, configSecretNeedsApply, planStaleConfigSecrets, type SecretDeletion } from "./nodesecrets.js";
import type { OperatorConfig } from "./options.js";
import { renderInline, type Renderer } from "./render-worker.js";
import { buildServiceStatus, planServiceIngress, serviceIngressNeedsApply, type IngressSource } from "./services.js";
import { planClaim, planVirtualIPStatus, type StatusPlan } from "./status.js";
import type { HolderMemory } from "./holder.js";

/** Key of the global planning pass in the work queue. */
export const PLAN_KEY = "plan";
/** Default delay between an event and the planning pass, so that a burst is planned once. */
export const DEFAULT_DEBOUNCE_MS = 20;
/** How long a VirtualIP being deleted waits before checking again whether every node config dropped it. */
const FINALIZE_RECHECK_MS = 200;

export interface ReconcilerOptions {
  config: OperatorConfig;
  clients: KubeClients;
  cache: ObjectCache;
  clock: Clock;
  logger: Logger;
  metrics: OperatorMetrics;
  events: EventRecorder;
  debounceMs?: number;
  /** Runs planCluster; default inline (the operator passes a worker thread). */
  render?: Renderer;
}

/** The outcome of the last render (the pure renderer's plan and what follows from it). */
interface RenderState {
  seq: number;
  plan: ClusterPlan;
  problems: Map<string, Problem[]>;
  invalid: Map<string, string>;
}

function vipRef(key: string): { namespace: string; name: string } {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

function statusOf(obj: RawObject): StatusPlanInputLive {
  return (obj.status ?? {});
}

type StatusPlanInputLive = Parameters<typeof planVirtualIPStatus>[0]["live"];

/** A fingerprint of what the renderer reads from a Node. */
function nodeFingerprint(obj: RawObject | undefined): string {
  if (!obj) return "";
  const status = (obj.status ?? {}) as { addresses?: unknown };
  // spec.unschedulable: a cordoned node hands its VIPs over (render/placement.ts).
  const unschedulable = (obj.spec as { unschedulable?: unknown } | undefined)?.unschedulable === true;
  return JSON.stringify([obj.metadata?.uid, obj.metadata?.labels, obj.metadata?.annotations?.[ANNOTATION_DEFAULT_INTERFACE], status.addresses, unschedulable]);
}

/**
 * A fingerprint of what the renderer reads from a VirtualIP: its spec, the
 * allocation and claim in its status, and with `local` (its Service has
 * externalTrafficPolicy: Local) its nodes' VRRP states.
 */
function vipSpecFingerprint(obj: RawObject | undefined, local = false): string {
  if (!obj) return "";
  const m = obj.metadata ?? {};
  return JSON.stringify([m.uid, m.generation, m.deletionTimestamp ?? "", m.creationTimestamp, plannedStatusFingerprint(obj, local)]);
}

/** A fingerprint of what the renderer reads from a VirtualIPPool or a Namespace (spec, labels). */
function specAndLabelsFingerprint(obj: RawObject | undefined): string {
  if (!obj) return "";
  return JSON.stringify([obj.metadata?.uid, obj.metadata?.generation, obj.metadata?.labels, obj.metadata?.creationTimestamp, obj.spec]);
}

/** A desired node or instance Secret, with what it was built from and the digests of its data. */
interface BuiltSecret {
  /** Hash of the published JSON it carries. */
  hash: string;
  /** uid of the owning Node ("" for an instance Secret). */
  uid: string;
  secret: V1Secret;
  digests: Record<string, string>;
}

/** Runs planning and applies; one instance per operator process. */
export class Reconciler {
  readonly queue: KeyedQueue;
  private leading = false;
  private synced = false;
  private renderDirty = true;
  private statusDirty: Set<string> | "all" = "all";
  private renderSeq = 0;
  private render: RenderState | undefined;
  private readonly parser = new VirtualIPParser();
  /** Which VirtualIPs a render changed the status inputs of (planner.ts). */
  private readonly statusInputs = new StatusInputIndex();
  private readonly auth: AuthSecrets;
  private readonly daemonSet: V1DaemonSet;
  private desiredSecrets = new Map<string, BuiltSecret>();
  private staleSecrets = new Map<string, SecretDeletion>();
  private desiredIngress = new Map<string, string[]>();
  private desiredPools = new Map<string, DesiredPoolStatus>();
  private loadBalancers: LoadBalancerPlan = { apply: new Map(), remove: new Map() };
  private claimExpiresAt: number | undefined;
  private referencedServices = new Set<string>();
  /** spec.interface of every valid VirtualIP: only these names of an agent's published interfaces matter to a render. */
  private referencedInterfaces = new Set<string>();
  private readonly excludedAt = new Map<string, number>();
  /** Per VirtualIP: the holder failovers are counted from (holder.ts); kept once a status plan is applied. */
  private readonly holders = new Map<string, HolderMemory>();
  private readonly readyReasons = new Map<string, string>();
  private readonly conflicted = new Set<string>();
  private readonly recheckAt = new Map<string, number>();
  private liveness = new Map<string, boolean>();
  /** Agent Lease renewals as the operator saw them, on its own clock (ADR 0011). */
  private readonly heartbeats = new HeartbeatSightings();
  /** Deleted VirtualIPs wait for their nodes (ADR 0017). */
  private readonly deletions = new DeletionTracker();
  private readonly debounceMs: number;

  constructor(private readonly opts: ReconcilerOptions) {
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.auth = new AuthSecrets({ clients: opts.clients, clock: opts.clock, logger: opts.logger });
    this.daemonSet = buildAgentDaemonSet({ namespace: opts.config.namespace, agent: opts.config.agent, planNamespace: opts.config.planNamespace });
    this.queue = new KeyedQueue({
      clock: opts.clock,
      concurrency: opts.config.workers + 1,
      handler: (key) => this.handle(key),
      onError: (key, err, attempt) => {
        const level = attempt >= 5 ? "error" : "warn";
        opts.logger.log(level, "Failed to reconcile, will retry", { key, attempt, error: describeError(err) });
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
    this.renderDirty = true;
    this.statusDirty = "all";
    this.schedulePlan();
  }

  /** Stops writing: a graceful stop, or leadership lost (then startLeading plans everything again). */
  stopLeading(): void {
    this.leading = false;
    this.opts.metrics.leader.set(0);
  }

  get isLeading(): boolean {
    return this.leading;
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /** Number of renders so far (for tests). */
  get renders(): number {
    return this.renderSeq;
  }

  private schedulePlan(delayMs = this.debounceMs): void {
    if (this.leading && this.synced) this.queue.addAfter(PLAN_KEY, delayMs);
  }

  private markStatus(key: string): void {
    if (this.statusDirty !== "all") this.statusDirty.add(key);
  }

  /**
   * Turns a cache change into marks (render, status of one VirtualIP, or only
   * a diff pass) and schedules the planning pass; changes nothing reads (a
   * Lease renewal, a Node heartbeat, an unreferenced EndpointSlice) schedule nothing.
   */
  onChange(change: CacheChange): void {
    if (this.mark(change)) this.schedulePlan();
  }

  private mark(change: CacheChange): boolean {
    const { previous, current } = change;
    switch (change.kind) {
      case "VirtualIP":
        this.onVirtualIPChange(change.key, previous, current);
        return true;
      case "Node":
        if (nodeFingerprint(previous) === nodeFingerprint(current)) return false;
        this.renderDirty = true;
        return true;
      case "VirtualIPPool":
        if (specAndLabelsFingerprint(previous) !== specAndLabelsFingerprint(current)) this.renderDirty = true;
        return true;
      case "Namespace":
      case "ServiceCIDR":
        if (specAndLabelsFingerprint(previous) === specAndLabelsFingerprint(current)) return false;
        this.renderDirty = true;
        return true;
      case "Service": {
        const specChanged = JSON.stringify(previous?.spec) !== JSON.stringify(current?.spec);
        if (specChanged && (this.referencedServices.has(change.key) || !previous || !current)) this.renderDirty = true;
        return specChanged || JSON.stringify(previous?.status) !== JSON.stringify(current?.status);
      }
      case "EndpointSlice": {
        const svc = (current ?? previous)?.metadata?.labels?.["kubernetes.io/service-name"];
        const ns = (current ?? previous)?.metadata?.namespace ?? "";
        if (!svc || !this.referencedServices.has(keyOf(ns, svc))) return false;
        this.renderDirty = true;
        return true;
      }
      case "Lease":
        return this.onLeaseChange(previous, current);
      case "Secret":
      case "DaemonSet":
        return true;
    }
  }

  /** Whether a VirtualIP's Service has externalTrafficPolicy: Local (its standby follows the nodes' states). */
  private frontsLocalService(vip: RawObject | undefined): boolean {
    const ns = vip?.metadata?.namespace;
    const name = (vip?.spec as { serviceRef?: { name?: unknown } } | undefined)?.serviceRef?.name;
    if (!ns || typeof name !== "string") return false;
    return (this.opts.cache.get("Service", keyOf(ns, name))?.spec as { externalTrafficPolicy?: unknown } | undefined)?.externalTrafficPolicy === "Local";
  }

  private onVirtualIPChange(key: string, previous: RawObject | undefined, current: RawObject | undefined): void {
    const local = this.frontsLocalService(current ?? previous);
    if (vipSpecFingerprint(previous, local) !== vipSpecFingerprint(current, local)) this.renderDirty = true;
    this.markStatus(key);
    if (!current) {
      this.parser.forget(key);
      for (const m of [this.excludedAt, this.holders, this.readyReasons, this.recheckAt]) m.delete(key);
      this.deletions.forget(key);
      this.conflicted.delete(key);
    }
  }

  /** An agent Lease matters when its published interface changes or the agent dies or comes back. */
  private onLeaseChange(previous: RawObject | undefined, current: RawObject | undefined): boolean {
    const name = (current ?? previous)?.metadata?.name ?? "";
    if (!name.startsWith(AGENT_LEASE_PREFIX)) return false;
    // What the renderer reads from the Lease: the default interface, host addresses, IPVS and the
    // published interfaces VirtualIPs name (Pods' veths come and go without a render).
    const ifname = (o: RawObject | undefined): string => leaseRenderFingerprint(o, this.referencedInterfaces);
    let relevant = false;
    // What a node runs, renewed after a deletion, decides when the deleted VirtualIP may go.
    const deleting = this.deletions.deleting();
    if (deleting.length > 0 && previous?.metadata?.resourceVersion !== current?.metadata?.resourceVersion) {
      for (const key of deleting) this.markStatus(key);
      relevant = true;
    }
    if (ifname(previous) !== ifname(current)) {
      this.renderDirty = true;
      relevant = true;
    }
    const now = this.opts.clock.now();
    const key = keyOf((current ?? previous)?.metadata?.namespace ?? "", name);
    if ((this.liveness.get(key) ?? false) !== this.heartbeats.isLive(current, now)) {
      this.statusDirty = "all";
      relevant = true;
    }
    return relevant;
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

  private async dispatch(kind: string, rest: string): Promise<HandlerResult | void> {
    if (!this.leading) return;
    switch (kind) {
      case "plan":
        return this.planPass();
      case "secret":
        return this.applySecret(rest);
      case "virtualip":
        return this.applyVirtualIP(rest);
      case "service":
        return this.applyService(rest);
      case "pool":
        return this.applyPool(rest);
      case "lbvip":
        return this.applyLoadBalancerVIP(rest);
      case "daemonset":
        return this.applyDaemonSet();
    }
  }

  // ---- 1-3: the planning pass -------------------------------------------------

  private async planPass(): Promise<void> {
    if (!this.synced) return;
    const now = this.opts.clock.now();
    this.refreshLiveness(now);
    if (this.claimExpiresAt !== undefined && this.claimExpiresAt <= now) this.renderDirty = true;
    if (this.renderDirty || (this.auth.nextRefreshAt() ?? Infinity) <= now) await this.renderPass();
    // The data plane first: node configs and Service ingress are queued before statuses.
    this.diffOwnedObjects();
    const dirty = this.statusDirty;
    this.statusDirty = new Set();
    const vips = this.opts.cache.entries("VirtualIP");
    for (const [key, obj] of vips) {
      if (dirty !== "all" && !dirty.has(key)) continue;
      this.diffVirtualIP(key, obj, now);
    }
    this.updateGauges();
    this.scheduleTimers(now);
  }

  private async renderPass(): Promise<void> {
    const { cache, config } = this.opts;
    const gathered = gatherVirtualIPs(cache.entries("VirtualIP"), this.parser);
    const authRefs = new Set(gathered.valid.flatMap((v) => (v.spec.vrrp.authSecretRef ? [keyOf(v.metadata.namespace ?? "default", v.spec.vrrp.authSecretRef.name)] : [])));
    await this.auth.refresh(authRefs);
    this.renderDirty = false;
    const nodes = cache.values("Node");
    const nodeNames = nodes.map((n) => n.metadata?.name ?? "");
    const leases = agentLeasesByNode(nodeNames, cache.entries("Lease"), config.planNamespace);
    const pools = gatherPools(cache.values("VirtualIPPool"));
    const view = buildClusterView({
      virtualIPs: gathered.valid,
      nodes,
      services: cache.values("Service"),
      endpointSlices: cache.values("EndpointSlice"),
      authSecrets: this.auth.secrets(),
      nodeInterfaces: nodeInterfaces(leases),
      pools: pools.valid,
      namespaces: cache.values("Namespace"),
      serviceCIDRs: gatherServiceCIDRs(cache.values("ServiceCIDR")),
      releasing: releasingAddresses(cache.entries("VirtualIP")),
      releasingRouterIds: releasingRouterIds(cache.entries("VirtualIP")),
      agentAddresses: agentHostAddresses(leases),
      agentCapabilities: agentCapabilities(leases),
      now: this.opts.clock.now(),
    });
    const end = this.opts.metrics.renderDuration.startTimer();
    // Every published object must fit the API's size limit: the newest VirtualIP that would not fit is left out (TooLarge).
    const options = { minAdvertIntervalMs: config.minAdvertIntervalMs, claimGraceMs: config.claimGraceMs };
    const render = this.opts.render ?? renderInline;
    const { plan } = await fitPlan(view, (v) => render(v, options));
    end();
    const seq = ++this.renderSeq;
    const problems = new Map<string, Problem[]>();
    for (const p of plan.problems) problems.set(p.virtualIP, [...(problems.get(p.virtualIP) ?? []), p]);
    // The published plan lives on in the desired Secrets only.
    this.render = { seq, plan: { ...plan, nodes: [], published: [] }, problems, invalid: gathered.invalid };
    this.deletions.noteParticipants(plan.virtualIPs);
    for (const key of gathered.deleting) if (!this.excludedAt.has(key)) this.excludedAt.set(key, seq);
    for (const key of gathered.invalid.keys()) if (!this.excludedAt.has(key)) this.excludedAt.set(key, seq);
    this.planSecrets(plan, nodes);
    this.desiredPools = new Map(plan.pools.map((p) => [p.name, buildPoolStatus(p, pools.invalid)]));
    for (const [name, error] of pools.invalid) if (!this.desiredPools.has(name)) this.desiredPools.set(name, buildPoolStatus({ name, allocated: 0, available: 0, ready: { status: "False", reason: "InvalidSpec", message: error } }, pools.invalid));
    this.claimExpiresAt = claimExpiry(gathered.valid, plan, { graceMs: config.claimGraceMs, now: view.now ?? 0 });
    this.planIngress(gathered.valid.map((v) => ({ key: keyOf(v.metadata.namespace ?? "default", v.metadata.name), vip: v })), plan, problems);
    this.referencedServices = new Set(gathered.valid.map((v) => keyOf(v.metadata.namespace ?? "default", v.spec.serviceRef.name)));
    this.referencedInterfaces = new Set(gathered.valid.flatMap((v) => (v.spec.interface !== undefined ? [v.spec.interface] : [])));
    // Only the VirtualIPs this render decided something new for (and those being deleted) have their statuses planned again.
    this.statusDirty = unionDirty(this.statusDirty, this.statusInputs.changed(this.render, gathered.deleting));
  }

  /**
   * The desired Secrets of a plan: one per node (node.json) and one per VRRP
   * instance (instance.json). A Secret is built again only when what it
   * carries changed; the others are reused with their digests.
   */
  private planSecrets(plan: ClusterPlan, nodes: RawObject[]): void {
    const { planNamespace: namespace } = this.opts.config;
    const uids = new Map(nodes.map((n) => [n.metadata?.name ?? "", n.metadata?.uid ?? ""]));
    const desired = new Map<string, BuiltSecret>();
    const reuse = (name: string, hash: string, uid: string, build: () => V1Secret): void => {
      let built = this.desiredSecrets.get(name);
      if (!built || built.hash !== hash || built.uid !== uid) {
        const secret = build();
        built = { hash, uid, secret, digests: dataDigests(secret) };
      }
      desired.set(name, built);
    };
    for (const ip of plan.published) {
      reuse(instanceSecretName(ip.name), ip.hash, "", () => buildInstanceSecret({ namespace, plan: ip }));
    }
    for (const np of plan.nodes) {
      const uid = uids.get(np.node) ?? "";
      reuse(nodeConfigSecretName(np.node), np.hash, uid, () => buildNodeConfigSecret({ namespace, node: { name: np.node, uid }, plan: np }));
    }
    this.desiredSecrets = desired;
    this.staleSecrets = new Map(planStaleConfigSecrets(new Set(desired.keys()), this.opts.cache.values("Secret")).map((d) => [d.name, d]));
  }

  private planIngress(vips: { key: string; vip: { spec: { forwarding: string; serviceRef: { name: string } }; metadata: { namespace?: string } } }[], plan: ClusterPlan, problems: Map<string, Problem[]>): void {
    const sources: IngressSource[] = vips.map(({ key, vip }) => ({
      service: keyOf(vip.metadata.namespace ?? "default", vip.spec.serviceRef.name),
      address: plan.virtualIPs[key]?.address ?? "",
      publish: vip.spec.forwarding === "kube-proxy" && plan.virtualIPs[key]?.instance !== undefined && !(problems.get(key) ?? []).some((p) => p.excluded),
    }));
    this.desiredIngress = planServiceIngress(sources, this.opts.cache.entries("Service"));
  }

  private refreshLiveness(now: number): void {
    const { cache, config } = this.opts;
    const next = new Map<string, boolean>();
    for (const [key, lease] of cache.entries("Lease")) {
      if (!key.startsWith(`${config.planNamespace}/${AGENT_LEASE_PREFIX}`)) continue;
      next.set(key, this.heartbeats.isLive(lease, now));
    }
    this.heartbeats.retain(new Set(next.keys()));
    const flipped = next.size !== this.liveness.size || [...next].some(([k, v]) => this.liveness.get(k) !== v);
    this.liveness = next;
    if (flipped) this.statusDirty = "all";
  }

  /** Plans the status of one VirtualIP against the cache (fresh data; also used by the apply). */
  private planStatus(key: string, obj: RawObject, now: number): StatusPlan {
    const { cache, config } = this.opts;
    const render = this.render;
    const vplan = render?.plan.virtualIPs[key];
    const invalid = render?.invalid.get(key) ?? (isDeleting(obj) ? undefined : this.parseError(key, obj));
    const leases = cache.entries("Lease");
    const leaseOf = (node: string): RawObject | undefined => leases.get(keyOf(config.planNamespace, agentLeaseName(node)));
    const live = statusOf(obj);
    const deleting = isDeleting(obj);
    const deletion = deleting ? this.deletionDecision(key, obj, now) : undefined;
    // A VirtualIP being deleted keeps its address and claim until its finalizer goes: no one gets the address before.
    const allocation = deleting ? { address: live.address, virtualRouterId: live.virtualRouterId, pool: live.pool } : { address: vplan?.address, virtualRouterId: vplan?.virtualRouterId, pool: vplan?.pool };
    const claim = deleting
      ? live.claim
      : planClaim({
          live: live.claim,
          claimed: vplan?.claimed ?? false,
          claimVoid: vplan?.claimVoid ?? false,
          address: vplan?.address,
          virtualRouterId: vplan?.virtualRouterId,
          generation: obj.metadata?.generation ?? 0,
          now,
        });
    const sp = planVirtualIPStatus({
      key,
      address: allocation.address ?? (obj.spec as { address?: string } | undefined)?.address ?? "",
      allocation: Object.fromEntries(Object.entries(allocation).filter(([, v]) => v !== undefined)),
      ...(claim !== undefined ? { claim } : {}),
      generation: obj.metadata?.generation ?? 0,
      live: statusOf(obj),
      ...(invalid !== undefined ? { invalid } : {}),
      deleting: isDeleting(obj),
      ...(deletion ? { deletionMessage: deletion.message } : {}),
      participants: vplan?.nodes ?? [],
      advertIntervalMs: vplan?.advertIntervalMs ?? 1000,
      problems: render?.problems.get(key) ?? [],
      isLive: (node) => this.heartbeats.isLive(leaseOf(node), now),
      renewedAt: (node) => leaseRenewal(leaseOf(node)),
      ...(this.holders.has(key) ? { holder: this.holders.get(key) } : {}),
      now,
    });
    if (deletion?.recheckAt !== undefined) sp.recheckAt = Math.min(sp.recheckAt ?? Infinity, deletion.recheckAt);
    return sp;
  }

  /** Whether the nodes let a deleted VirtualIP go: every one that took part confirmed its address is gone, or timed out (ADR 0017). */
  private deletionDecision(key: string, obj: RawObject, now: number): DeletionDecision {
    const { cache, config } = this.opts;
    const live = statusOf(obj);
    const address = canonicalIP(live.address ?? (obj.spec as { address?: string } | undefined)?.address ?? "") ?? "";
    const participants = new Set([...this.deletions.participants(key), ...(live.nodes ?? []).map((n) => n.name)]);
    const names = new Set([...participants, ...cache.values("Node").map((n) => n.metadata?.name ?? "")]);
    const startedAt = this.deletions.startedAt(key, now, obj.metadata?.resourceVersion ?? "");
    const agents = new Map<string, AgentView>();
    for (const [node, lease] of agentLeasesByNode([...names], cache.entries("Lease"), config.planNamespace)) {
      agents.set(node, {
        live: this.heartbeats.isLive(lease, now),
        running: this.deletions.runningSet(node, lease.metadata?.annotations?.[ANNOTATION_RUNNING_ADDRESSES]),
        fresh: this.deletions.writtenAfter(key, lease.metadata?.resourceVersion, this.heartbeats.renewedAt(lease, now)),
      });
    }
    // A node without an agent Lease has no agent: nothing runs the address there.
    const withAgent = [...participants].filter((n) => agents.has(n));
    return planDeletion({ address, participants: withAgent, agents, startedAt, now, timeoutMs: config.deletionTimeoutMs });
  }

  private parseError(key: string, obj: RawObject): string | undefined {
    const res = this.parser.parse(key, obj);
    return res.ok ? undefined : res.error;
  }

  private diffVirtualIP(key: string, obj: RawObject, now: number): void {
    const sp = this.planStatus(key, obj, now);
    this.readyReasons.set(key, sp.readyReason);
    const conflict = sp.summary.conditions.find((c) => c.type === CONDITION_CONFLICT)?.status === "True";
    if (conflict) this.conflicted.add(key);
    else this.conflicted.delete(key);
    if (sp.recheckAt !== undefined) this.recheckAt.set(key, sp.recheckAt);
    else this.recheckAt.delete(key);
    // A plan with a write decides the holder when the write lands (applyStatus); the apply plans again.
    if (!sp.changed) this.holders.set(key, sp.holder);
    const finalizerDue = isDeleting(obj) === (obj.metadata?.finalizers ?? []).includes(FINALIZER);
    if (sp.changed || sp.nodeWrites.length > 0 || finalizerDue) this.queue.add(`virtualip/${key}`);
  }

  private diffOwnedObjects(): void {
    const { cache, config } = this.opts;
    for (const [name, d] of this.desiredSecrets) {
      if (configSecretNeedsApply(d.secret, cache.get("Secret", keyOf(config.planNamespace, name)), d.digests)) this.queue.add(`secret/${name}`);
    }
    for (const name of this.staleSecrets.keys()) if (cache.has("Secret", keyOf(config.planNamespace, name))) this.queue.add(`secret/${name}`);
    for (const [key, ips] of this.desiredIngress) if (serviceIngressNeedsApply(ips, cache.get("Service", key))) this.queue.add(`service/${key}`);
    for (const [name, d] of this.desiredPools) if (poolStatusNeedsApply(d, cache.get("VirtualIPPool", name))) this.queue.add(`pool/${name}`);
    this.loadBalancers = planLoadBalancerVIPs(cache.entries("Service"), cache.entries("VirtualIP"), { defaultClass: config.loadBalancerDefaultClass });
    for (const [key, d] of this.loadBalancers.apply) if (loadBalancerVIPNeedsApply(d.object, cache.get("VirtualIP", key))) this.queue.add(`lbvip/${key}`);
    for (const key of this.loadBalancers.remove.keys()) this.queue.add(`lbvip/${key}`);
    if (daemonSetNeedsApply(this.daemonSet, cache.get("DaemonSet", keyOf(config.namespace, DAEMONSET_NAME)) as V1DaemonSet | undefined)) this.queue.add(`daemonset/${DAEMONSET_NAME}`);
  }

  private updateGauges(): void {
    const counts = new Map<string, number>(Object.values(ReadyReason).map((r) => [r, 0]));
    for (const r of this.readyReasons.values()) counts.set(r, (counts.get(r) ?? 0) + 1);
    for (const [reason, n] of counts) this.opts.metrics.virtualIPs.set({ reason }, n);
    this.opts.metrics.conflicts.set(this.conflicted.size);
  }

  /** Plans again when time alone changes something: split brain due, an agent Lease expiring, an auth Secret to re-read. */
  private scheduleTimers(now: number): void {
    let at = Infinity;
    for (const t of this.recheckAt.values()) at = Math.min(at, t);
    for (const lease of this.opts.cache.values("Lease")) {
      const exp = this.heartbeats.expiry(lease, now);
      if (exp !== undefined && exp > now && (lease.metadata?.name ?? "").startsWith(AGENT_LEASE_PREFIX)) at = Math.min(at, exp);
    }
    at = Math.min(at, this.auth.nextRefreshAt() ?? Infinity);
    if (this.claimExpiresAt !== undefined) at = Math.min(at, this.claimExpiresAt);
    if (at === Infinity) return;
    if (this.recheckAt.size > 0) for (const key of this.recheckAt.keys()) this.markStatus(key);
    this.schedulePlan(Math.max(at - now + 10, this.debounceMs));
  }

  // ---- 4-5: applies, one object per key ----------------------------------------

  private async applySecret(name: string): Promise<void> {
    const { cache, clients, config, logger } = this.opts;
    const key = keyOf(config.planNamespace, name);
    const built = this.desiredSecrets.get(name);
    if (built) {
      const desired = built.secret;
      if (!configSecretNeedsApply(desired, cache.get("Secret", key), built.digests)) return;
      const stored = await applyObject(clients, desired, { fieldManager: OPERATOR_FIELD_MANAGER });
      // What was stored is what was sent: cache its metadata and the digests, not another copy of the data.
      this.putAndReport("Secret", { apiVersion: "v1", kind: "Secret", metadata: toRaw(stored.metadata) as RawObject["metadata"], data: built.digests });
      const annotations = desired.metadata?.annotations ?? {};
      const what = annotations[ANNOTATION_NODE] !== undefined ? { node: annotations[ANNOTATION_NODE] } : { instance: annotations[ANNOTATION_INSTANCE] };
      logger.info(what.node !== undefined ? "Applied node config" : "Applied instance config", { secret: name, ...what, hash: annotations[ANNOTATION_CONFIG_HASH] });
      return;
    }
    const stale = this.staleSecrets.get(name);
    if (!stale || !cache.has("Secret", key)) return;
    await deleteSecret(clients, { namespace: config.planNamespace, name }, stale.uid);
    const change = cache.remove("Secret", key);
    if (change) this.onChange(change);
    logger.info("Deleted a config Secret no longer in the plan", { secret: name });
  }

  /** One VirtualIP's writes, in order: add the finalizer, node entries, the summary status, remove the finalizer. */
  private async applyVirtualIP(key: string): Promise<HandlerResult | void> {
    let obj = this.opts.cache.get("VirtualIP", key);
    if (!obj) return;
    try {
      const finalizers = obj.metadata?.finalizers ?? [];
      if (!isDeleting(obj) && !finalizers.includes(FINALIZER)) obj = await this.patchFinalizers(key, obj, [...finalizers, FINALIZER]);
      obj = await this.applyStatus(key, obj);
      if (isDeleting(obj) && (obj.metadata?.finalizers ?? []).includes(FINALIZER)) {
        if (!this.cleanupDone(key, obj)) return { requeueAfterMs: FINALIZE_RECHECK_MS };
        // The nodes decide when; a Lease change or the timeout plans this key again.
        const deletion = this.deletionDecision(key, obj, this.opts.clock.now());
        if (!deletion.done) return;
        if (deletion.givenUp.length > 0) await this.recordGivenUp(key, obj, deletion);
        await this.patchFinalizers(key, obj, (obj.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER));
        const how = deletion.givenUp.length > 0 ? "Removed the finalizer: the deletion timeout passed" : "Removed the finalizer: every node confirmed the address is gone";
        this.opts.logger.info(how, { virtualIP: key, ...(deletion.givenUp.length > 0 ? { unconfirmed: deletion.givenUp } : {}) });
      }
    } catch (err) {
      if (errorStatus(err) === 404) return;
      throw err;
    }
  }

  private async patchFinalizers(key: string, obj: RawObject, finalizers: string[]): Promise<RawObject> {
    const stored = (await patchVirtualIPMetadata(this.opts.clients, vipRef(key), { finalizers, resourceVersion: obj.metadata?.resourceVersion })) as RawObject;
    if (isDeleting(stored) && (stored.metadata?.finalizers ?? []).length === 0) {
      // The API server deleted it with its last finalizer; its DELETED event may already have come, so never cache it again.
      const change = this.opts.cache.remove("VirtualIP", key);
      if (change) this.onChange(change);
      return stored;
    }
    this.putAndReport("VirtualIP", stored);
    return stored;
  }

  /** Writes node entries on behalf of silent or departed nodes, then the summary; returns the object as last stored. */
  private async applyStatus(key: string, obj: RawObject): Promise<RawObject> {
    const { clients, logger } = this.opts;
    const sp = this.planStatus(key, obj, this.opts.clock.now());
    const ref = vipRef(key);
    let latest = obj;
    for (const w of sp.nodeWrites) {
      const status: Record<string, unknown> = w.entry ? { nodes: [w.entry satisfies NodeStatus] } : {};
      latest = (await applyVirtualIPStatusAt(clients, { ...ref, resourceVersion: latest.metadata?.resourceVersion ?? "" }, status, agentFieldManager(w.node)));
      this.putAndReport("VirtualIP", latest);
      logger.info(w.entry ? "Marked a silent node UNKNOWN" : "Removed the entry of a node that no longer takes part", { virtualIP: key, node: w.node });
    }
    if (!sp.changed) {
      this.holders.set(key, sp.holder);
      return latest;
    }
    latest = (await applyVirtualIPStatus(clients, ref, sp.summary as unknown as Record<string, unknown>, { fieldManager: OPERATOR_FIELD_MANAGER })) as RawObject;
    this.holders.set(key, sp.holder);
    this.putAndReport("VirtualIP", latest);
    logger.debug("Applied VirtualIP status", { virtualIP: key, master: sp.summary.master, ready: sp.readyReason });
    for (const e of sp.events) logger.info("Recorded an Event", { virtualIP: key, type: e.type, reason: e.reason, note: e.message });
    await this.opts.events.record({ apiVersion: API_VERSION, kind: KIND, ...ref, uid: obj.metadata?.uid ?? "", resourceVersion: latest.metadata?.resourceVersion ?? "" }, sp.events);
    return latest;
  }

  /**
   * Whether a deleted VirtualIP is gone from the node configs of the nodes it
   * took part on and from its Service's status. Only its own objects count:
   * another object that cannot be written never holds this deletion up.
   */
  private cleanupDone(key: string, obj: RawObject): boolean {
    const { cache, config } = this.opts;
    if (this.excludedAt.get(key) === undefined || !this.render) return false;
    for (const node of this.deletions.participants(key)) {
      const name = nodeConfigSecretName(node);
      const d = this.desiredSecrets.get(name);
      if (d && configSecretNeedsApply(d.secret, cache.get("Secret", keyOf(config.planNamespace, name)), d.digests)) return false;
    }
    const service = keyOf(vipRef(key).namespace, (obj.spec as { serviceRef?: { name?: string } } | undefined)?.serviceRef?.name ?? "");
    const ips = this.desiredIngress.get(service);
    return ips === undefined || !serviceIngressNeedsApply(ips, cache.get("Service", service));
  }

  /** The Warning Event of a deletion that went without every node's confirmation. */
  private async recordGivenUp(key: string, obj: RawObject, deletion: DeletionDecision): Promise<void> {
    const message = deletion.message.replace(/^Being deleted: /, "");
    this.opts.logger.warn("Gave up waiting for nodes to confirm a deletion", { virtualIP: key, nodes: deletion.givenUp });
    const ref = vipRef(key);
    await this.opts.events.record({ apiVersion: API_VERSION, kind: KIND, ...ref, uid: obj.metadata?.uid ?? "", resourceVersion: obj.metadata?.resourceVersion ?? "" }, [{ type: "Warning", reason: "DeletionUnconfirmed", message }]);
  }

  private async applyService(key: string): Promise<void> {
    const { cache, clients, logger } = this.opts;
    const live = cache.get("Service", key);
    const ips = this.desiredIngress.get(key) ?? [];
    if (!serviceIngressNeedsApply(ips, live)) return;
    try {
      const stored = await applyServiceStatus(clients, vipRef(key), buildServiceStatus(ips), OPERATOR_FIELD_MANAGER);
      this.putAndReport("Service", stored as RawObject);
      logger.info("Applied Service load-balancer ingress", { service: key, ingress: ips });
    } catch (err) {
      if (errorStatus(err) === 404) return;
      throw err;
    }
  }

  /** Creates or updates the VirtualIP of a LoadBalancer Service, or deletes one its Service no longer wants. */
  private async applyLoadBalancerVIP(key: string): Promise<void> {
    const { cache, clients, logger } = this.opts;
    const desired = this.loadBalancers.apply.get(key);
    if (desired) {
      if (!loadBalancerVIPNeedsApply(desired.object, cache.get("VirtualIP", key))) return;
      for (const note of desired.ignored) logger.warn("Ignored a LoadBalancer Service annotation", { virtualIP: key, reason: note });
      const stored = await applyObject(clients, desired.object as k8s.KubernetesObject, { fieldManager: OPERATOR_FIELD_MANAGER });
      this.putAndReport("VirtualIP", toRaw(stored) as RawObject);
      logger.info("Applied the VirtualIP of a LoadBalancer Service", { virtualIP: key });
      return;
    }
    const uid = this.loadBalancers.remove.get(key);
    if (uid === undefined || !cache.has("VirtualIP", key)) return;
    await deleteVirtualIP(clients, vipRef(key), uid);
    logger.info("Deleted the VirtualIP of a Service that no longer wants it", { virtualIP: key });
  }

  private async applyPool(name: string): Promise<void> {
    const { cache, clients, logger } = this.opts;
    const desired = this.desiredPools.get(name);
    const live = cache.get("VirtualIPPool", name);
    if (!desired || !poolStatusNeedsApply(desired, live)) return;
    try {
      const stored = await applyPoolStatus(clients, name, poolStatusBody(desired, live, new Date(this.opts.clock.now()).toISOString()), OPERATOR_FIELD_MANAGER);
      this.putAndReport("VirtualIPPool", stored);
      logger.info("Applied VirtualIPPool status", { pool: name, allocated: desired.allocated, available: desired.available, ready: desired.ready.reason });
    } catch (err) {
      if (errorStatus(err) === 404) return;
      throw err;
    }
  }

  private async applyDaemonSet(): Promise<void> {
    const { cache, clients, config, logger } = this.opts;
    if (!daemonSetNeedsApply(this.daemonSet, cache.get("DaemonSet", keyOf(config.namespace, DAEMONSET_NAME)) as V1DaemonSet | undefined)) return;
    const stored = await applyObject(clients, this.daemonSet, { fieldManager: OPERATOR_FIELD_MANAGER });
    this.putAndReport("DaemonSet", toRaw(stored) as RawObject);
    logger.info("Applied the agent DaemonSet", { daemonSet: DAEMONSET_NAME, image: config.agent.image });
  }

  /** Stores a write's response in the cache, so the next diff sees it before the watch event arrives. */
  private putAndReport(kind: "Secret" | "VirtualIP" | "VirtualIPPool" | "Service" | "DaemonSet", obj: RawObject): void {
    const change = this.opts.cache.put(kind, obj);
    if (change) this.onChange(change);
  }
}
