// What a cache change means for the next planning pass: a render, the status
// of some VirtualIPs, or only a diff; agents' liveness flips mark every status. Pure (time passed in).
import { AGENT_LEASE_PREFIX, ANNOTATION_DEFAULT_INTERFACE } from "../api/index.js";
import type { RawObject } from "../kube/watch.js";
import type { CacheChange, ObjectCache } from "./cache.js";
import type { DeletionTracker } from "./deletion.js";
import { leaseRenderFingerprint, plannedStatusFingerprint } from "./gather.js";
import type { HeartbeatSightings } from "./heartbeats.js";
import { keyOf } from "../shared/keys.js";

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

/** What marking reads: the cache, the last render's references, the memories of agents and deletions. */
export interface MarkContext {
  cache: ObjectCache;
  planNamespace: string;
  referencedServices: ReadonlySet<string>;
  referencedInterfaces: ReadonlySet<string>;
  heartbeats: HeartbeatSightings;
  deletions: DeletionTracker;
  now: number;
}

/**
 * The work a planning pass owes: render again, the VirtualIPs whose status to
 * plan ("all" after a render or a liveness flip), and the config Secrets to
 * compare with the desired ones.
 */
export class ChangeMarks {
  renderDirty = true;
  statusDirty: Set<string> | "all" = "all";
  /** Names of config Secrets (in the plan's namespace) changed in the cache or in the desired state since the last pass; "all" for a new leader. */
  private secretsDirty: Set<string> | "all" = "all";
  /** Agent Lease key -> live, as of the last look. */
  private liveness = new Map<string, boolean>();

  /** Everything is due (a new leader, a fresh render). */
  markAll(): void {
    this.renderDirty = true;
    this.statusDirty = "all";
    this.secretsDirty = "all";
  }

  markSecret(name: string): void {
    if (this.secretsDirty !== "all") this.secretsDirty.add(name);
  }

  /** The config Secrets to compare, cleared for the next pass. */
  takeSecrets(): Set<string> | "all" {
    const dirty = this.secretsDirty;
    this.secretsDirty = new Set();
    return dirty;
  }

  /** Every status is due (agent liveness may have changed everywhere). */
  markAllStatus(): void {
    this.statusDirty = "all";
  }

  markStatus(key: string): void {
    if (this.statusDirty !== "all") this.statusDirty.add(key);
  }

  /** The VirtualIPs whose status is due, cleared for the next pass. */
  takeStatus(): Set<string> | "all" {
    const dirty = this.statusDirty;
    this.statusDirty = new Set();
    return dirty;
  }

  /**
   * Turns a cache change into marks; false when nothing the operator reads
   * changed (a Lease renewal, a Node heartbeat, an unreferenced EndpointSlice).
   */
  mark(change: CacheChange, ctx: MarkContext): boolean {
    const { previous, current } = change;
    switch (change.kind) {
      case "VirtualIP": {
        const local = frontsLocalService(ctx.cache, current ?? previous);
        if (vipSpecFingerprint(previous, local) !== vipSpecFingerprint(current, local)) this.renderDirty = true;
        this.markStatus(change.key);
        return true;
      }
      case "Node":
        return this.renderIf(nodeFingerprint(previous) !== nodeFingerprint(current));
      case "VirtualIPPool":
        if (specAndLabelsFingerprint(previous) !== specAndLabelsFingerprint(current)) this.renderDirty = true;
        return true;
      case "Namespace":
      case "ServiceCIDR":
        return this.renderIf(specAndLabelsFingerprint(previous) !== specAndLabelsFingerprint(current));
      case "Service": {
        const specChanged = JSON.stringify(previous?.spec) !== JSON.stringify(current?.spec);
        if (specChanged && (ctx.referencedServices.has(change.key) || !previous || !current)) this.renderDirty = true;
        return specChanged || JSON.stringify(previous?.status) !== JSON.stringify(current?.status);
      }
      case "EndpointSlice": {
        const svc = (current ?? previous)?.metadata?.labels?.["kubernetes.io/service-name"];
        const ns = (current ?? previous)?.metadata?.namespace ?? "";
        return this.renderIf(!!svc && ctx.referencedServices.has(keyOf(ns, svc)));
      }
      case "Lease":
        return this.markLease(previous, current, ctx);
      case "Secret":
        if (change.key.startsWith(`${ctx.planNamespace}/`)) this.markSecret(change.key.slice(ctx.planNamespace.length + 1));
        return true;
      case "DaemonSet":
        return true;
    }
  }

  private renderIf(changed: boolean): boolean {
    if (changed) this.renderDirty = true;
    return changed;
  }

  /** An agent Lease matters when its published interface changes or the agent dies or comes back. */
  private markLease(previous: RawObject | undefined, current: RawObject | undefined, ctx: MarkContext): boolean {
    const name = (current ?? previous)?.metadata?.name ?? "";
    if (!name.startsWith(AGENT_LEASE_PREFIX)) return false;
    // What the renderer reads from the Lease: the default interface, host addresses, IPVS and the
    // published interfaces VirtualIPs name (Pods' veths come and go without a render).
    const ifname = (o: RawObject | undefined): string => leaseRenderFingerprint(o, ctx.referencedInterfaces);
    let relevant = false;
    // What a node runs, renewed after a deletion, decides when the deleted VirtualIP may go.
    const deleting = ctx.deletions.deleting();
    if (deleting.length > 0 && previous?.metadata?.resourceVersion !== current?.metadata?.resourceVersion) {
      for (const key of deleting) this.markStatus(key);
      relevant = true;
    }
    if (ifname(previous) !== ifname(current)) relevant = this.renderIf(true);
    const key = keyOf((current ?? previous)?.metadata?.namespace ?? "", name);
    if ((this.liveness.get(key) ?? false) !== ctx.heartbeats.isLive(current, ctx.now)) {
      this.statusDirty = "all";
      relevant = true;
    }
    return relevant;
  }

  /** Looks at every agent Lease at `now`: a flip of liveness (an agent died or came back) marks every status. */
  refreshLiveness(ctx: Pick<MarkContext, "cache" | "planNamespace" | "heartbeats" | "now">): void {
    const next = new Map<string, boolean>();
    for (const [key, lease] of ctx.cache.entries("Lease")) {
      if (!key.startsWith(`${ctx.planNamespace}/${AGENT_LEASE_PREFIX}`)) continue;
      next.set(key, ctx.heartbeats.isLive(lease, ctx.now));
    }
    ctx.heartbeats.retain(new Set(next.keys()));
    const flipped = next.size !== this.liveness.size || [...next].some(([k, v]) => this.liveness.get(k) !== v);
    this.liveness = next;
    if (flipped) this.statusDirty = "all";
  }
}

/** Whether a VirtualIP's Service has externalTrafficPolicy: Local (its standby follows the nodes' states). */
function frontsLocalService(cache: ObjectCache, vip: RawObject | undefined): boolean {
  const ns = vip?.metadata?.namespace;
  const name = (vip?.spec as { serviceRef?: { name?: unknown } } | undefined)?.serviceRef?.name;
  if (!ns || typeof name !== "string") return false;
  return (cache.get("Service", keyOf(ns, name))?.spec as { externalTrafficPolicy?: unknown } | undefined)?.externalTrafficPolicy === "Local";
}
