// Input and output types of the pure renderer: a snapshot of the cluster in,
// VRRP instances, problems and the published plan out. Pure (types only).
import type { V1EndpointSlice, V1Node, V1Secret, V1Service } from "@kubernetes/client-node";
import type { ConflictReason, Family, PublishedInstance, PublishedNode, ReadyReason, VirtualIP, VirtualIPPool } from "../api/index.js";
import type { AgentCapabilities } from "./capabilities.js";
import type { PoolPlan } from "./pools.js";

/** Everything the renderer reads, gathered before any decision is made. */
export interface ClusterView {
  /** Parsed, valid VirtualIPs (defaults applied). Objects being deleted are left out by the caller. */
  virtualIPs: VirtualIP[];
  nodes: V1Node[];
  services: V1Service[];
  endpointSlices: V1EndpointSlice[];
  /** Secrets referenced by vrrp.authSecretRef (other Secrets are ignored). */
  secrets: V1Secret[];
  /** Node name -> interface that carries its InternalIP, as published by its agent. */
  nodeInterfaces: Record<string, string>;
  /** Parsed VirtualIPPools: without a pool that admits it, no VirtualIP is rendered. */
  pools: VirtualIPPool[];
  /** Namespaces with their labels (pools select namespaces by label); one not listed has only its name label. */
  namespaces?: { name: string; labels?: Record<string, string> }[];
  /** The cluster's Service ranges (networking.k8s.io/v1 ServiceCIDR): never a virtual IP. */
  serviceCIDRs?: { name: string; cidrs: string[] }[];
  /** Node name -> host addresses its agent published (never a virtual IP, like every Node address). */
  agentAddresses?: Record<string, string[]>;
  /** Node name -> what its agent reports about the node (interface names, IPVS); a node not listed reports nothing. */
  agentCapabilities?: Record<string, AgentCapabilities>;
  /** Addresses of VirtualIPs being deleted: not handed out again until they are gone. */
  releasing?: string[];
  /** Router ids ("4:51", "6:7") of VirtualIPs being deleted: not handed out or joined until they are gone. */
  releasingRouterIds?: string[];
  /** The time of the view (epoch ms), for claims of unusable VirtualIPs to expire; unset: they never do. */
  now?: number;
}

export interface RenderOptions {
  /** Runtime directory of the agent on the node (notify FIFO). Default DEFAULT_RUNTIME_DIR. */
  runtimeDir?: string;
  /** Interface used when a VirtualIP names none and the node has published none. Default "eth0". */
  defaultInterface?: string;
  /** How long an unusable VirtualIP keeps its claim on its address (ms). Default 5 minutes. */
  claimGraceMs?: number;
  /** The smallest spec.vrrp.advertisementInterval accepted, in ms; below it a VirtualIP is refused (AdvertIntervalTooShort). Default DEFAULT_MIN_ADVERT_INTERVAL_MS. */
  minAdvertIntervalMs?: number;
}

/** A problem found in the cluster, reported on a VirtualIP as a condition and an Event. */
export interface Problem {
  /** "namespace/name" of the VirtualIP the problem is reported on. */
  virtualIP: string;
  /** Which condition carries it. */
  condition: "Ready" | "Conflict";
  reason: ReadyReason | ConflictReason;
  /** A sentence naming the object and field (never a secret value). */
  message: string;
  /** "namespace/name" of the other VirtualIP in a conflict. */
  other?: string;
  /** true when the VirtualIP is left out of every config because of this problem. */
  excluded: boolean;
}

/** One cluster-wide VRRP instance: VirtualIPs sharing router id, interface, family and VRRP settings. */
export interface VrrpInstance {
  /** keepalived vrrp_instance name (same on every node). */
  name: string;
  virtualRouterId: number;
  /** Interface name per taking-part node (a VirtualIP without interface resolves per node). */
  interfaces: Record<string, string>;
  family: Family;
  version: 2 | 3;
  advertIntervalMs: number;
  preempt: boolean;
  /** keepalived preempt_delay in ms (with preemption only); unset: none. */
  preemptDelayMs?: number;
  unicast: boolean;
  /** Taking-part node names, sorted. */
  nodes: string[];
  /** Node name -> priority: distinct, ranked (priorities.ts), or as spec.vrrp.priorities lists them. */
  priorities: Record<string, number>;
  /** Canonical addresses, sorted. */
  addresses: string[];
  /** "namespace/name" of the member VirtualIPs, sorted. */
  virtualIPs: string[];
  /**
   * The one address carried in adverts (`virtual_ipaddress`): that of the
   * oldest member. The others are in `virtual_ipaddress_excluded`.
   */
  primaryAddress?: string;
}

/** What is one node's own in its keepalived.conf (the node Secret's node.json). */
export interface NodePlan {
  node: string;
  published: PublishedNode;
  /** JSON text of `published`. */
  json: string;
  /** sha256 hex of `json`. */
  hash: string;
}

/** What the plan publishes for one VRRP instance: its shared part (the instance Secret's instance.json); NodePlan is the node side. */
export interface InstancePlan {
  /**
   * Key of the instance in the published plan, the name node entries refer
   * to it by: `published.name`, unless instances on disjoint node sets share
   * that name; then `<name>#<hash of its node list>`.
   */
  name: string;
  published: PublishedInstance;
  /** JSON text of `published`. */
  json: string;
  /** sha256 hex of `json`. */
  hash: string;
}

/** Per-VirtualIP outcome of planning. */
export interface VirtualIPPlan {
  key: string;
  /** The address, router id and pool in effect (status.address, status.virtualRouterId, status.pool); unset when none is allowed. */
  address?: string;
  virtualRouterId?: number;
  pool?: string;
  /** It is rendered: the operator records (or keeps) its claim on address and router id. */
  claimed: boolean;
  /** It holds no claim any more (unusable past the grace period): the operator removes status.claim. */
  claimVoid: boolean;
  /** Instance name carrying it; undefined when it was excluded. */
  instance?: string;
  /** Taking-part node names, sorted. */
  nodes: string[];
  /** Advert interval of its instance in ms (for split-brain timing). */
  advertIntervalMs: number;
}

/** Everything the renderer decides for a cluster view. */
export interface ClusterPlan {
  instances: VrrpInstance[];
  problems: Problem[];
  /** The shared part of every instance, sorted by key (`name`). */
  published: InstancePlan[];
  /** One entry per Node in the view, sorted by node name. */
  nodes: NodePlan[];
  /** Keyed by "namespace/name", for every VirtualIP in the view. */
  virtualIPs: Record<string, VirtualIPPlan>;
  /** Every VirtualIPPool of the view by name: its counts and Ready condition. */
  pools: PoolPlan[];
}
