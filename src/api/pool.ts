// The VirtualIPPool API (keepalived-vip.io/v1alpha1, cluster-scoped): which
// addresses and router ids the VirtualIPs of which namespaces may use. The zod
// schema is the source of truth for the type and the generated CRD. Pure.
import { z } from "zod";
import { API_VERSION, POOL_KIND } from "./constants.js";
import { parseAddressRange, parseRouterIdRange } from "./iprange.js";
import { withRules } from "./rules.js";
import { formatIssues, labelSelectorSchema, objectMetaSchema, type ParseResult } from "./virtualip.js";
import { conditionListSchema } from "./virtualip-status.js";

const addressEntry = withRules(
  z
    .string()
    .min(2)
    .max(100)
    .meta({ description: "A CIDR (192.0.2.64/27, 2001:db8::100/120), a range of one family (192.0.2.100-192.0.2.110) or one address." }),
  [
    {
      cel: "isCIDR(self) || isIP(self) || (self.split('-').size() == 2 && isIP(self.split('-')[0]) && isIP(self.split('-')[1]))",
      message: "must be a CIDR, a range first-last of two addresses, or one address",
      check: (s) => parseAddressRange(s).ok,
    },
  ],
);

const routerIdEntry = withRules(
  z
    .string()
    .min(1)
    .max(7)
    .regex(/^[0-9]{1,3}(-[0-9]{1,3})?$/)
    .meta({ description: "A router id (7) or an inclusive range (50-99), within 1..255." }),
  [
    {
      cel: "self.split('-').all(n, int(n) >= 1 && int(n) <= 255) && int(self.split('-')[0]) <= int(self.split('-')[self.split('-').size() - 1])",
      message: "router ids are 1..255 and a range must not end before it starts",
      check: (s) => parseRouterIdRange(s).ok,
    },
  ],
);

/** The `spec` of a VirtualIPPool. */
export const poolSpecSchema = z
  .object({
    addresses: z.array(addressEntry).min(1).max(64).meta({
      description:
        "The addresses of the pool. Pools must not overlap. The network and broadcast addresses of an IPv4 CIDR shorter than /31 are never handed out.",
    }),
    virtualRouterIds: z
      .array(routerIdEntry)
      .min(1)
      .max(64)
      .meta({ description: "The VRRP router ids the VirtualIPs of this pool may use (and that allocation hands out)." }),
    namespaceSelector: labelSelectorSchema
      .optional()
      .meta({ description: "The namespaces whose VirtualIPs may use the pool (a label selector over Namespace labels). Unset: every namespace." }),
    autoAssign: z
      .boolean()
      .default(true)
      .meta({ description: "Whether allocation may take addresses from this pool for VirtualIPs that name no pool. Default true." }),
  })
  .strict()
  .meta({ description: "The addresses and router ids the pool hands out, and to whom." });

/** The `status` of a VirtualIPPool, written by the operator. */
export const poolStatusSchema = z
  .object({
    observedGeneration: z.number().int().min(0).optional().meta({ description: "The .metadata.generation the operator last acted on." }),
    allocated: z.number().int().min(0).optional().meta({ description: "Addresses of the pool in use by VirtualIPs." }),
    available: z.number().int().min(0).optional().meta({ description: "Addresses of the pool still free (counted up to 2^53-1)." }),
    conditions: conditionListSchema(8, "Ready: whether the pool is in use (False with the reason when it is invalid or overlaps an older pool)."),
  })
  .meta({ description: "What the pool hands out now." });

/** A whole VirtualIPPool object. */
export const poolSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(POOL_KIND),
    metadata: objectMetaSchema,
    spec: poolSpecSchema,
    status: poolStatusSchema.optional(),
  })
  .meta({ description: "A pool of virtual IPs and VRRP router ids that the cluster admin hands to the VirtualIPs of some namespaces." });

export type PoolSpec = z.output<typeof poolSpecSchema>;
export type PoolStatus = z.output<typeof poolStatusSchema>;
export type VirtualIPPool = z.output<typeof poolSchema>;

/** Parses an untrusted object as a VirtualIPPool; errors name the pool and the field. */
export function parsePool(obj: unknown): ParseResult<VirtualIPPool> {
  const res = poolSchema.safeParse(obj);
  if (res.success) return { ok: true, value: res.data };
  const meta = (obj as { metadata?: { name?: unknown } } | null)?.metadata;
  const name = typeof meta?.name === "string" ? meta.name : "<unnamed>";
  return { ok: false, error: `VirtualIPPool ${name}: ${formatIssues(res.error)}` };
}
