// The VirtualIP API (keepalived-vip.io/v1alpha1): zod schemas that are the
// single source of truth for the TypeScript types and the generated CRD. Pure.
import { z } from "zod";
import { API_VERSION, KIND } from "./constants.js";
import { canonicalIP } from "./ip.js";
import { withRules } from "./rules.js";
import { virtualIPStatusSchema } from "./virtualip-status.js";

/** Linux interface name: 1..15 characters, no '/', ':', whitespace, not starting with '.' or '-'. */
export const INTERFACE_NAME_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$";
/** DNS-1123 subdomain (Node names, Secret names). */
export const DNS_SUBDOMAIN_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** DNS-1035 label (Service names). */
export const DNS_LABEL_PATTERN = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
/** Secret data key. */
export const SECRET_KEY_PATTERN = "^[-._a-zA-Z0-9]+$";
/** Duration: an integer of milliseconds, or seconds with up to 3 decimals, e.g. "100ms", "1s", "1.5s". */
export const DURATION_PATTERN = "^([0-9]{1,6}ms|[0-9]{1,3}(\\.[0-9]{1,3})?s)$";

/** Parses a duration string of {@link DURATION_PATTERN} into milliseconds. */
export function parseDurationMs(s: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN).test(s)) return undefined;
  if (s.endsWith("ms")) return Number(s.slice(0, -2));
  return Math.round(Number(s.slice(0, -1)) * 1000);
}

const serviceRef = z
  .object({
    name: z.string().min(1).max(63).regex(new RegExp(DNS_LABEL_PATTERN)).meta({ description: "Name of the Service, in the VirtualIP's namespace." }),
  })
  .strict()
  .meta({ description: "The Service this virtual IP fronts. It must be in the same namespace as the VirtualIP." });

const labelSelectorRequirement = z
  .object({
    key: z.string().min(1).max(317).meta({ description: "The label key the selector applies to." }),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).meta({ description: "How the key relates to the values: In, NotIn, Exists or DoesNotExist." }),
    values: z
      .array(z.string().max(63))
      .max(64)
      .optional()
      .meta({ description: "Values for In and NotIn (non-empty); must be empty for Exists and DoesNotExist." }),
  })
  .strict()
  .meta({ description: "A label selector requirement: a key, an operator and values." });

/** A standard label selector (matchLabels and matchExpressions); give it a description with `.meta()`. */
export const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string().max(317), z.string().max(63)).optional().meta({ description: "Labels that must all match (key = value)." }),
    matchExpressions: z
      .array(
        withRules(labelSelectorRequirement, [
          {
            cel: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
            message: "values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist",
            check: (r) => (r.operator === "In" || r.operator === "NotIn") === (r.values !== undefined && r.values.length > 0),
          },
        ]),
      )
      .max(32)
      .optional()
      .meta({ description: "Label selector requirements that must all match." }),
  })
  .strict();

const nodeSelector = labelSelectorSchema.meta({
  description: "Which nodes take part (a standard label selector over Node labels). Empty or unset: every node that runs the agent.",
});

const ipvs = z
  .object({
    scheduler: z
      .enum(["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq"])
      .default("rr")
      .meta({ description: "IPVS scheduler (keepalived lb_algo). Default rr." }),
    method: z.enum(["NAT", "DR", "TUN"]).default("NAT").meta({ description: "IPVS forwarding method (keepalived lb_kind). Default NAT." }),
  })
  .strict()
  .meta({ description: "IPVS settings, used when forwarding is ipvs." });

const secretKeyRef = z
  .object({
    name: z.string().min(1).max(253).regex(new RegExp(DNS_SUBDOMAIN_PATTERN)).meta({ description: "Name of the Secret, in the VirtualIP's namespace." }),
    key: z.string().min(1).max(253).regex(new RegExp(SECRET_KEY_PATTERN)).meta({ description: "Key in the Secret's data." }),
  })
  .strict()
  .meta({ description: "A key of a Secret in the VirtualIP's namespace." });

/** The `spec.vrrp` block. */
export const vrrpSpecSchema = withRules(
  z
    .object({
      version: z
        .union([z.literal(2), z.literal(3)])
        .default(3)
        .meta({ description: "VRRP protocol version: 2 or 3. Default 3 (sub-second advertisements, IPv6)." }),
      advertisementInterval: z.string().max(10).regex(new RegExp(DURATION_PATTERN)).default("1s").meta({
        description:
          "Interval between VRRP advertisements, e.g. 1s or 100ms. VRRPv2: whole seconds from 1s to 255s. VRRPv3: 10ms to 40.95s in steps of 10ms. A BACKUP takes over after about 3 intervals without adverts. Default 1s.",
      }),
      preempt: z.boolean().default(false).meta({
        description:
          "Whether a node with a higher priority takes the address back when it returns. Default false: no second failover; a MASTER stays where it is after a failover until it fails itself.",
      }),
      preemptDelay: z.string().max(10).regex(new RegExp(DURATION_PATTERN)).optional().meta({
        description:
          "With preempt: true, how long a returning node with a higher priority waits before it takes the address back (keepalived preempt_delay), e.g. 30s; at most 1000s. Unset: at once.",
      }),
      priorities: z.record(z.string().max(253), z.number().int().min(1).max(254)).optional().meta({
        description:
          "VRRP priority per node name, 1..254; higher wins the election. Unset: every node gets a distinct priority from 100 to 250, ranked so that MASTERs spread evenly over the nodes (docs/configuration.md). Set: listed nodes get their value, the others 100, 99, ... (skipping listed values).",
      }),
      unicast: z.boolean().default(true).meta({
        description:
          "Send adverts by unicast to the other taking-part nodes' InternalIPs (works where multicast is blocked). Default true; false uses VRRP multicast.",
      }),
      authSecretRef: secretKeyRef.optional().meta({ description: "VRRPv2 only: a Secret key holding a PASS authentication password of at most 8 characters." }),
    })
    .strict()
    .meta({ description: "VRRP settings. VirtualIPs that share a router id, interface and these settings form one VRRP instance and fail over together." }),
  [
    {
      cel: "!has(self.preemptDelay) || self.preempt",
      message: "preemptDelay needs preempt: true (without preemption no node takes the address back)",
      fieldPath: ".preemptDelay",
      check: (v) => v.preemptDelay === undefined || v.preempt,
    },
    {
      cel: "!has(self.preemptDelay) || duration(self.preemptDelay) <= duration('1000s')",
      message: "preemptDelay must be at most 1000s",
      fieldPath: ".preemptDelay",
      check: (v) => v.preemptDelay === undefined || (parseDurationMs(v.preemptDelay) ?? Infinity) <= 1_000_000,
    },
    {
      cel: "!has(self.authSecretRef) || self.version == 2",
      message: "authSecretRef is only supported with VRRP version 2",
      fieldPath: ".authSecretRef",
      check: (v) => v.authSecretRef === undefined || v.version === 2,
    },
    {
      cel: "self.version != 2 || (self.advertisementInterval.matches('^[0-9]+s$') && duration(self.advertisementInterval) >= duration('1s') && duration(self.advertisementInterval) <= duration('255s'))",
      message: "advertisementInterval must be whole seconds from 1s to 255s with VRRP version 2",
      fieldPath: ".advertisementInterval",
      check: (v) => {
        if (v.version !== 2) return true;
        const ms = parseDurationMs(v.advertisementInterval);
        return /^[0-9]+s$/.test(v.advertisementInterval) && ms !== undefined && ms >= 1000 && ms <= 255000;
      },
    },
    {
      cel: "self.version != 3 || (duration(self.advertisementInterval) >= duration('10ms') && duration(self.advertisementInterval) <= duration('40950ms') && duration(self.advertisementInterval).getMilliseconds() % 10 == 0)",
      message: "advertisementInterval must be from 10ms to 40.95s in steps of 10ms with VRRP version 3",
      fieldPath: ".advertisementInterval",
      check: (v) => {
        if (v.version !== 3) return true;
        const ms = parseDurationMs(v.advertisementInterval);
        return ms !== undefined && ms >= 10 && ms <= 40950 && ms % 10 === 0;
      },
    },
  ],
);

/** The `spec` of a VirtualIP. */
export const virtualIPSpecSchema = withRules(
  z
    .object({
      serviceRef,
      address: z.string().min(2).max(45).optional().meta({
        description:
          "The virtual IP: an IPv4 or IPv6 literal in canonical form, without prefix length (e.g. 192.0.2.50 or 2001:db8::50). It must lie in a VirtualIPPool that admits this namespace. Unset: allocated from a pool (status.address).",
      }),
      virtualRouterId: z.number().int().min(1).max(255).optional().meta({
        description:
          "VRRP virtual router id, 1..255, within the router ids of the address's pool. VirtualIPs of one namespace with the same id, interface and VRRP settings share one VRRP instance. Unset: allocated from the pool (status.virtualRouterId).",
      }),
      pool: z.string().min(1).max(253).regex(new RegExp(DNS_SUBDOMAIN_PATTERN)).optional().meta({
        description:
          "Name of the VirtualIPPool to take the address from (or that must hold spec.address). Unset: any pool that admits this namespace; allocation uses the autoAssign pools in name order.",
      }),
      ipFamily: z.enum(["IPv4", "IPv6"]).optional().meta({
        description:
          "Address family to allocate when spec.address is unset: IPv4 or IPv6. Unset: IPv4 if the pool has a free IPv4 address, else IPv6 (IPv4 only with VRRP version 2).",
      }),
      interface: z
        .string()
        .min(1)
        .max(15)
        .regex(new RegExp(INTERFACE_NAME_PATTERN))
        .optional()
        .meta({ description: "Network interface that carries the address. Default: the node interface that carries the node's InternalIP." }),
      nodeSelector: nodeSelector.optional(),
      forwarding: z.enum(["ipvs", "kube-proxy"]).default("ipvs").meta({
        description:
          "How traffic to the address reaches the Service: ipvs (keepalived virtual_server per Service port to the ready endpoints) or kube-proxy (the address is published in the Service's status.loadBalancer.ingress; the Service must be type LoadBalancer). Default ipvs.",
      }),
      ipvs: ipvs.default({ scheduler: "rr", method: "NAT" }),
      vrrp: vrrpSpecSchema.default({ version: 3, advertisementInterval: "1s", preempt: false, unicast: true }),
    })
    .strict()
    .meta({ description: "The desired virtual IP." }),
  [
    {
      cel: "!has(self.address) || (isIP(self.address) && ip.isCanonical(self.address))",
      message: "address must be an IPv4 or IPv6 address in canonical form, without prefix length",
      fieldPath: ".address",
      check: (s) => s.address === undefined || canonicalIP(s.address) === s.address,
    },
    {
      cel: "!has(self.address) || self.vrrp.version == 3 || !self.address.contains(':')",
      message: "an IPv6 address needs VRRP version 3",
      fieldPath: ".vrrp.version",
      check: (s) => s.address === undefined || s.vrrp.version === 3 || !s.address.includes(":"),
    },
    {
      cel: "!has(self.ipFamily) || self.ipFamily == 'IPv4' || self.vrrp.version == 3",
      message: "ipFamily IPv6 needs VRRP version 3",
      fieldPath: ".ipFamily",
      check: (s) => s.ipFamily !== "IPv6" || s.vrrp.version === 3,
    },
    {
      cel: "!has(self.ipFamily) || !has(self.address) || ((self.ipFamily == 'IPv6') == self.address.contains(':'))",
      message: "ipFamily must be the family of address",
      fieldPath: ".ipFamily",
      check: (s) => s.ipFamily === undefined || s.address === undefined || (s.ipFamily === "IPv6") === s.address.includes(":"),
    },
  ],
);

/** Object metadata as far as this project reads it. */
export const objectMetaSchema = z
  .object({
    name: z.string().min(1).max(253),
    namespace: z.string().max(63).optional(),
    uid: z.string().optional(),
    generation: z.number().int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.union([z.string(), z.date()]).optional(),
    deletionTimestamp: z.union([z.string(), z.date()]).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
  })
  .loose();

/** A whole VirtualIP object. */
export const virtualIPSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(KIND),
    metadata: objectMetaSchema,
    spec: virtualIPSpecSchema,
    status: virtualIPStatusSchema.optional(),
  })
  .meta({ description: "A highly available virtual IP for a Service, held by one node at a time through keepalived (VRRP)." });

export type VirtualIPSpecInput = z.input<typeof virtualIPSpecSchema>;
export type VirtualIPSpec = z.output<typeof virtualIPSpecSchema>;
export type VrrpSpec = z.output<typeof vrrpSpecSchema>;
export type VirtualIP = z.output<typeof virtualIPSchema>;
export type LabelSelector = NonNullable<VirtualIPSpec["nodeSelector"]>;
export type Forwarding = VirtualIPSpec["forwarding"];

/** Result of {@link parseVirtualIP}: the typed object, or a message naming the object and field. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Formats zod issues as "field: message" lines. */
export function formatIssues(error: z.ZodError, prefix = ""): string {
  return error.issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter((p) => p !== "").join(".");
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join("; ");
}

/**
 * Parses an untrusted object as a VirtualIP (defaults applied). Errors name
 * the object (namespace/name) and the field, e.g.
 * `VirtualIP default/web: spec.virtualRouterId: Too big: expected number to be <=255`.
 */
export function parseVirtualIP(obj: unknown): ParseResult<VirtualIP> {
  const res = virtualIPSchema.safeParse(obj);
  if (res.success) return { ok: true, value: res.data };
  const meta = (obj as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  const ns = typeof meta?.namespace === "string" ? meta.namespace : "default";
  const name = typeof meta?.name === "string" ? meta.name : "<unnamed>";
  return { ok: false, error: `VirtualIP ${ns}/${name}: ${formatIssues(res.error)}` };
}
