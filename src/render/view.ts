// The cluster view, sorted and indexed once so that every later step reads
// it in the same order whatever order the caller gathered it in. Pure.
import type { AgentCapabilities } from "./capabilities.js";
import type { V1EndpointSlice, V1Node, V1Secret, V1Service } from "@kubernetes/client-node";
import { DEFAULT_MIN_ADVERT_INTERVAL_MS, DEFAULT_RUNTIME_DIR } from "../api/index.js";
import type { Family, VirtualIP } from "../api/index.js";
import { LABEL_SERVICE_NAME } from "./ipvs.js";
import { isInterfaceName, nodeInternalIP } from "./nodes.js";
import type { DefaultInterfaceSources } from "./nodes.js";
import { compareAge, compareStrings } from "./order.js";
import { DEFAULT_CLAIM_GRACE_MS } from "./claims.js";
import { indexPools, type PoolIndex } from "./pools.js";
import { indexReserved, type Reserved } from "./reserved.js";
import type { ClusterView, RenderOptions } from "./types.js";
import { objectKey } from "../shared/keys.js";

/** Options with defaults applied and checked. */
export interface ResolvedOptions {
  runtimeDir: string;
  defaultInterface: string;
  claimGraceMs: number;
  minAdvertIntervalMs: number;
}

/** The view, de-duplicated, sorted and keyed. */
export interface ViewIndex {
  /** By age (oldest first), unique by namespace/name. */
  virtualIPs: VirtualIP[];
  /** By name, unique. */
  nodes: V1Node[];
  /** Node name -> its InternalIP per family (see nodeInternalIP), read once. */
  nodeAddresses: Map<string, Partial<Record<Family, string>>>;
  /** By namespace/name. */
  services: Map<string, V1Service>;
  secrets: Map<string, V1Secret>;
  /** By namespace/name. */
  endpointSlices: V1EndpointSlice[];
  /** "namespace/service name" (from the kubernetes.io/service-name label) -> its EndpointSlices, sorted. */
  endpointSlicesByService: Map<string, V1EndpointSlice[]>;
  interfaces: DefaultInterfaceSources;
  options: ResolvedOptions;
  pools: PoolIndex;
  reserved: Reserved;
  /** Namespace name -> labels. */
  namespaceLabels: Map<string, Record<string, string>>;
  releasing: string[];
  /** "family:id" router ids of VirtualIPs being deleted. */
  releasingRouterIds: string[];
  /** Node name -> what its agent reports (interfaces, IPVS). */
  agentCapabilities: Map<string, AgentCapabilities>;
  now?: number;
}

/** Applies defaults to `options`; throws on a value that could not be rendered safely (a caller bug). */
export function resolveOptions(options: RenderOptions = {}): ResolvedOptions {
  const runtimeDir = (options.runtimeDir ?? DEFAULT_RUNTIME_DIR).replace(/\/+$/, "");
  if (!/^\/[A-Za-z0-9_./-]*$/.test(runtimeDir)) {
    throw new Error(`RenderOptions.runtimeDir ${JSON.stringify(options.runtimeDir)} must be an absolute path of [A-Za-z0-9_./-]`);
  }
  const defaultInterface = options.defaultInterface ?? "eth0";
  if (!isInterfaceName(defaultInterface)) {
    throw new Error(`RenderOptions.defaultInterface ${JSON.stringify(defaultInterface)} is not a plain interface name`);
  }
  const claimGraceMs = options.claimGraceMs ?? DEFAULT_CLAIM_GRACE_MS;
  if (!Number.isFinite(claimGraceMs) || claimGraceMs < 0) throw new Error(`RenderOptions.claimGraceMs ${claimGraceMs} must be a duration >= 0`);
  const minAdvertIntervalMs = options.minAdvertIntervalMs ?? DEFAULT_MIN_ADVERT_INTERVAL_MS;
  if (!Number.isInteger(minAdvertIntervalMs) || minAdvertIntervalMs < 0) {
    throw new Error(`RenderOptions.minAdvertIntervalMs ${JSON.stringify(options.minAdvertIntervalMs)} must be a whole number of milliseconds, 0 or more`);
  }
  return { runtimeDir, defaultInterface, claimGraceMs, minAdvertIntervalMs };
}

/** Sorts by key, ties broken by the JSON text so that even duplicates come out in one order. */
function sortByKey<T>(items: T[], key: (item: T) => string): T[] {
  const keyed = items.map((item) => ({ item, key: key(item) }));
  const text = (item: T): string => JSON.stringify(item) ?? "";
  keyed.sort((a, b) => compareStrings(a.key, b.key) || compareStrings(text(a.item), text(b.item)));
  return keyed.map((k) => k.item);
}

/** Keeps the first item per key of an already sorted list. */
function uniqueByKey<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function toMap<T extends { metadata?: { namespace?: string; name?: string } }>(items: T[]): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of sortByKey(items, (i) => objectKey(i.metadata))) {
    const k = objectKey(item.metadata);
    if (!map.has(k)) map.set(k, item);
  }
  return map;
}

/** Node name -> InternalIP per family, for every node. */
export function nodeAddresses(nodes: V1Node[]): Map<string, Partial<Record<Family, string>>> {
  const out = new Map<string, Partial<Record<Family, string>>>();
  for (const n of nodes) {
    const v4 = nodeInternalIP(n, 4);
    const v6 = nodeInternalIP(n, 6);
    out.set(n.metadata?.name ?? "", { ...(v4 ? { 4: v4 } : {}), ...(v6 ? { 6: v6 } : {}) });
  }
  return out;
}

/** Node name -> every address of the Node (all types) and its agent's published host addresses. */
function reservedNodeAddresses(nodes: V1Node[], agentAddresses: Record<string, string[]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const n of nodes) {
    const name = n.metadata?.name ?? "";
    out.set(
      name,
      (n.status?.addresses ?? []).map((a) => a.address),
    );
  }
  for (const [node, addrs] of Object.entries(agentAddresses)) out.set(node, [...(out.get(node) ?? []), ...addrs]);
  return out;
}

/** The Services and EndpointSlices of `view`, indexed. */
export function indexServices(
  view: Pick<ClusterView, "services" | "endpointSlices">,
): Pick<ViewIndex, "services" | "endpointSlices" | "endpointSlicesByService"> {
  const endpointSlices = sortByKey(view.endpointSlices, (s) => objectKey(s.metadata));
  const endpointSlicesByService = new Map<string, V1EndpointSlice[]>();
  for (const s of endpointSlices) {
    const svc = s.metadata?.labels?.[LABEL_SERVICE_NAME];
    if (svc === undefined) continue;
    const key = `${s.metadata?.namespace || "default"}/${svc}`;
    endpointSlicesByService.set(key, [...(endpointSlicesByService.get(key) ?? []), s]);
  }
  return { services: toMap(view.services), endpointSlices, endpointSlicesByService };
}

/** Sorts, de-duplicates and indexes `view`; resolves `options`. */
export function indexView(view: ClusterView, options: RenderOptions = {}): ViewIndex {
  const vipKey = (v: VirtualIP): string => objectKey(v.metadata);
  const virtualIPs = uniqueByKey(sortByKey(view.virtualIPs, vipKey), vipKey).sort(compareAge);
  const nodeName = (n: V1Node): string => n.metadata?.name ?? "";
  const nodes = uniqueByKey(sortByKey(view.nodes, nodeName), nodeName).filter((n) => nodeName(n) !== "");
  const resolved = resolveOptions(options);
  return {
    virtualIPs,
    nodes,
    nodeAddresses: nodeAddresses(nodes),
    ...indexServices(view),
    secrets: toMap(view.secrets),
    interfaces: { nodeInterfaces: { ...view.nodeInterfaces }, fallback: resolved.defaultInterface },
    options: resolved,
    pools: indexPools(view.pools),
    reserved: indexReserved({
      nodeAddresses: reservedNodeAddresses(nodes, view.agentAddresses ?? {}),
      serviceCIDRs: new Map((view.serviceCIDRs ?? []).map((c) => [c.name, c.cidrs])),
    }),
    namespaceLabels: new Map((view.namespaces ?? []).map((n) => [n.name, { ...(n.labels ?? {}) }])),
    releasing: [...(view.releasing ?? [])].sort(),
    releasingRouterIds: [...(view.releasingRouterIds ?? [])].sort(),
    agentCapabilities: new Map(Object.entries(view.agentCapabilities ?? {})),
    ...(view.now !== undefined ? { now: view.now } : {}),
  };
}
