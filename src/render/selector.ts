// Kubernetes LabelSelector semantics over Node labels. Pure.
import type { LabelSelector } from "../api/index.js";

type Requirement = NonNullable<LabelSelector["matchExpressions"]>[number];

function matchesRequirement(req: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case "In":
      return has && values.includes(labels[req.key] ?? "");
    case "NotIn":
      return !has || !values.includes(labels[req.key] ?? "");
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    default:
      return false;
  }
}

/**
 * Whether `labels` satisfy `selector`: every matchLabels pair AND every
 * matchExpressions requirement (In, NotIn, Exists, DoesNotExist). An unset or
 * empty selector matches everything.
 */
export function matchesLabelSelector(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (!Object.prototype.hasOwnProperty.call(have, key) || have[key] !== value) return false;
  }
  return (selector?.matchExpressions ?? []).every((req) => matchesRequirement(req, have));
}
