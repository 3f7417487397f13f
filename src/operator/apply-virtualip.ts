// Step 4 for one VirtualIP: its finalizer, the node entries written on behalf
// of silent nodes, the summary status and its Events, and the finalizer's removal once its nodes let it go. I/O through the port.
import { API_VERSION, FINALIZER, KIND, type NodeStatus } from "../api/index.js";
import { errorStatus } from "../kube/client.js";
import type { RawObject } from "../kube/watch.js";
import type { HandlerResult } from "../shared/queue.js";
import type { DeletionDecision } from "./deletion.js";
import { cleanupDone } from "./drift.js";
import { isDeleting } from "./gather.js";
import { putAndReport, refOf, type ApplyContext } from "./apply.js";
import type { VirtualIPMemory } from "./vipmemory.js";
import { deletionDecision, planStatus, type StatusContext } from "./vipstatus.js";

/** How long a VirtualIP being deleted waits before checking again whether every node config dropped it. */
export const FINALIZE_RECHECK_MS = 200;

/** The apply context of VirtualIPs: the status plan's inputs and the memory of holders. */
export interface VirtualIPApplyContext extends ApplyContext {
  status(): StatusContext;
  memory: VirtualIPMemory;
}

function hasFinalizer(obj: RawObject): boolean {
  return (obj.metadata?.finalizers ?? []).includes(FINALIZER);
}

/** One VirtualIP's writes, in order: add the finalizer, node entries, the summary status, remove the finalizer. */
export async function applyVirtualIP(ctx: VirtualIPApplyContext, key: string): Promise<HandlerResult | void> {
  let obj = ctx.cache.get("VirtualIP", key);
  if (!obj) return;
  try {
    if (!isDeleting(obj) && !hasFinalizer(obj)) obj = await patchFinalizers(ctx, key, obj, [...(obj.metadata?.finalizers ?? []), FINALIZER]);
    obj = await applyStatus(ctx, key, obj);
    if (isDeleting(obj) && hasFinalizer(obj)) return await finalize(ctx, key, obj);
  } catch (err) {
    if (errorStatus(err) === 404) return;
    throw err;
  }
}

/** Removes the finalizer of a deleted VirtualIP once its configs dropped it and its nodes confirmed (or timed out). */
async function finalize(ctx: VirtualIPApplyContext, key: string, obj: RawObject): Promise<HandlerResult | void> {
  const status = ctx.status();
  const participants = status.deletions.participants(key);
  if (!cleanupDone({ desired: ctx.desired(), cache: ctx.cache, planNamespace: ctx.planNamespace, participants }, key, obj))
    return { requeueAfterMs: FINALIZE_RECHECK_MS };
  // The nodes decide when; a Lease change or the timeout plans this key again.
  const deletion = deletionDecision(status, key, obj, ctx.clock.now());
  if (!deletion.done) return;
  if (deletion.givenUp.length > 0) await recordGivenUp(ctx, key, obj, deletion);
  await patchFinalizers(
    ctx,
    key,
    obj,
    (obj.metadata?.finalizers ?? []).filter((f) => f !== FINALIZER),
  );
  const how =
    deletion.givenUp.length > 0 ? "Removed the finalizer: the deletion timeout passed" : "Removed the finalizer: every node confirmed the address is gone";
  ctx.logger.info(how, { virtualIP: key, ...(deletion.givenUp.length > 0 ? { unconfirmed: deletion.givenUp } : {}) });
}

async function patchFinalizers(ctx: VirtualIPApplyContext, key: string, obj: RawObject, finalizers: string[]): Promise<RawObject> {
  const stored = await ctx.writer.patchFinalizers(refOf(key), finalizers, obj.metadata?.resourceVersion);
  if (isDeleting(stored) && (stored.metadata?.finalizers ?? []).length === 0) {
    // The API server deleted it with its last finalizer; its DELETED event may already have come, so never cache it again.
    const change = ctx.cache.remove("VirtualIP", key);
    if (change) ctx.report(change);
    return stored;
  }
  putAndReport(ctx, "VirtualIP", stored);
  return stored;
}

/** Writes node entries on behalf of silent or departed nodes, then the summary; returns the object as last stored. */
async function applyStatus(ctx: VirtualIPApplyContext, key: string, obj: RawObject): Promise<RawObject> {
  const { logger, writer } = ctx;
  const sp = planStatus(ctx.status(), key, obj, ctx.clock.now());
  const ref = refOf(key);
  let latest = obj;
  for (const w of sp.nodeWrites) {
    const status: Record<string, unknown> = w.entry ? { nodes: [w.entry satisfies NodeStatus] } : {};
    latest = await writer.applyNodeEntry({ ...ref, resourceVersion: latest.metadata?.resourceVersion ?? "" }, w.node, status);
    putAndReport(ctx, "VirtualIP", latest);
    logger.info(w.entry ? "Marked a silent node UNKNOWN" : "Removed the entry of a node that no longer takes part", { virtualIP: key, node: w.node });
  }
  if (!sp.changed) {
    ctx.memory.holders.set(key, sp.holder);
    return latest;
  }
  latest = await writer.applyVirtualIPStatus(ref, sp.summary as unknown as Record<string, unknown>);
  ctx.memory.holders.set(key, sp.holder);
  putAndReport(ctx, "VirtualIP", latest);
  logger.debug("Applied VirtualIP status", { virtualIP: key, master: sp.summary.master, ready: sp.readyReason });
  for (const e of sp.events) logger.info("Recorded an Event", { virtualIP: key, type: e.type, reason: e.reason, note: e.message });
  await writer.recordEvents(
    { apiVersion: API_VERSION, kind: KIND, ...ref, uid: obj.metadata?.uid ?? "", resourceVersion: latest.metadata?.resourceVersion ?? "" },
    sp.events,
  );
  return latest;
}

/** The Warning Event of a deletion that went without every node's confirmation. */
async function recordGivenUp(ctx: VirtualIPApplyContext, key: string, obj: RawObject, deletion: DeletionDecision): Promise<void> {
  const message = deletion.message.replace(/^Being deleted: /, "");
  ctx.logger.warn("Gave up waiting for nodes to confirm a deletion", { virtualIP: key, nodes: deletion.givenUp });
  const involved = { apiVersion: API_VERSION, kind: KIND, ...refOf(key), uid: obj.metadata?.uid ?? "", resourceVersion: obj.metadata?.resourceVersion ?? "" };
  await ctx.writer.recordEvents(involved, [{ type: "Warning", reason: "DeletionUnconfirmed", message }]);
}
