// Step 2 for one VirtualIP: its status plan (summary, node entries, Events)
// and whether its nodes let it go when deleted, from the render and the cache. Pure (time passed in).
import { agentLeaseName, canonicalIP, ANNOTATION_RUNNING_ADDRESSES } from "../api/index.js";
import type { RawObject } from "../kube/watch.js";
import type { ObjectCache } from "./cache.js";
import { planDeletion, type AgentView, type DeletionDecision, type DeletionTracker } from "./deletion.js";
import type { RenderState } from "./desired.js";
import { agentLeasesByNode, isDeleting, leaseRenewal, type VirtualIPParser } from "./gather.js";
import type { HeartbeatSightings } from "./heartbeats.js";
import type { HolderMemory } from "./holder.js";
import { planClaim, planVirtualIPStatus, type StatusPlan } from "./status.js";
import { keyOf } from "../shared/keys.js";

/** What a VirtualIP's status plan reads besides the object. */
export interface StatusContext {
  cache: ObjectCache;
  planNamespace: string;
  deletionTimeoutMs: number;
  /** The last render (undefined before the first one). */
  render: RenderState | undefined;
  parser: VirtualIPParser;
  /** Agent Lease renewals as the operator saw them, on its own clock (ADR 0011). */
  heartbeats: HeartbeatSightings;
  /** Deleted VirtualIPs wait for their nodes (ADR 0017). */
  deletions: DeletionTracker;
  /** Per VirtualIP: the holder failovers are counted from (holder.ts). */
  holders: ReadonlyMap<string, HolderMemory>;
}

type LiveStatus = Parameters<typeof planVirtualIPStatus>[0]["live"];

function statusOf(obj: RawObject): LiveStatus {
  return obj.status ?? {};
}

function specAddress(obj: RawObject): string | undefined {
  return (obj.spec as { address?: string } | undefined)?.address;
}

/** Plans the status of one VirtualIP against the cache (fresh data; the apply step plans again before it writes). */
export function planStatus(ctx: StatusContext, key: string, obj: RawObject, now: number): StatusPlan {
  const { cache, render } = ctx;
  const vplan = render?.plan.virtualIPs[key];
  const deleting = isDeleting(obj);
  const parsed = deleting ? undefined : ctx.parser.parse(key, obj);
  const invalid = render?.invalid.get(key) ?? (parsed && !parsed.ok ? parsed.error : undefined);
  const leases = cache.entries("Lease");
  const leaseOf = (node: string): RawObject | undefined => leases.get(keyOf(ctx.planNamespace, agentLeaseName(node)));
  const live = statusOf(obj);
  const deletion = deleting ? deletionDecision(ctx, key, obj, now) : undefined;
  // A VirtualIP being deleted keeps its address and claim until its finalizer goes: no one gets the address before.
  const allocation = deleting
    ? { address: live.address, virtualRouterId: live.virtualRouterId, pool: live.pool }
    : { address: vplan?.address, virtualRouterId: vplan?.virtualRouterId, pool: vplan?.pool };
  const generation = obj.metadata?.generation ?? 0;
  const claim = deleting
    ? live.claim
    : planClaim({
        live: live.claim,
        claimed: vplan?.claimed ?? false,
        claimVoid: vplan?.claimVoid ?? false,
        address: vplan?.address,
        virtualRouterId: vplan?.virtualRouterId,
        generation,
        now,
      });
  const holder = ctx.holders.get(key);
  const sp = planVirtualIPStatus({
    key,
    address: allocation.address ?? specAddress(obj) ?? "",
    allocation: Object.fromEntries(Object.entries(allocation).filter(([, v]) => v !== undefined)),
    ...(claim !== undefined ? { claim } : {}),
    generation,
    live,
    ...(invalid !== undefined ? { invalid } : {}),
    deleting,
    ...(deletion ? { deletionMessage: deletion.message } : {}),
    participants: vplan?.nodes ?? [],
    advertIntervalMs: vplan?.advertIntervalMs ?? 1000,
    problems: render?.problems.get(key) ?? [],
    isLive: (node) => ctx.heartbeats.isLive(leaseOf(node), now),
    renewedAt: (node) => leaseRenewal(leaseOf(node)),
    ...(holder !== undefined ? { holder } : {}),
    now,
  });
  if (deletion?.recheckAt !== undefined) sp.recheckAt = Math.min(sp.recheckAt ?? Infinity, deletion.recheckAt);
  return sp;
}

/** Whether the nodes let a deleted VirtualIP go: every one that took part confirmed its address is gone, or timed out (ADR 0017). */
export function deletionDecision(ctx: StatusContext, key: string, obj: RawObject, now: number): DeletionDecision {
  const { cache, deletions, heartbeats } = ctx;
  const live = statusOf(obj);
  const address = canonicalIP(live.address ?? specAddress(obj) ?? "") ?? "";
  const participants = new Set([...deletions.participants(key), ...(live.nodes ?? []).map((n) => n.name)]);
  const names = new Set([...participants, ...cache.values("Node").map((n) => n.metadata?.name ?? "")]);
  const startedAt = deletions.startedAt(key, now, obj.metadata?.resourceVersion ?? "");
  const agents = new Map<string, AgentView>();
  for (const [node, lease] of agentLeasesByNode([...names], cache.entries("Lease"), ctx.planNamespace)) {
    agents.set(node, {
      live: heartbeats.isLive(lease, now),
      running: deletions.runningSet(node, lease.metadata?.annotations?.[ANNOTATION_RUNNING_ADDRESSES]),
      fresh: deletions.writtenAfter(key, lease.metadata?.resourceVersion, heartbeats.renewedAt(lease, now)),
    });
  }
  // A node without an agent Lease has no agent: nothing runs the address there.
  const withAgent = [...participants].filter((n) => agents.has(n));
  return planDeletion({ address, participants: withAgent, agents, startedAt, now, timeoutMs: ctx.deletionTimeoutMs });
}
