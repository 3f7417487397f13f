// A long-lived renderer: planCluster's result for every view, re-planning only
// what changed since the previous view when that can be done exactly (delta.ts),
// else the full pass (plan.ts). Pure but for the state it keeps between calls.
// Why and where it falls back: docs/adr/0021-incremental-render.md.
import type { V1EndpointSlice, V1Node, V1Service } from "@kubernetes/client-node";
import type { VirtualIP } from "../api/index.js";
import { reallocate, recandidate, regroup, replanEntries, republish, rerank } from "./delta.js";
import { claimExpiresAt } from "./claims.js";
import { addToSet, fullPlanState, planOf, type PlanState } from "./plan.js";
import type { ClusterPlan, ClusterView, RenderOptions, VirtualIPPlan } from "./types.js";
import { LABEL_SERVICE_NAME } from "./ipvs.js";
import { indexServices } from "./view.js";
import { objectKey } from "../shared/keys.js";

/** What the previous call saw, to tell what changed. */
interface Seen {
  options: string;
  /** Everything but VirtualIPs, Nodes, Services and EndpointSlices, as one text. */
  rest: string;
  nodes: readonly V1Node[];
  /** The view's VirtualIPs as last seen (in their order). */
  vipList: readonly VirtualIP[];
  services: Map<string, V1Service>;
  slices: Map<string, V1EndpointSlice>;
  /** Service key -> the VirtualIPs that name it. */
  vipsByService: Map<string, Set<string>>;
  now: number | undefined;
  /** The earliest time after `now` when an unusable VirtualIP's claim expires. */
  nextClaimExpiry: number;
}

/** Why a call took the full pass. */
export type FullPassReason = "first" | "duplicates" | "time" | "nodes" | "cluster" | "allocation" | "error";

/** How a call was planned, and which VirtualIPs' plan entries or problems it may have changed. */
export interface SessionPass {
  kind: "full" | "incremental";
  /** For a full pass, why. */
  reason?: FullPassReason;
  /** VirtualIP keys whose plan entry or problems may differ from the previous call's; "all" after a full pass. */
  changed: Set<string> | "all";
}

const nodeTexts = new WeakMap<V1Node, string>();

/** What the renderer reads from a Node (name, labels, annotations, spec, addresses), once per object. */
function nodeText(n: V1Node): string {
  let text = nodeTexts.get(n);
  if (text === undefined) {
    text = JSON.stringify([n.metadata?.name, n.metadata?.labels, n.metadata?.annotations, n.spec, n.status?.addresses]);
    nodeTexts.set(n, text);
  }
  return text;
}

/**
 * A pool as the renderer reads it: without its resourceVersion,
 * which every status write changes (the operator writes each pool's status
 * as VirtualIPs come and go; that must not cost a full pass).
 */
function withoutVersion<T extends { metadata?: { resourceVersion?: string } }>(o: T): T {
  if (o.metadata?.resourceVersion === undefined) return o;
  const { resourceVersion: _rv, ...metadata } = o.metadata;
  return { ...o, metadata };
}

function restText(view: ClusterView): string {
  const { serviceCIDRs, agentAddresses, agentCapabilities, nodeInterfaces, releasing, releasingRouterIds, secrets } = view;
  const pools = view.pools.map(withoutVersion);
  return JSON.stringify([pools, view.namespaces, serviceCIDRs, agentAddresses, agentCapabilities, nodeInterfaces, releasing, releasingRouterIds, secrets]);
}

function serviceKeyOf(vip: VirtualIP): string {
  return `${vip.metadata.namespace || "default"}/${vip.spec.serviceRef.name}`;
}

function sliceServiceKey(s: V1EndpointSlice | undefined): string | undefined {
  const name = s?.metadata?.labels?.[LABEL_SERVICE_NAME];
  return name === undefined ? undefined : `${s?.metadata?.namespace || "default"}/${name}`;
}

/** Keys of the objects in `next` that are not, or not the same object, in `prev` (and those gone). */
function changedKeys<T>(prev: ReadonlyMap<string, T>, next: ReadonlyMap<string, T>): string[] {
  const out: string[] = [];
  for (const [k, v] of next) if (prev.get(k) !== v) out.push(k);
  for (const k of prev.keys()) if (!next.has(k)) out.push(k);
  return out;
}

function byKey<T extends { metadata?: { namespace?: string; name?: string } }>(items: readonly T[]): Map<string, T> | undefined {
  const out = new Map(items.map((i) => [objectKey(i.metadata), i]));
  return out.size === items.length ? out : undefined;
}

/** Whether two lists of Nodes read the same to the renderer (same objects, or the same text of what it reads). */
function sameNodes(a: readonly V1Node[], b: readonly V1Node[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && nodeText(a[i] as V1Node) !== nodeText(b[i] as V1Node)) return false;
  return true;
}

/**
 * The VirtualIPs that are new, gone or another object than before (key ->
 * the new object, undefined when gone); undefined when a key is there twice.
 * The operator's list keeps its order, so a position by position look finds
 * the changes without a map of the whole list.
 */
function changedVirtualIPs(
  before: readonly VirtualIP[],
  now: readonly VirtualIP[],
  planned: ReadonlyMap<string, VirtualIP>,
): Map<string, VirtualIP | undefined> | undefined {
  const out = new Map<string, VirtualIP | undefined>();
  if (before.length === now.length) {
    let aligned = true;
    for (let i = 0; i < now.length && aligned; i++) {
      const a = before[i] as VirtualIP;
      const b = now[i] as VirtualIP;
      if (a === b) continue;
      const key = objectKey(b.metadata);
      if (key === objectKey(a.metadata)) out.set(key, b);
      else aligned = false;
    }
    if (aligned) return out;
    out.clear();
  }
  const next = byKey(now);
  if (!next) return undefined;
  for (const k of changedKeys(planned, next)) out.set(k, next.get(k));
  return out;
}

type Entries = Record<string, VirtualIPPlan>;

/**
 * The records of plan entries (a plan's virtualIPs): a new one for every
 * call, since an earlier plan may still be read, but made from a record
 * released by its reader when there is one (only the keys it missed are
 * written) rather than copied whole: at 10,000 VirtualIPs a copy per pass is
 * most of what a pass leaves for the garbage collector.
 */
class EntryRecords {
  /** Records no longer current, with the keys they lag behind in; oldest first, a few at most. */
  private readonly lagging = new Map<Entries, Set<string>>();
  private readonly released = new Set<Entries>();

  release(record: Entries): void {
    if (this.lagging.has(record)) this.released.add(record);
  }

  clear(): void {
    this.lagging.clear();
    this.released.clear();
  }

  /** The record after `current` with `changes`; `current` itself is left as it is. */
  next(current: Entries, changes: ReadonlyMap<string, VirtualIPPlan | undefined>): Entries {
    const reused = this.released.values().next().value;
    let next: Entries;
    if (reused) {
      next = reused;
      for (const key of this.lagging.get(reused) ?? []) {
        const entry = current[key];
        if (entry) next[key] = entry;
        else delete next[key];
      }
      this.released.delete(reused);
      this.lagging.delete(reused);
    } else next = { ...current };
    for (const [key, entry] of changes) {
      if (entry) next[key] = entry;
      else delete next[key];
    }
    for (const behind of this.lagging.values()) for (const key of changes.keys()) behind.add(key);
    this.lagging.set(current, new Set(changes.keys()));
    // Records not released soon are left to their readers (and the collector).
    while (this.lagging.size > 4) {
      const oldest = this.lagging.keys().next().value as Entries;
      this.lagging.delete(oldest);
      this.released.delete(oldest);
    }
    return next;
  }
}

/** Plans views one after another, each as planCluster would, re-planning only what changed where it can. */
export class PlanSession {
  private state: PlanState | undefined;
  private seen: Seen | undefined;
  /** How the last call was planned. */
  last: SessionPass = { kind: "full", reason: "first", changed: "all" };
  private readonly records = new EntryRecords();

  /**
   * Tells the session that nobody reads a plan it returned any more: its
   * record of plan entries may be reused (brought up to date) by a later call
   * instead of copied. Optional; a plan never released is never written to.
   */
  release(plan: Pick<ClusterPlan, "virtualIPs">): void {
    this.records.release(plan.virtualIPs);
  }

  plan(view: ClusterView, options: RenderOptions = {}): ClusterPlan {
    try {
      const changed = this.changes(view, options);
      if (typeof changed === "string") this.full(view, options, changed);
      else if (!this.incremental(view, changed)) this.full(view, options, "allocation");
      return planOf(this.state as PlanState, view);
    } catch (err) {
      this.state = undefined;
      this.seen = undefined;
      this.last = { kind: "full", reason: "error", changed: "all" };
      throw err;
    }
  }

  private full(view: ClusterView, options: RenderOptions, reason: FullPassReason): void {
    const state = fullPlanState(view, options);
    this.records.clear();
    const vipsByService = new Map<string, Set<string>>();
    let nextClaimExpiry = Infinity;
    for (const [key, vip] of state.vips) {
      addToSet(vipsByService, serviceKeyOf(vip), key);
      const at = claimExpiresAt(vip, state.index.options.claimGraceMs) ?? Infinity;
      if (view.now !== undefined && at >= view.now) nextClaimExpiry = Math.min(nextClaimExpiry, at);
    }
    this.state = state;
    // A view with a VirtualIP twice (never the operator's) is planned in full every time.
    this.seen = !byKey(view.virtualIPs)
      ? undefined
      : {
          options: JSON.stringify(options),
          rest: restText(view),
          nodes: view.nodes,
          vipList: view.virtualIPs,
          services: new Map(view.services.map((s) => [objectKey(s.metadata), s])),
          slices: new Map(view.endpointSlices.map((s) => [objectKey(s.metadata), s])),
          vipsByService,
          now: view.now,
          nextClaimExpiry,
        };
    this.last = { kind: "full", reason, changed: "all" };
  }

  /** The VirtualIPs to plan again (key -> the new object, undefined when gone), or why only a full pass will do. */
  private changes(view: ClusterView, options: RenderOptions): Map<string, VirtualIP | undefined> | FullPassReason {
    const seen = this.seen;
    const state = this.state;
    if (!seen || !state) return "first";
    const vips = changedVirtualIPs(seen.vipList, view.virtualIPs, state.vips);
    if (!vips) return "duplicates";
    if ((view.now === undefined) !== (seen.now === undefined) || (view.now ?? 0) > seen.nextClaimExpiry) return "time";
    if (!sameNodes(seen.nodes, view.nodes)) return "nodes";
    if (JSON.stringify(options) !== seen.options || restText(view) !== seen.rest) return "cluster";
    const services = byKey(view.services);
    const slices = byKey(view.endpointSlices);
    if (!services || !slices) return "duplicates";
    const touched = new Set(vips.keys());
    const serviceKeys = new Set(changedKeys(seen.services, services));
    for (const k of changedKeys(seen.slices, slices)) for (const s of [seen.slices.get(k), slices.get(k)]) serviceKeys.add(sliceServiceKey(s) ?? "");
    for (const s of serviceKeys) for (const k of seen.vipsByService.get(s) ?? []) touched.add(k);
    seen.services = services;
    seen.slices = slices;
    seen.vipList = view.virtualIPs;
    return new Map([...touched].map((k) => [k, vips.has(k) ? vips.get(k) : state.vips.get(k)]));
  }

  /** Brings the state up to date for `changed`; false when it cannot be done exactly (nothing was changed then). */
  private incremental(view: ClusterView, changed: ReadonlyMap<string, VirtualIP | undefined>): boolean {
    const state = this.state;
    const seen = this.seen;
    if (!state || !seen) return false;
    const index = { ...state.index, ...indexServices(view), virtualIPs: view.virtualIPs, ...(view.now !== undefined ? { now: view.now } : {}) };
    if (!reallocate(state, index, changed)) return false;
    state.index = index;
    for (const [key, vip] of changed) {
      const old = state.vips.get(key);
      if (old) seen.vipsByService.get(serviceKeyOf(old))?.delete(key);
      if (!vip) continue;
      addToSet(seen.vipsByService, serviceKeyOf(vip), key);
      const at = claimExpiresAt(vip, index.options.claimGraceMs) ?? Infinity;
      if (view.now !== undefined && at >= view.now) seen.nextClaimExpiry = Math.min(seen.nextClaimExpiry, at);
    }
    seen.now = view.now;
    const closed = recandidate(state, index, changed);
    const change = regroup(state, index, closed);
    rerank(state, change);
    republish(state, change);
    state.virtualIPs = this.records.next(state.virtualIPs, replanEntries(state, closed));
    this.last = { kind: "incremental", changed: closed };
    return true;
  }
}
