// The value schemas of the operator's settings (durations, booleans, label
// maps, tolerations, resources, ...), each turning a flag, env var or config
// file value into what OperatorConfig holds, with a message that says why not. Pure.
import { z } from "zod";
import { DNS_SUBDOMAIN_PATTERN } from "../api/index.js";
import { parseBindAddress } from "../shared/health-server.js";
import { parseFlagDuration } from "../shared/duration.js";
import { LOG_LEVELS } from "../shared/logger.js";

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[kKMGTPEmun])?$/;
const RESOURCE_NAME = /^([a-z0-9.-]+\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** A value from a flag or env var (a string) or from the config file (any YAML value). */
type Source = unknown;

export function fromJSON(v: Source, ctx: z.RefinementCtx): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` });
    return z.NEVER;
  }
}

export const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseFlagDuration(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is not a positive duration like 15s, 500ms or 1m` });
    return z.NEVER;
  }
  return ms;
});

/** The advert floor: from 10ms (VRRPv3's shortest interval, so no floor) to 255s (VRRPv2's longest). */
export const advertFloor = duration.pipe(z.number().min(10, "must be at least 10ms").max(255_000, "must be at most 255s"));

export const bool = z.union([z.boolean(), z.string()]).transform((v, ctx) => {
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is not true or false` });
  return z.NEVER;
});

export const intIn = (min: number, max: number): z.ZodType<number, number | string> =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(v)} is not a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

const labelMap = z.record(z.string().regex(LABEL_KEY, "not a valid label key"), z.string().regex(LABEL_VALUE, "not a valid label value"));

export const nodeSelector = z
  .union([z.string(), z.record(z.string(), z.string())])
  .transform((v, ctx) => {
    if (typeof v !== "string") return v;
    const out: Record<string, string> = {};
    for (const part of v
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== "")) {
      const eq = part.indexOf("=");
      if (eq <= 0) {
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(part)} is not key=value` });
        return z.NEVER;
      }
      out[part.slice(0, eq)] = part.slice(eq + 1);
    }
    return out;
  })
  .pipe(labelMap);

/** Labels the operator sets on the agent pods; the DaemonSet's selector depends on the first two. */
const OPERATOR_POD_LABELS = ["app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/managed-by"];

export const podLabels = nodeSelector.superRefine((labels, ctx) => {
  for (const key of Object.keys(labels).filter((k) => OPERATOR_POD_LABELS.includes(k))) {
    ctx.addIssue({ code: "custom", message: `${key} is set by the operator` });
  }
});

/** Annotations: valid keys, string values, at most 256 KiB in all (the API server's limit). */
export const podAnnotations = z
  .unknown()
  .transform(fromJSON)
  .pipe(z.record(z.string(), z.string()))
  .superRefine((a, ctx) => {
    for (const key of Object.keys(a).filter((k) => !LABEL_KEY.test(k))) ctx.addIssue({ code: "custom", path: [key], message: "not a valid annotation key" });
  })
  .refine((a) => Object.entries(a).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0) <= 256 * 1024, "more than 256 KiB of annotations");

/** Affinity: only its three known parts, each an object; the API server checks the rest on apply. */
export const affinity = z
  .unknown()
  .transform(fromJSON)
  .pipe(
    z
      .object({
        nodeAffinity: z.record(z.string(), z.unknown()).optional(),
        podAffinity: z.record(z.string(), z.unknown()).optional(),
        podAntiAffinity: z.record(z.string(), z.unknown()).optional(),
      })
      .strict(),
  );

export const toleration = z
  .object({
    key: z.string().optional(),
    operator: z.enum(["Exists", "Equal"]).optional(),
    value: z.string().optional(),
    effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .strict();

const quantities = z.record(
  z.string().regex(RESOURCE_NAME, "not a resource name"),
  z
    .union([z.string(), z.number()])
    .transform((v) => String(v))
    .pipe(z.string().regex(QUANTITY, "not a quantity like 100m or 64Mi")),
);

export const resources = z.object({ limits: quantities.optional(), requests: quantities.optional() }).strict();

export const dnsSubdomain = z.string().max(253).regex(new RegExp(DNS_SUBDOMAIN_PATTERN), "not a DNS subdomain name");

export const extraArgs = z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === "string" ? v.split(/\s+/).filter((a) => a !== "") : v));

export const bindAddress = z.string().refine(
  (v) => {
    try {
      parseBindAddress(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: "want host:port, :port or [ipv6]:port" },
);

export const logLevel = z.enum(LOG_LEVELS);
