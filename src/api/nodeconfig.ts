// The contract between the operator and an agent: what a node-config Secret
// carries besides keepalived.conf. Pure.
import { z } from "zod";

/** One VRRP instance in a node's keepalived.conf, as the agent needs to know it. */
export const nodeInstanceSchema = z
  .object({
    /** keepalived vrrp_instance name, as it appears in notify FIFO lines. */
    instance: z.string().min(1),
    virtualRouterId: z.number().int().min(1).max(255),
    interface: z.string().min(1),
    family: z.union([z.literal(4), z.literal(6)]),
    /** This node's priority in the instance. */
    priority: z.number().int().min(1).max(254),
    /** Addresses this instance carries (canonical). */
    addresses: z.array(z.string()),
    /** VirtualIPs ("namespace/name") whose addresses the instance carries, sorted. */
    virtualIPs: z.array(z.string()),
  })
  .strict();

/** Content of the `instances.json` key of a node-config Secret. */
export const nodeInstanceMapSchema = z
  .object({
    node: z.string(),
    instances: z.array(nodeInstanceSchema),
  })
  .strict();

export type NodeInstance = z.output<typeof nodeInstanceSchema>;
export type NodeInstanceMap = z.output<typeof nodeInstanceMapSchema>;

// ---- The published plan: what the operator writes and each agent assembles ----
//
// The operator does not write each node's keepalived.conf. It writes what
// the nodes share once, one Secret per VRRP instance (`instance.json`), and
// what is each node's own, one small Secret per node (`node.json`): the
// instances it takes part in, with its interface, priority and unicast
// source. The agent assembles its keepalived.conf from the two with the
// renderer's own functions (src/render/assemble.ts), so one VirtualIP change
// is one small write, however many nodes take part. See docs/adr/0007.

/** One ipvs real server of a published virtual server. */
export const publishedRealServerSchema = z.object({ address: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict();

/** One keepalived virtual_server (forwarding: ipvs) of a published instance. */
export const publishedVirtualServerSchema = z
  .object({
    virtualIP: z.string(),
    service: z.string(),
    portName: z.string(),
    address: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    protocol: z.enum(["TCP", "UDP"]),
    scheduler: z.enum(["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq"]),
    method: z.enum(["NAT", "DR", "TUN"]),
    realServers: z.array(publishedRealServerSchema),
  })
  .strict();

/** Content of the `instance.json` key of an instance Secret: the parts of one vrrp_instance every node shares. */
export const publishedInstanceSchema = z
  .object({
    /** keepalived vrrp_instance name. */
    name: z.string().min(1),
    virtualRouterId: z.number().int().min(1).max(255),
    family: z.union([z.literal(4), z.literal(6)]),
    version: z.union([z.literal(2), z.literal(3)]),
    advertIntervalMs: z.number().int().positive(),
    preempt: z.boolean(),
    /** keepalived preempt_delay in ms (with preempt only); unset: none. */
    preemptDelayMs: z.number().int().positive().max(1_000_000).optional(),
    /** Whether adverts go by unicast. */
    unicast: z.boolean(),
    /** Unicast addresses of every taking-part node, sorted; each node drops its own. */
    peers: z.array(z.string()),
    /** VRRPv2 PASS password (why these are Secrets). */
    authPassword: z.string().optional(),
    /** The one advertised address. */
    primaryAddress: z.string().min(1),
    /** Addresses held but not advertised, sorted. */
    excludedAddresses: z.array(z.string()),
    /** "namespace/name" of the VirtualIPs it carries, sorted. */
    virtualIPs: z.array(z.string()),
    /** virtual_servers of those VirtualIPs (forwarding: ipvs). */
    virtualServers: z.array(publishedVirtualServerSchema),
  })
  .strict();

/** What one node puts into one instance. */
export const nodeInstanceEntrySchema = z
  .object({
    /**
     * The instance's key in the plan: its vrrp_instance name, or that name,
     * "#" and a hash when instances on disjoint node sets share the name. The
     * instance Secret is instanceSecretName(key).
     */
    instance: z.string().min(1),
    interface: z.string().min(1),
    priority: z.number().int().min(1).max(254),
    /** This node's unicast source address (unicast instances only). */
    sourceIP: z.string().optional(),
    /**
     * Set when the node has no ready local endpoint of an
     * `externalTrafficPolicy: Local` Service of the instance while another
     * taking-part node has one: the agent puts the instance in FAULT through
     * its track file, without a reload (docs/adr/0018).
     */
    standby: z.literal(true).optional(),
  })
  .strict();

/** Why a node hands its instances over (cordoned, or excluded from external load balancers). */
export const handoverReasonSchema = z.enum(["Unschedulable", "ExcludedFromLoadBalancers"]);
export type HandoverReason = z.output<typeof handoverReasonSchema>;

/** Content of the `node.json` key of a node Secret. */
export const publishedNodeSchema = z
  .object({
    node: z.string().min(1),
    /** The agent's runtime directory (the notify FIFO path in global_defs). */
    runtimeDir: z.string().min(1),
    /** The instances the node takes part in, sorted by name. */
    instances: z.array(nodeInstanceEntrySchema),
    /** Set while the node should hold no VIP: the agent hands its MASTERs over and stays at the lowest priority (docs/adr/0018). */
    handover: handoverReasonSchema.optional(),
  })
  .strict();

export type PublishedInstance = z.output<typeof publishedInstanceSchema>;
export type PublishedVirtualServer = z.output<typeof publishedVirtualServerSchema>;
export type NodeInstanceEntry = z.output<typeof nodeInstanceEntrySchema>;
export type PublishedNode = z.output<typeof publishedNodeSchema>;

// ---- Track files: placement without a reload ----
//
// keepalived re-reads these files (in the agent's runtime directory) on
// inotify and changes an instance's effective priority or FAULT state without
// a reload. The agent writes 0 or 1; see docs/adr/0018.

/** Folder of the track files in the runtime directory. */
export const TRACK_DIR_NAME = "track";
/** Node-wide file: 1 drops every instance of the node to the lowest priority. */
export const HANDOVER_TRACK_FILE = "handover";
/**
 * keepalived weight of the handover file: any priority (1..254) minus 253 is
 * clamped to 1, the lowest. Not -254: keepalived reads a tracked value times
 * weight of -254 or less as FAULT (keepalived 2.2.7, checked against the real daemon).
 */
export const HANDOVER_TRACK_WEIGHT = -253;

/** Per-instance file: 1 puts the instance in FAULT (weight 0), so its MASTER leaves at once with a priority-0 advert. */
export function standbyTrackFile(instance: string): string {
  return `standby-${instance}`;
}
