// LoadBalancer Services get a VirtualIP with no extra object: for every
// Service of type LoadBalancer with spec.loadBalancerClass keepalived-vip.io/vip
// (or none, when the operator serves the default class), one VirtualIP per IP
// family, owned by the Service, forwarding kube-proxy, its address from a
// pool (or the keepalived-vip.io/address annotation). Pure.
import {
  ANNOTATION_LB_ADDRESS,
  ANNOTATION_LB_POOL,
  ANNOTATION_LB_ROUTER_ID,
  API_VERSION,
  DNS_SUBDOMAIN_PATTERN,
  KIND,
  LABEL_COMPONENT,
  LABEL_LB_SERVICE,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  LOAD_BALANCER_CLASS,
  MANAGED_BY_VALUE,
  NAME_VALUE,
  canonicalIP,
  ipFamily,
} from "../api/index.js";
import type { RawObject } from "../kube/watch.js";

/** Component label of a VirtualIP made for a LoadBalancer Service. */
export const COMPONENT_LOAD_BALANCER = "load-balancer";

/** A VirtualIP to apply for a Service, and a note for each annotation that was ignored. */
export interface DesiredLoadBalancerVIP {
  /** "namespace/name" of the VirtualIP. */
  key: string;
  object: RawObject;
  ignored: string[];
}

/** What planLoadBalancerVIPs decides. */
export interface LoadBalancerPlan {
  /** By VirtualIP key. */
  apply: Map<string, DesiredLoadBalancerVIP>;
  /** VirtualIPs this operator made whose Service no longer wants them: key -> uid. */
  remove: Map<string, string>;
}

interface ServiceSpec {
  type?: string;
  loadBalancerClass?: string;
  ipFamilies?: string[];
}

/** Whether the operator serves this Service's load balancer. */
export function servesLoadBalancer(svc: RawObject, defaultClass: boolean): boolean {
  const spec = (svc.spec ?? {}) as ServiceSpec;
  if (spec.type !== "LoadBalancer") return false;
  if (spec.loadBalancerClass === LOAD_BALANCER_CLASS) return true;
  return defaultClass && (spec.loadBalancerClass === undefined || spec.loadBalancerClass === null);
}

/** The name of the VirtualIP of a Service for one family: `<service>-ipv4` / `<service>-ipv6`. */
export function loadBalancerVIPName(service: string, family: "IPv4" | "IPv6"): string {
  return `${service}-${family.toLowerCase()}`;
}

function ownedBy(vip: RawObject, svcUid: string | undefined): boolean {
  return (vip.metadata?.ownerReferences ?? []).some(
    (r) => (r as { kind?: string; uid?: string }).kind === "Service" && (svcUid === undefined || (r as { uid?: string }).uid === svcUid),
  );
}

/** A tenant's annotation value as logs quote it: JSON, at most 64 characters of it. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}...` : value);
}

/** The spec fields the annotations choose, for one family; invalid values are left out and named. */
function annotatedSpec(annotations: Record<string, string>, family: "IPv4" | "IPv6"): { spec: Record<string, unknown>; ignored: string[] } {
  const spec: Record<string, unknown> = {};
  const ignored: string[] = [];
  const addresses = (annotations[ANNOTATION_LB_ADDRESS] ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  for (const a of addresses) {
    if (canonicalIP(a) !== a) ignored.push(`${ANNOTATION_LB_ADDRESS}: ${quoted(a)} is not an IP address in canonical form`);
    else if ((ipFamily(a) === 4 ? "IPv4" : "IPv6") === family) spec.address = a;
  }
  const pool = annotations[ANNOTATION_LB_POOL];
  if (pool !== undefined) {
    if (pool.length <= 253 && new RegExp(DNS_SUBDOMAIN_PATTERN).test(pool)) spec.pool = pool;
    else ignored.push(`${ANNOTATION_LB_POOL}: ${quoted(pool)} is not a pool name`);
  }
  const rid = annotations[ANNOTATION_LB_ROUTER_ID];
  if (rid !== undefined) {
    if (/^[0-9]{1,3}$/.test(rid) && Number(rid) >= 1 && Number(rid) <= 255) spec.virtualRouterId = Number(rid);
    else ignored.push(`${ANNOTATION_LB_ROUTER_ID}: ${quoted(rid)} is not a router id 1..255`);
  }
  return { spec, ignored };
}

/** The families a Service asks for: spec.ipFamilies, IPv4 when unset. */
function familiesOf(svc: RawObject): ("IPv4" | "IPv6")[] {
  const fams = ((svc.spec ?? {}) as ServiceSpec).ipFamilies ?? ["IPv4"];
  return [...new Set(fams.filter((f): f is "IPv4" | "IPv6" => f === "IPv4" || f === "IPv6"))];
}

function buildVIP(svc: RawObject, family: "IPv4" | "IPv6", spec: Record<string, unknown>): RawObject {
  const ns = svc.metadata?.namespace ?? "default";
  const name = svc.metadata?.name ?? "";
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: loadBalancerVIPName(name, family),
      namespace: ns,
      labels: { [LABEL_NAME]: NAME_VALUE, [LABEL_COMPONENT]: COMPONENT_LOAD_BALANCER, [LABEL_MANAGED_BY]: MANAGED_BY_VALUE, [LABEL_LB_SERVICE]: name },
      ownerReferences: [{ apiVersion: "v1", kind: "Service", name, uid: svc.metadata?.uid ?? "", controller: true, blockOwnerDeletion: false }],
    },
    spec: { serviceRef: { name }, forwarding: "kube-proxy", ipFamily: family, ...spec, ...(family === "IPv6" ? { vrrp: { version: 3 } } : {}) },
  };
}

/**
 * Plans the VirtualIPs of LoadBalancer Services. A VirtualIP of the wanted
 * name that this operator did not make for that Service (a user's object) is
 * never touched; a VirtualIP it made is removed when its Service is gone, no
 * longer served, or no longer asks for its family.
 */
/** The VirtualIPs by key, and those that carry the Service label (the only ones that can be a Service's). */
export interface VirtualIPLookup {
  get(key: string): RawObject | undefined;
  labelled(): Iterable<[string, RawObject]>;
}

export function planLoadBalancerVIPs(
  services: ReadonlyMap<string, RawObject>,
  vips: ReadonlyMap<string, RawObject> | VirtualIPLookup,
  opts: { defaultClass: boolean },
): LoadBalancerPlan {
  const apply = new Map<string, DesiredLoadBalancerVIP>();
  for (const svc of services.values()) {
    if (!servesLoadBalancer(svc, opts.defaultClass) || svc.metadata?.deletionTimestamp) continue;
    const ns = svc.metadata?.namespace ?? "default";
    for (const family of familiesOf(svc)) {
      const key = `${ns}/${loadBalancerVIPName(svc.metadata?.name ?? "", family)}`;
      const existing = vips.get(key);
      if (existing && !ownedBy(existing, svc.metadata?.uid)) continue;
      const { spec, ignored } = annotatedSpec(svc.metadata?.annotations ?? {}, family);
      apply.set(key, { key, object: buildVIP(svc, family, spec), ignored });
    }
  }
  const remove = new Map<string, string>();
  for (const [key, vip] of "labelled" in vips ? vips.labelled() : vips) {
    if (vip.metadata?.labels?.[LABEL_LB_SERVICE] === undefined || !ownedBy(vip, undefined) || apply.has(key)) continue;
    if (vip.metadata?.deletionTimestamp) continue;
    remove.set(key, vip.metadata?.uid ?? "");
  }
  return { apply, remove };
}

/** Whether the live VirtualIP already carries the desired labels, owner and spec (as far as this operator sets them). */
export function loadBalancerVIPNeedsApply(desired: RawObject, live: RawObject | undefined): boolean {
  if (!live) return true;
  const want = desired.spec as Record<string, unknown>;
  const have = (live.spec ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(want)) {
    if (k === "vrrp") {
      if ((have.vrrp as { version?: number } | undefined)?.version !== (v as { version: number }).version) return true;
      continue;
    }
    if (JSON.stringify(have[k]) !== JSON.stringify(v)) return true;
  }
  for (const k of ["address", "pool", "virtualRouterId"]) if (have[k] !== undefined && want[k] === undefined) return true;
  const labels = live.metadata?.labels ?? {};
  return Object.entries(desired.metadata?.labels ?? {}).some(([k, v]) => labels[k] !== v);
}
