// The VirtualIP's status (keepalived-vip.io/v1alpha1): what the operator
// (summary, allocation, claim, conditions) and each node's agent (its
// status.nodes entry) write. Zod schemas, the source of the types and of the
// CRD's status. Pure.
import { z } from "zod";

export const nodeStateSchema = z.enum(["MASTER", "BACKUP", "FAULT", "STOPPED", "UNKNOWN"]).meta({
  description: "VRRP state of the node for this address: MASTER (holds it), BACKUP, FAULT, STOPPED (agent shut down), UNKNOWN (agent heartbeat expired).",
});

const timeString = z.string().meta({ format: "date-time" });

/** One entry of `status.nodes`, written by the node's own agent. */
export const nodeStatusSchema = z
  .object({
    name: z.string().max(253).meta({ description: "Node name." }),
    state: nodeStateSchema,
    priority: z.number().int().min(0).max(255).optional().meta({
      description:
        "The node's effective VRRP priority for this address, the one keepalived runs with: the planned one (ranked, or from spec.vrrp.priorities), or 1 while the node hands over (cordoned, excluded from load balancers, or its agent stopping). A FAULT entry keeps the one it returns with.",
    }),
    since: timeString.optional().meta({ description: "When the node entered this state.", format: "date-time" }),
    lastReportTime: timeString.optional().meta({ description: "When the agent last reported this entry.", format: "date-time" }),
    configRejected: z.string().max(1024).optional().meta({
      description:
        "Set when this node's keepalived refused the VirtualIP's VRRP instance: the field and keepalived's words. The node keeps the last good version running (state is then that version's), or runs none (state FAULT).",
    }),
  })
  .meta({ description: "VRRP state of one taking-part node." });

/** A standard metav1.Condition. */
export const conditionSchema = z
  .object({
    type: z.string().max(316).meta({ description: "Type of condition: Ready, Conflict or SplitBrain." }),
    status: z.enum(["True", "False", "Unknown"]).meta({ description: "Status of the condition: True, False or Unknown." }),
    observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation the condition was set from." }),
    lastTransitionTime: timeString.meta({ description: "When the condition last changed status.", format: "date-time" }),
    reason: z.string().max(1024).meta({ description: "CamelCase reason for the condition's last transition." }),
    message: z.string().max(32768).meta({ description: "Human-readable details." }),
  })
  .meta({ description: "A standard Kubernetes condition." });

/** A list of conditions keyed by type (a map list, as metav1.Condition lists are). */
export function conditionListSchema(max: number, description: string): z.ZodOptional<z.ZodArray<typeof conditionSchema>> {
  return z
    .array(conditionSchema)
    .max(max)
    .optional()
    .meta({ description, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] });
}

/** When this VirtualIP first held its address: the first claim wins a conflict (see docs/pools.md). */
export const claimSchema = z
  .object({
    address: z.string().max(45).meta({ description: "The claimed address." }),
    virtualRouterId: z.number().int().min(1).max(255).meta({ description: "The claimed router id." }),
    generation: z.number().int().min(0).meta({ description: "The .metadata.generation the claim was last confirmed at." }),
    time: timeString.meta({ description: "When the VirtualIP first became usable with this address and router id.", format: "date-time" }),
    unusableSince: timeString.optional().meta({
      description: "Since when the VirtualIP has not been usable (not rendered); the claim lapses after the operator's grace period.",
      format: "date-time",
    }),
  })
  .meta({ description: "The operator's record that this VirtualIP holds its address and router id; an older claim wins a conflict." });

/** The `status` of a VirtualIP. */
export const virtualIPStatusSchema = z
  .object({
    observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation the operator last acted on." }),
    master: z.string().max(253).optional().meta({ description: "The node that holds the address now; empty when none does." }),
    backups: z
      .string()
      .max(4096)
      .optional()
      .meta({ description: "Comma-separated names of the live nodes in BACKUP state, sorted (for kubectl get -o wide)." }),
    nodes: z
      .array(nodeStatusSchema)
      .max(5000)
      .optional()
      .meta({
        description: "One entry per taking-part node, keyed by name; each node's agent writes its own entry.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
      }),
    address: z
      .string()
      .max(45)
      .optional()
      .meta({ description: "The address in effect: spec.address, or the one allocated from status.pool. Unset while none is allowed or free." }),
    virtualRouterId: z
      .number()
      .int()
      .min(1)
      .max(255)
      .optional()
      .meta({ description: "The VRRP router id in effect: spec.virtualRouterId, or the one allocated from status.pool." }),
    pool: z.string().max(253).optional().meta({ description: "The VirtualIPPool the address belongs to." }),
    claim: claimSchema.optional(),
    failovers: z.number().int().min(0).optional().meta({ description: "How many times the address moved from one node to another." }),
    lastFailoverTime: timeString.optional().meta({ description: "When the address last moved.", format: "date-time" }),
    conditions: conditionListSchema(16, "Ready (Reason says why or why not), Conflict (names the other object), SplitBrain (two nodes hold the address)."),
  })
  .meta({ description: "Observed state, written by the operator (summary) and the node agents (nodes)." });

export type NodeState = z.output<typeof nodeStateSchema>;
export type NodeStatus = z.output<typeof nodeStatusSchema>;
export type Condition = z.output<typeof conditionSchema>;
export type VirtualIPStatus = z.output<typeof virtualIPStatusSchema>;
export type Claim = z.output<typeof claimSchema>;
