// A validation rule written once and enforced twice: as a zod refinement (the
// offline renderer, the operator) and as a CEL x-kubernetes-validations rule
// in the generated CRD (the API server). Pure.
import { z } from "zod";

/** One cross-field rule of a schema node. */
export interface Rule<T> {
  /** CEL expression over `self`, as the API server evaluates it. */
  cel: string;
  /** Message shown by both the API server and the zod check. */
  message: string;
  /** Field path (relative to `self`) the API server reports, e.g. ".authSecretRef". */
  fieldPath?: string;
  /** The same rule in TypeScript; true when the value is valid. */
  check: (value: T) => boolean;
}

/** CEL validation entry as it appears in a CRD schema. */
export interface CelValidation {
  rule: string;
  message: string;
  fieldPath?: string;
}

/**
 * Attaches `rules` to `schema`: a superRefine for zod, and the CEL form as
 * `x-kubernetes-validations` metadata that the CRD generator copies.
 */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  const validations: CelValidation[] = rules.map((r) =>
    r.fieldPath ? { rule: r.cel, message: r.message, fieldPath: r.fieldPath } : { rule: r.cel, message: r.message },
  );
  const refined = schema.superRefine((value, ctx) => {
    for (const r of rules) {
      if (!r.check(value)) {
        const path = r.fieldPath ? r.fieldPath.replace(/^\./, "").split(".") : [];
        ctx.addIssue({ code: "custom", message: r.message, path });
      }
    }
  });
  const prev = (schema.meta() ?? {}) as Record<string, unknown>;
  return refined.meta({ ...prev, "x-kubernetes-validations": validations });
}
