// Service status.loadBalancer.ingress for `forwarding: kube-proxy`: which
// addresses each Service should publish, and whether the live one needs an apply. Pure.
import { LOAD_BALANCER_CLASS, OPERATOR_FIELD_MANAGER } from "../api/index.js";
import type { RawObject } from "../kube/watch.js";
import { compareIP } from "../render/index.js";

/** A VirtualIP as far as Service ingress is concerned. */
export interface IngressSource {
  /** "namespace/name" of the Service it names. */
  service: string;
  address: string;
  /** forwarding is kube-proxy, the VirtualIP is rendered (not left out, not being deleted). */
  publish: boolean;
}

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

/**
 * Desired ingress IPs per Service ("namespace/name" -> sorted IPs): every
 * eligible Service a published VirtualIP names, and every Service whose
 * ingress this operator owns (empty list: release it). VirtualIPs naming the
 * same Service are merged.
 */
export function planServiceIngress(sources: Iterable<IngressSource>, services: ReadonlyMap<string, RawObject>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, svc] of services) if (ownsIngress(svc)) out.set(key, []);
  for (const s of sources) {
    if (!s.publish || !isOurLoadBalancer(services.get(s.service))) continue;
    const list = out.get(s.service) ?? [];
    if (!list.includes(s.address)) list.push(s.address);
    out.set(s.service, list);
  }
  for (const list of out.values()) list.sort(compareIP);
  return out;
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
