// Service status.loadBalancer.ingress for `forwarding: kube-proxy`: whether a
// Service is ours to publish on, who owns the field, and whether the live one needs an apply
// (which addresses each Service should publish is derived.ts's). Pure.
import { LOAD_BALANCER_CLASS, OPERATOR_FIELD_MANAGER } from "../api/index.js";
import type { RawObject } from "../kube/watch.js";
import { compareIP } from "../render/index.js";

/** Whether the operator may publish an address on this Service: type LoadBalancer, loadBalancerClass unset or ours. */
export function isOurLoadBalancer(svc: RawObject | undefined): boolean {
  const spec = (svc?.spec ?? {}) as { type?: string; loadBalancerClass?: string };
  return spec.type === "LoadBalancer" && (spec.loadBalancerClass === undefined || spec.loadBalancerClass === LOAD_BALANCER_CLASS);
}

/** Whether `manager` owns status.loadBalancer.ingress of the Service (from managedFields). */
export function ownsIngress(svc: RawObject | undefined, manager = OPERATOR_FIELD_MANAGER): boolean {
  for (const entry of (svc?.metadata?.managedFields ?? []) as { manager?: string; fieldsV1?: Record<string, Record<string, Record<string, unknown>>> }[]) {
    if (entry.manager === manager && entry.fieldsV1?.["f:status"]?.["f:loadBalancer"]?.["f:ingress"] !== undefined) return true;
  }
  return false;
}

/** The IPs in a Service's status.loadBalancer.ingress, sorted. */
export function liveIngressIPs(svc: RawObject | undefined): string[] {
  const status = (svc?.status ?? {}) as { loadBalancer?: { ingress?: { ip?: string }[] } };
  return (status.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : [])).sort(compareIP);
}

/** Whether the Service needs an apply: other IPs than desired, or an ingress we own but no longer want. */
export function serviceIngressNeedsApply(desired: readonly string[], live: RawObject | undefined): boolean {
  if (!live) return false;
  if (desired.length === 0) return ownsIngress(live);
  const have = liveIngressIPs(live);
  return have.length !== desired.length || have.some((ip, i) => ip !== desired[i]);
}

/** The status the operator applies on the Service (empty: give up the field). */
export function buildServiceStatus(desired: readonly string[]): Record<string, unknown> {
  return desired.length === 0 ? {} : { loadBalancer: { ingress: desired.map((ip) => ({ ip })) } };
}
