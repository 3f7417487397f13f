// Step 4 of the reconcile, the apply: one owned object per queue key, written
// through the ClusterWriter port only if it still differs; the stored object goes back into the cache. I/O through the port.
import type { V1DaemonSet } from "@kubernetes/client-node";
import { ANNOTATION_CONFIG_HASH, ANNOTATION_INSTANCE, ANNOTATION_NODE, DAEMONSET_NAME } from "../api/index.js";
import { errorStatus } from "../kube/client.js";
import type { RawObject } from "../kube/watch.js";
import type { Clock } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { CacheChange, Kind, ObjectCache } from "./cache.js";
import { daemonSetNeedsApply } from "./daemonset.js";
import type { DesiredState } from "./desired.js";
import { secretDiffers } from "./drift.js";
import { loadBalancerVIPNeedsApply } from "./lbservices.js";
import { poolStatusBody, poolStatusNeedsApply } from "./pools.js";
import { buildServiceStatus, serviceIngressNeedsApply } from "./services.js";
import type { ClusterWriter, ObjectName } from "./writer.js";
import { keyOf } from "../shared/keys.js";

/** What the apply step reads and where it writes. */
export interface ApplyContext {
  writer: ClusterWriter;
  cache: ObjectCache;
  clock: Clock;
  logger: Logger;
  /** The operator's namespace (the DaemonSet) and the plan namespace (config Secrets). */
  namespace: string;
  planNamespace: string;
  /** The latest desired state (step 2); read when the key runs, never a stale copy. */
  desired(): DesiredState;
  daemonSet: V1DaemonSet;
  /** The agent image (logged with a DaemonSet apply). */
  agentImage: string;
  /** Sees every cache change a write makes (the reconciler marks work from it). */
  report(change: CacheChange): void;
}

/** "namespace/name" split into a reference. */
export function refOf(key: string): ObjectName {
  const i = key.indexOf("/");
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Stores a write's response in the cache, so the next diff sees it before the watch event arrives. */
export function putAndReport(ctx: Pick<ApplyContext, "cache" | "report">, kind: Kind, obj: RawObject): void {
  const change = ctx.cache.put(kind, obj);
  if (change) ctx.report(change);
}

/** Runs a write; a 404 (the object is gone) ends the key quietly: its deletion event plans again. */
async function unlessGone(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    if (errorStatus(err) !== 404) throw err;
  }
}

/** Applies a desired config Secret, or deletes a stale one. */
export async function applySecret(ctx: ApplyContext, name: string): Promise<void> {
  const { cache, logger, planNamespace } = ctx;
  const key = keyOf(planNamespace, name);
  const built = ctx.desired().secrets.get(name);
  if (built) {
    if (!secretDiffers(ctx.desired(), cache, planNamespace, name)) return;
    const stored = await ctx.writer.applySecret(built.secret);
    // What was stored is what was sent: cache its metadata and the digests, not another copy of the data.
    putAndReport(ctx, "Secret", { apiVersion: "v1", kind: "Secret", metadata: stored.metadata, data: built.digests });
    const annotations = built.secret.metadata?.annotations ?? {};
    const what = annotations[ANNOTATION_NODE] !== undefined ? { node: annotations[ANNOTATION_NODE] } : { instance: annotations[ANNOTATION_INSTANCE] };
    logger.info(what.node !== undefined ? "Applied node config" : "Applied instance config", {
      secret: name,
      ...what,
      hash: annotations[ANNOTATION_CONFIG_HASH],
    });
    return;
  }
  const stale = ctx.desired().staleSecrets.get(name);
  if (!stale || !cache.has("Secret", key)) return;
  await ctx.writer.deleteSecret({ namespace: planNamespace, name }, stale.uid);
  const change = cache.remove("Secret", key);
  if (change) ctx.report(change);
  logger.info("Deleted a config Secret no longer in the plan", { secret: name });
}

/** Applies a Service's load-balancer ingress (an empty list gives up the operator's entries). */
export async function applyService(ctx: ApplyContext, key: string): Promise<void> {
  const ips = ctx.desired().ingress.get(key) ?? [];
  if (!serviceIngressNeedsApply(ips, ctx.cache.get("Service", key))) return;
  await unlessGone(async () => {
    const stored = await ctx.writer.applyServiceStatus(refOf(key), buildServiceStatus(ips));
    putAndReport(ctx, "Service", stored);
    ctx.logger.info("Applied Service load-balancer ingress", { service: key, ingress: ips });
  });
}

/** Creates or updates the VirtualIP of a LoadBalancer Service, or deletes one its Service no longer wants. */
export async function applyLoadBalancerVIP(ctx: ApplyContext, key: string): Promise<void> {
  const { cache, logger } = ctx;
  const plan = ctx.desired().loadBalancers;
  const desired = plan.apply.get(key);
  if (desired) {
    if (!loadBalancerVIPNeedsApply(desired.object, cache.get("VirtualIP", key))) return;
    for (const note of desired.ignored) logger.warn("Ignored a LoadBalancer Service annotation", { virtualIP: key, reason: note });
    putAndReport(ctx, "VirtualIP", await ctx.writer.applyVirtualIP(desired.object));
    logger.info("Applied the VirtualIP of a LoadBalancer Service", { virtualIP: key });
    return;
  }
  const uid = plan.remove.get(key);
  if (uid === undefined || !cache.has("VirtualIP", key)) return;
  await ctx.writer.deleteVirtualIP(refOf(key), uid);
  logger.info("Deleted the VirtualIP of a Service that no longer wants it", { virtualIP: key });
}

/** Applies a VirtualIPPool's status (allocated, available, Ready). */
export async function applyPool(ctx: ApplyContext, name: string): Promise<void> {
  const desired = ctx.desired().pools.get(name);
  const live = ctx.cache.get("VirtualIPPool", name);
  if (!desired || !poolStatusNeedsApply(desired, live)) return;
  await unlessGone(async () => {
    const stored = await ctx.writer.applyPoolStatus(name, poolStatusBody(desired, live, new Date(ctx.clock.now()).toISOString()));
    putAndReport(ctx, "VirtualIPPool", stored);
    ctx.logger.info("Applied VirtualIPPool status", { pool: name, allocated: desired.allocated, available: desired.available, ready: desired.ready.reason });
  });
}

/** Applies the agent DaemonSet. */
export async function applyDaemonSet(ctx: ApplyContext): Promise<void> {
  const live = ctx.cache.get("DaemonSet", keyOf(ctx.namespace, DAEMONSET_NAME)) as V1DaemonSet | undefined;
  if (!daemonSetNeedsApply(ctx.daemonSet, live)) return;
  putAndReport(ctx, "DaemonSet", await ctx.writer.applyDaemonSet(ctx.daemonSet));
  ctx.logger.info("Applied the agent DaemonSet", { daemonSet: DAEMONSET_NAME, image: ctx.agentImage });
}
