// Gathering: the cached objects turned into the renderer's ClusterView, plus
// what the operator reads from agent Leases (interface, liveness). Pure.
import type { V1EndpointSlice, V1Node, V1Secret, V1Service } from "@kubernetes/client-node";
import {
  ANNOTATION_DEFAULT_INTERFACE,
  ANNOTATION_HOST_ADDRESSES,
  ANNOTATION_INTERFACES,
  ANNOTATION_IPVS,
  INTERFACE_NAME_PATTERN,
  MAX_PUBLISHED_INTERFACES,
  agentLeaseName,
  canonicalIP,
  claimSchema,
  conditionSchema,
  parsePool,
  parseVirtualIP,
  type ParseResult,
  type VirtualIP,
  type VirtualIPPool,
} from "../api/index.js";
import type { AgentCapabilities, ClusterView } from "../render/index.js";
import type { RawObject } from "../kube/watch.js";
import type { ObjectCache } from "./cache.js";
import { keyOf } from "../shared/keys.js";
import { CountedSet } from "../shared/counted-set.js";

/** Whether the object has a deletionTimestamp. */
export function isDeleting(obj: RawObject): boolean {
  return typeof obj.metadata?.deletionTimestamp === "string" && obj.metadata.deletionTimestamp !== "";
}

/**
 * Parses VirtualIPs with the zod schema, once per uid and generation (spec
 * changes bump the generation; status changes do not). The status is left
 * out: agents write it, and it has no say in the spec's validity.
 */
export class VirtualIPParser {
  private readonly cache = new Map<string, { uid: string; generation: number; result: ParseResult<VirtualIP> }>();

  parse(key: string, obj: RawObject): ParseResult<VirtualIP> {
    const uid = obj.metadata?.uid ?? "";
    const generation = obj.metadata?.generation ?? 0;
    const hit = this.cache.get(key);
    if (hit && hit.uid === uid && hit.generation === generation) return hit.result;
    const { managedFields: _m, ...metadata } = obj.metadata ?? {};
    const result = parseVirtualIP({ apiVersion: obj.apiVersion, kind: obj.kind, metadata, spec: obj.spec });
    this.cache.set(key, { uid, generation, result });
    return result;
  }

  /** Parsed VirtualIPs with their planned status, by the cached object they came from: the same object gives the same VirtualIP (the renderer's session compares them by identity). */
  private readonly planned = new WeakMap<RawObject, VirtualIP>();

  /** The VirtualIP the renderer plans for `obj` (spec parsed, the status it reads), or the parse error. */
  plan(key: string, obj: RawObject): ParseResult<VirtualIP> {
    const hit = this.planned.get(obj);
    if (hit) return { ok: true, value: hit };
    const res = this.parse(key, obj);
    if (!res.ok) return res;
    const value = { ...res.value, status: plannedStatus(obj) };
    this.planned.set(obj, value);
    return { ok: true, value };
  }

  forget(key: string): void {
    this.cache.delete(key);
  }
}

/** When an agent last renewed its heartbeat Lease, or undefined when it cannot tell. */
export function leaseRenewal(lease: RawObject | undefined): number | undefined {
  const spec = (lease?.spec ?? {}) as { renewTime?: string };
  const t = spec.renewTime ? Date.parse(spec.renewTime) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** The agent Lease of each node (by node name), from the Leases in the operator namespace. */
export function agentLeasesByNode(nodes: readonly string[], leases: ReadonlyMap<string, RawObject>, namespace: string): Map<string, RawObject> {
  const out = new Map<string, RawObject>();
  for (const n of nodes) {
    const lease = leases.get(keyOf(namespace, agentLeaseName(n)));
    if (lease) out.set(n, lease);
  }
  return out;
}

/** Node name -> interface its agent published on its Lease. */
export function nodeInterfaces(byNode: ReadonlyMap<string, RawObject>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [node, lease] of [...byNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const ifname = lease.metadata?.annotations?.[ANNOTATION_DEFAULT_INTERFACE];
    if (ifname) out[node] = ifname;
  }
  return out;
}

/** Node name -> the host addresses its agent published on its Lease (only IP literals; never a VirtualIP). */
export function agentHostAddresses(byNode: ReadonlyMap<string, RawObject>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [node, lease] of [...byNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const text = lease.metadata?.annotations?.[ANNOTATION_HOST_ADDRESSES];
    if (!text) continue;
    const addrs = text
      .split(",")
      .map((a) => a.trim())
      .filter((a) => canonicalIP(a) === a)
      .slice(0, 64);
    if (addrs.length > 0) out[node] = addrs;
  }
  return out;
}

const INTERFACE_NAME = new RegExp(INTERFACE_NAME_PATTERN);

/**
 * Node name -> what its agent reports about the node on its Lease: interface
 * names (only plain interface names, at most MAX_PUBLISHED_INTERFACES; a longer
 * list counts as not reported) and whether IPVS is available ("true"/"false";
 * anything else counts as not reported).
 */
export function agentCapabilities(byNode: ReadonlyMap<string, RawObject>): Record<string, AgentCapabilities> {
  const out: Record<string, AgentCapabilities> = {};
  for (const [node, lease] of [...byNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const annotations = lease.metadata?.annotations ?? {};
    const caps: AgentCapabilities = {};
    const text = annotations[ANNOTATION_INTERFACES];
    if (typeof text === "string") {
      const names = text
        .split(",")
        .map((n) => n.trim())
        .filter((n) => n !== "");
      if (names.length <= MAX_PUBLISHED_INTERFACES) caps.interfaces = names.filter((n) => INTERFACE_NAME.test(n));
    }
    const ipvs = annotations[ANNOTATION_IPVS];
    if (ipvs === "true" || ipvs === "false") caps.ipvs = ipvs === "true";
    if (caps.interfaces !== undefined || caps.ipvs !== undefined) out[node] = caps;
  }
  return out;
}

/**
 * What the renderer reads from an agent Lease, as a comparable text: the
 * default interface, the host addresses, IPVS, whether interfaces are
 * published and which of `referenced` (the names VirtualIPs give in
 * spec.interface) they include. Other interface names coming and going
 * (Pods' veths) change nothing.
 */
export function leaseRenderFingerprint(lease: RawObject | undefined, referenced: ReadonlySet<string>): string {
  const a = lease?.metadata?.annotations ?? {};
  const names = a[ANNOTATION_INTERFACES];
  const list = names === undefined ? undefined : names.split(",").map((n) => n.trim());
  const known =
    list === undefined
      ? "-"
      : list.length > MAX_PUBLISHED_INTERFACES
        ? "+"
        : list
            .filter((n) => referenced.has(n))
            .sort()
            .join(",");
  return JSON.stringify([a[ANNOTATION_DEFAULT_INTERFACE] ?? "", a[ANNOTATION_HOST_ADDRESSES] ?? "", a[ANNOTATION_IPVS] ?? "", known]);
}

/** The VirtualIPs of the cluster, sorted into what the renderer gets and what it does not. */
export interface GatheredVirtualIPs {
  /** Valid and not being deleted: the renderer's input. */
  valid: VirtualIP[];
  /** The same by key (valid until the next gather). */
  byKey: ReadonlyMap<string, VirtualIP>;
  /** "namespace/name" of every auth Secret a valid VirtualIP references (valid until the next gather). */
  authSecretRefs: ReadonlySet<string>;
  /** Key -> parse error (naming the field). */
  invalid: Map<string, string>;
  /** Keys being deleted. */
  deleting: Set<string>;
}

/**
 * The part of a VirtualIP's status that planning reads: the allocation
 * (address, router id, pool), the claim, the Ready condition (when it
 * became unusable) and each node's VRRP state. Fields that do not parse are left out.
 */
export function plannedStatus(obj: RawObject): NonNullable<VirtualIP["status"]> {
  const raw = (obj.status ?? {}) as Record<string, unknown>;
  const out: NonNullable<VirtualIP["status"]> = {};
  if (typeof raw.address === "string") out.address = raw.address;
  if (typeof raw.virtualRouterId === "number") out.virtualRouterId = raw.virtualRouterId;
  if (typeof raw.pool === "string") out.pool = raw.pool;
  const claim = claimSchema.safeParse(raw.claim);
  if (claim.success) out.claim = claim.data;
  const ready = Array.isArray(raw.conditions)
    ? (raw.conditions as unknown[]).map((c) => conditionSchema.safeParse(c)).find((c) => c.success && c.data.type === "Ready")
    : undefined;
  if (ready?.success) out.conditions = [ready.data];
  // The nodes' VRRP states, for handing a Local Service's VIP over make-before-break (render/placement.ts).
  if (Array.isArray(raw.nodes)) {
    const nodes: NonNullable<VirtualIP["status"]>["nodes"] = [];
    for (const n of raw.nodes as unknown[]) {
      const e = n as { name?: unknown; state?: unknown };
      if (typeof e.name === "string" && (e.state === "MASTER" || e.state === "BACKUP" || e.state === "FAULT")) nodes.push({ name: e.name, state: e.state });
    }
    if (nodes.length > 0) out.nodes = nodes;
  }
  return out;
}

/**
 * A fingerprint of the status fields planning reads (see plannedStatus). The
 * nodes' VRRP states count only with `withNodeStates` (a VirtualIP in front of
 * an externalTrafficPolicy: Local Service, whose standby they decide): a state
 * change elsewhere re-plans nothing.
 */
export function plannedStatusFingerprint(obj: RawObject | undefined, withNodeStates = false): string {
  if (!obj) return "";
  const { nodes, ...rest } = plannedStatus(obj);
  return JSON.stringify(withNodeStates ? { ...rest, nodes } : rest);
}

/** "namespace/name" of the VRRP auth Secret a VirtualIP references, if any. */
function authSecretRef(vip: VirtualIP): string | undefined {
  const ref = vip.spec.vrrp.authSecretRef;
  return ref ? keyOf(vip.metadata.namespace ?? "default", ref.name) : undefined;
}

/** Sorts the cached VirtualIPs into valid, invalid and deleting; valid ones carry their planned status. */
export function gatherVirtualIPs(vips: ReadonlyMap<string, RawObject>, parser: VirtualIPParser): GatheredVirtualIPs {
  const byKey = new Map<string, VirtualIP>();
  const authSecretRefs = new Set<string>();
  const out: GatheredVirtualIPs = { valid: [], byKey, authSecretRefs, invalid: new Map(), deleting: new Set() };
  for (const [key, obj] of vips) {
    if (isDeleting(obj)) {
      out.deleting.add(key);
      continue;
    }
    const res = parser.plan(key, obj);
    if (res.ok) {
      out.valid.push(res.value);
      byKey.set(key, res.value);
      const ref = authSecretRef(res.value);
      if (ref !== undefined) authSecretRefs.add(ref);
    } else out.invalid.set(key, res.error);
  }
  return out;
}

/**
 * The cache's VirtualIPs gathered and kept up to date by the keys that
 * changed (the cache logs them): a pass looks at what changed, not at every
 * VirtualIP. The first gather looks at all of them. A VirtualIP that stays
 * valid keeps its place in `valid` (the renderer's session compares the list position by position).
 */
export class VirtualIPGatherer {
  private readonly valid = new Map<string, VirtualIP>();
  private readonly authSecretRefs = new CountedSet();
  private readonly invalid = new Map<string, string>();
  private readonly deleting = new Set<string>();
  private primed = false;

  constructor(private readonly parser: VirtualIPParser) {}

  gather(cache: ObjectCache): GatheredVirtualIPs {
    cache.trackChanges("VirtualIP");
    const changed = cache.drainChanges("VirtualIP");
    const keys = this.primed ? changed : new Set([...this.valid.keys(), ...this.invalid.keys(), ...this.deleting, ...cache.entries("VirtualIP").keys()]);
    this.primed = true;
    for (const key of keys) this.regather(key, cache.get("VirtualIP", key));
    return {
      valid: [...this.valid.values()],
      byKey: this.valid,
      authSecretRefs: this.authSecretRefs.names,
      invalid: new Map(this.invalid),
      deleting: new Set(this.deleting),
    };
  }

  private regather(key: string, obj: RawObject | undefined): void {
    const res = obj && !isDeleting(obj) ? this.parser.plan(key, obj) : undefined;
    const before = this.valid.get(key);
    if (before) this.authSecretRefs.add(authSecretRef(before), -1);
    if (res?.ok) {
      this.valid.set(key, res.value);
      this.authSecretRefs.add(authSecretRef(res.value), 1);
    } else this.valid.delete(key);
    if (res && !res.ok) this.invalid.set(key, res.error);
    else this.invalid.delete(key);
    if (obj && isDeleting(obj)) this.deleting.add(key);
    else this.deleting.delete(key);
  }
}

/** The addresses VirtualIPs being deleted still hold (status.address, else spec.address). */
export function releasingAddresses(vips: ReadonlyMap<string, RawObject>): string[] {
  const out: string[] = [];
  for (const obj of vips.values()) {
    if (!isDeleting(obj)) continue;
    const a = (obj.status as { address?: unknown } | undefined)?.address ?? (obj.spec as { address?: unknown } | undefined)?.address;
    if (typeof a === "string") out.push(a);
  }
  return out.sort();
}

/** The router ids ("family:id") VirtualIPs being deleted still hold (status, else spec). */
export function releasingRouterIds(vips: ReadonlyMap<string, RawObject>): string[] {
  const out = new Set<string>();
  for (const obj of vips.values()) {
    if (!isDeleting(obj)) continue;
    const status = (obj.status ?? {}) as { address?: unknown; virtualRouterId?: unknown };
    const spec = (obj.spec ?? {}) as { address?: unknown; virtualRouterId?: unknown };
    const address = typeof status.address === "string" ? status.address : spec.address;
    const id = typeof status.virtualRouterId === "number" ? status.virtualRouterId : spec.virtualRouterId;
    if (typeof address !== "string" || typeof id !== "number" || canonicalIP(address) === undefined) continue;
    out.add(`${address.includes(":") ? 6 : 4}:${id}`);
  }
  return [...out].sort();
}

/** Cached pool object -> its parse (a cached object is never changed: a change is a new object). */
const parsedPools = new WeakMap<RawObject, ReturnType<typeof parsePool>>();

function parsedPool(obj: RawObject): ReturnType<typeof parsePool> {
  let res = parsedPools.get(obj);
  if (!res) {
    const { managedFields: _m, ...metadata } = obj.metadata ?? {};
    res = parsePool({ apiVersion: obj.apiVersion, kind: obj.kind, metadata, spec: obj.spec });
    parsedPools.set(obj, res);
  }
  return res;
}

/** Parses the cached VirtualIPPools: the valid ones, and a parse error per invalid one (by name). */
export function gatherPools(pools: readonly RawObject[]): { valid: VirtualIPPool[]; invalid: Map<string, string> } {
  const valid: VirtualIPPool[] = [];
  const invalid = new Map<string, string>();
  for (const obj of pools) {
    const res = parsedPool(obj);
    if (res.ok) valid.push(res.value);
    else invalid.set(obj.metadata?.name ?? "", res.error);
  }
  return { valid, invalid };
}

/** The CIDRs of networking.k8s.io/v1 ServiceCIDR objects. */
export function gatherServiceCIDRs(objs: readonly RawObject[]): { name: string; cidrs: string[] }[] {
  return objs.map((o) => ({
    name: o.metadata?.name ?? "",
    cidrs: ((o.spec as { cidrs?: unknown } | undefined)?.cidrs as string[] | undefined)?.filter((c) => typeof c === "string") ?? [],
  }));
}

/** Everything buildClusterView reads. */
export interface ViewSources {
  virtualIPs: VirtualIP[];
  nodes: readonly RawObject[];
  services: readonly RawObject[];
  endpointSlices: readonly RawObject[];
  authSecrets: readonly V1Secret[];
  nodeInterfaces: Record<string, string>;
  pools: VirtualIPPool[];
  namespaces: readonly RawObject[];
  serviceCIDRs: { name: string; cidrs: string[] }[];
  releasing: string[];
  releasingRouterIds: string[];
  agentAddresses: Record<string, string[]>;
  /** Node name -> what its agent reports (interfaces, IPVS); unset: nothing. */
  agentCapabilities?: Record<string, AgentCapabilities>;
  now: number;
}

/** The renderer's input. Raw JSON objects are what the typed ones serialize to (timestamps as strings). */
export function buildClusterView(s: ViewSources): ClusterView {
  return {
    virtualIPs: s.virtualIPs,
    nodes: s.nodes as unknown as V1Node[],
    services: s.services as unknown as V1Service[],
    endpointSlices: s.endpointSlices as unknown as V1EndpointSlice[],
    secrets: [...s.authSecrets],
    nodeInterfaces: s.nodeInterfaces,
    pools: s.pools,
    namespaces: s.namespaces.map((n) => ({ name: n.metadata?.name ?? "", labels: { ...(n.metadata?.labels ?? {}) } })),
    serviceCIDRs: s.serviceCIDRs,
    releasing: s.releasing,
    releasingRouterIds: s.releasingRouterIds,
    agentAddresses: s.agentAddresses,
    ...(s.agentCapabilities ? { agentCapabilities: s.agentCapabilities } : {}),
    now: s.now,
  };
}
