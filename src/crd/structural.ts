// Converts a zod-generated OpenAPI 3.0 JSON Schema into a Kubernetes
// structural schema (the subset the API server accepts in a CRD). Pure.

/** A JSON Schema node as zod emits it: an open record. */
export type JsonSchema = Record<string, unknown>;

/** A node of a Kubernetes structural schema (JSONSchemaProps), as far as this project uses it. */
export interface StructuralSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  format?: string;
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  required?: string[];
  properties?: Record<string, StructuralSchema>;
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: string;
  "x-kubernetes-validations"?: { rule: string; message?: string; messageExpression?: string; fieldPath?: string; reason?: string }[];
}

/** Keys copied unchanged from the zod output into the structural schema. */
const COPIED_KEYS = [
  "description",
  "format",
  "enum",
  "default",
  "nullable",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "uniqueItems",
  "minProperties",
  "maxProperties",
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
] as const;

/** Keys that are handled specially or dropped on purpose. */
const HANDLED_KEYS = new Set<string>([
  ...COPIED_KEYS,
  "type",
  "properties",
  "required",
  "items",
  "additionalProperties",
  "anyOf",
  "oneOf",
  "const",
  "minimum",
  "maximum",
  "$ref",
  "$schema",
  "$defs",
  "definitions",
  "id",
  "$id",
  "title",
]);

const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);

/** Failure to express a schema node structurally; names the JSON path of the node. */
export class StructuralSchemaError extends Error {
  constructor(path: string, message: string) {
    super(`${path || "<root>"}: ${message}`);
    this.name = "StructuralSchemaError";
  }
}

interface Context {
  root: JsonSchema;
  /** $refs being inlined, to refuse recursive schemas (not structural). */
  resolving: string[];
}

function isRecord(v: unknown): v is JsonSchema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function resolveRef(ref: string, ctx: Context, path: string): JsonSchema {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  const defs = m ? ctx.root[m[1] ?? ""] : undefined;
  const target = m && isRecord(defs) ? defs[m[2] ?? ""] : undefined;
  if (!isRecord(target)) throw new StructuralSchemaError(path, `unresolvable $ref ${ref}`);
  if (ctx.resolving.includes(ref)) throw new StructuralSchemaError(path, `recursive $ref ${ref} cannot be inlined`);
  return target;
}

/**
 * Folds `anyOf`/`oneOf` branches that are all literals of one type (zod's
 * `z.union([z.literal(2), z.literal(3)])`) into a single `enum` node.
 */
function foldLiteralUnion(node: JsonSchema, path: string): JsonSchema {
  const branches = node.anyOf ?? node.oneOf;
  if (!Array.isArray(branches)) return node;
  const values: unknown[] = [];
  for (const b of branches) {
    if (!isRecord(b)) throw new StructuralSchemaError(path, "anyOf branch is not a schema");
    const literals: unknown = "const" in b ? [b.const] : b.enum;
    if (!Array.isArray(literals)) throw new StructuralSchemaError(path, "anyOf/oneOf other than a union of literals is not structural");
    values.push(...(literals as unknown[]));
  }
  const rest = Object.fromEntries(Object.entries(node).filter(([k]) => k !== "anyOf" && k !== "oneOf"));
  return { ...rest, enum: values };
}

/** The structural `type` of a node: declared, or inferred from its enum values. */
function typeOf(node: JsonSchema, path: string): StructuralSchema["type"] | undefined {
  const values = Array.isArray(node.enum) ? node.enum : undefined;
  const declared = node.type;
  if (declared !== undefined && (typeof declared !== "string" || !TYPES.has(declared))) {
    throw new StructuralSchemaError(path, `type ${JSON.stringify(declared)} is not a single structural type`);
  }
  if (values && values.length > 0 && (declared === undefined || declared === "number")) {
    if (values.every((v) => typeof v === "number" && Number.isInteger(v))) return "integer";
    if (values.every((v) => typeof v === "number")) return "number";
    if (values.every((v) => typeof v === "string")) return "string";
    if (values.every((v) => typeof v === "boolean")) return "boolean";
    throw new StructuralSchemaError(path, "enum mixes value types");
  }
  return declared as StructuralSchema["type"] | undefined;
}

/** Bounds equal to JavaScript's safe-integer limits are zod artefacts of `.int()`, not API rules. */
function bound(v: unknown, artefact: number): number | undefined {
  return typeof v === "number" && v !== artefact ? v : undefined;
}

function convertNode(input: JsonSchema, ctx: Context, path: string): StructuralSchema {
  let node = input;
  if (typeof node.$ref === "string") {
    const ref = node.$ref;
    const target = resolveRef(ref, ctx, path);
    const { $ref: _ref, ...siblings } = node;
    const inner = convertNode(target, { ...ctx, resolving: [...ctx.resolving, ref] }, path);
    return { ...inner, ...convertNode({ type: inner.type, ...siblings }, ctx, path) };
  }
  for (const key of Object.keys(node)) {
    if (!HANDLED_KEYS.has(key)) throw new StructuralSchemaError(path, `unsupported schema keyword ${key}`);
  }
  node = foldLiteralUnion(node, path);
  if ("const" in node) {
    const { const: value, ...rest } = node;
    node = { ...rest, enum: [value] };
  }

  const out: StructuralSchema = {};
  const type = typeOf(node, path);
  if (type) out.type = type;
  for (const key of COPIED_KEYS) {
    if (node[key] !== undefined) (out as Record<string, unknown>)[key] = node[key];
  }
  const minimum = bound(node.minimum, Number.MIN_SAFE_INTEGER);
  const maximum = bound(node.maximum, Number.MAX_SAFE_INTEGER);
  if (minimum !== undefined) out.minimum = minimum;
  if (maximum !== undefined) out.maximum = maximum;

  if (isRecord(node.properties)) {
    const props: Record<string, StructuralSchema> = {};
    for (const name of Object.keys(node.properties).sort()) {
      const child = node.properties[name];
      if (!isRecord(child)) throw new StructuralSchemaError(`${path}.${name}`, "property is not a schema");
      props[name] = convertNode(child, ctx, `${path}.${name}`);
    }
    out.properties = props;
  }
  if (Array.isArray(node.required) && node.required.length > 0) out.required = node.required.map(String);
  if (isRecord(node.items)) out.items = convertNode(node.items, ctx, `${path}[*]`);
  else if (node.items !== undefined) throw new StructuralSchemaError(path, "tuple items are not structural");

  // `additionalProperties: false` is zod's `.strict()`; the API server prunes
  // unknown fields anyway, and structural schemas forbid it beside properties.
  const extra = node.additionalProperties;
  if (isRecord(extra)) {
    if (out.properties) throw new StructuralSchemaError(path, "additionalProperties beside properties is not structural");
    out.additionalProperties = convertNode(extra, ctx, `${path}.*`);
  } else if (extra === true && !out.properties) {
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }

  if (!out.type && !out["x-kubernetes-int-or-string"] && !out["x-kubernetes-preserve-unknown-fields"]) {
    throw new StructuralSchemaError(path, "node has no type");
  }
  return out;
}

/**
 * Converts the output of `z.toJSONSchema(schema, { target: "openapi-3.0" })`
 * into a structural schema: `$ref`s inlined, literal unions folded into typed
 * enums, `additionalProperties: false` dropped, every node typed, properties
 * sorted by name. Throws {@link StructuralSchemaError} for what cannot be
 * expressed structurally, so that the generator fails rather than emitting a
 * CRD the API server would reject.
 */
export function buildStructuralSchema(jsonSchema: JsonSchema): StructuralSchema {
  return convertNode(jsonSchema, { root: jsonSchema, resolving: [] }, "");
}
