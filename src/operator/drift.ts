// Step 3 of the reconcile, the diff: which owned objects differ from the
// desired state, as queue keys ("secret/<name>", "service/<ns>/<name>", ...). Pure.
import type { V1DaemonSet } from "@kubernetes/client-node";
import { DAEMONSET_NAME, FINALIZER, nodeConfigSecretName } from "../api/index.js";
import type { RawObject } from "../kube/watch.js";
import type { ObjectCache } from "./cache.js";
import { daemonSetNeedsApply } from "./daemonset.js";
import type { BuiltSecret, DesiredState } from "./desired.js";
import { isDeleting } from "./gather.js";
import { loadBalancerVIPNeedsApply } from "./lbservices.js";
import { configSecretNeedsApply } from "./nodesecrets.js";
import { poolStatusNeedsApply } from "./pools.js";
import { serviceIngressNeedsApply } from "./services.js";
import type { StatusPlan } from "./status.js";
import { keyOf } from "../shared/keys.js";

/** Where the operator's objects live. */
export interface Namespaces {
  /** The operator's own namespace (the agent DaemonSet). */
  namespace: string;
  /** Where the config Secrets and agent Leases live. */
  planNamespace: string;
}

/** Whether the desired config Secret `name` differs from the cached one. */
export function secretDiffers(desired: DesiredState, cache: ObjectCache, planNamespace: string, name: string): boolean {
  const d = desired.secrets.get(name);
  if (d === undefined) return false;
  const live = cache.get("Secret", keyOf(planNamespace, name));
  // A desired Secret found equal to this very cached object needs no second look (both are never mutated).
  if (live !== undefined && agreed.get(d) === live) return false;
  const differs = configSecretNeedsApply(d.secret, live, d.digests);
  if (!differs && live !== undefined) agreed.set(d, live);
  return differs;
}

/** Desired Secret -> the cached object it was last found equal to. */
const agreed = new WeakMap<BuiltSecret, RawObject>();

/**
 * The keys of the owned objects that differ from the desired state, data plane
 * first (config Secrets, Service ingress) so nodes get their configs before statuses move.
 * Of the desired config Secrets, only `secretNames` are compared (those that changed, in the cache or the desired state).
 */
export function diffOwnedObjects(
  desired: DesiredState,
  cache: ObjectCache,
  owned: { namespaces: Namespaces; daemonSet: V1DaemonSet; secretNames: Iterable<string> | "all" },
): string[] {
  const { namespaces: ns, daemonSet, secretNames } = owned;
  const keys: string[] = [];
  for (const name of secretNames === "all" ? desired.secrets.keys() : secretNames)
    if (secretDiffers(desired, cache, ns.planNamespace, name)) keys.push(`secret/${name}`);
  for (const name of desired.staleSecrets.keys()) if (cache.has("Secret", keyOf(ns.planNamespace, name))) keys.push(`secret/${name}`);
  for (const [key, ips] of desired.ingress) if (serviceIngressNeedsApply(ips, cache.get("Service", key))) keys.push(`service/${key}`);
  for (const [name, d] of desired.pools) if (poolStatusNeedsApply(d, cache.get("VirtualIPPool", name))) keys.push(`pool/${name}`);
  for (const [key, d] of desired.loadBalancers.apply) if (loadBalancerVIPNeedsApply(d.object, cache.get("VirtualIP", key))) keys.push(`lbvip/${key}`);
  for (const key of desired.loadBalancers.remove.keys()) keys.push(`lbvip/${key}`);
  if (daemonSetNeedsApply(daemonSet, cache.get("DaemonSet", keyOf(ns.namespace, DAEMONSET_NAME)) as V1DaemonSet | undefined))
    keys.push(`daemonset/${DAEMONSET_NAME}`);
  return keys;
}

/** Whether a VirtualIP needs a write: its summary, a node entry, or its finalizer (added while it lives, removed once deleted). */
export function virtualIPDiffers(sp: StatusPlan, obj: RawObject): boolean {
  const finalizerDue = isDeleting(obj) === (obj.metadata?.finalizers ?? []).includes(FINALIZER);
  return sp.changed || sp.nodeWrites.length > 0 || finalizerDue;
}

/**
 * Whether a deleted VirtualIP is gone from the node configs of the nodes it
 * took part on and from its Service's status. Only its own objects count:
 * another object that cannot be written never holds this deletion up.
 */
export function cleanupDone(
  input: { desired: DesiredState; cache: ObjectCache; planNamespace: string; participants: readonly string[] },
  key: string,
  obj: RawObject,
): boolean {
  const { desired, cache, planNamespace } = input;
  // Only a render that left it out has dropped it from the desired Secrets.
  if (!desired.render?.excluded.has(key)) return false;
  for (const node of input.participants) if (secretDiffers(desired, cache, planNamespace, nodeConfigSecretName(node))) return false;
  const service = keyOf(key.slice(0, key.indexOf("/")), (obj.spec as { serviceRef?: { name?: string } } | undefined)?.serviceRef?.name ?? "");
  const ips = desired.ingress.get(service);
  return ips === undefined || !serviceIngressNeedsApply(ips, cache.get("Service", service));
}
