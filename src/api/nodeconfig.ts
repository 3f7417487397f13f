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
