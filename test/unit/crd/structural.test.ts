// The zod JSON Schema -> structural schema conversion: what it rewrites, and
// that it refuses what the API server would reject.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { StructuralSchemaError, buildStructuralSchema, type JsonSchema, type StructuralSchema } from "../../../src/crd/index.js";

function fromZod(schema: z.ZodType): StructuralSchema {
  return buildStructuralSchema(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" }));
}

void describe("buildStructuralSchema rewrites", () => {
  const cases: { name: string; input: JsonSchema; expected: StructuralSchema }[] = [
    {
      name: "drops additionalProperties: false of a strict object",
      input: { type: "object", properties: { a: { type: "string" } }, additionalProperties: false },
      expected: { type: "object", properties: { a: { type: "string" } } },
    },
    {
      name: "keeps a map's value schema",
      input: { type: "object", additionalProperties: { type: "integer", minimum: 1 } },
      expected: { type: "object", additionalProperties: { type: "integer", minimum: 1 } },
    },
    {
      name: "turns additionalProperties: true into preserve-unknown-fields",
      input: { type: "object", additionalProperties: true },
      expected: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
    },
    {
      name: "folds a union of integer literals into an integer enum",
      input: {
        anyOf: [
          { type: "number", enum: [2] },
          { type: "number", const: 3 },
        ],
        default: 3,
      },
      expected: { type: "integer", enum: [2, 3], default: 3 },
    },
    {
      name: "folds a union of string literals into a string enum",
      input: { oneOf: [{ const: "a" }, { const: "b" }] },
      expected: { type: "string", enum: ["a", "b"] },
    },
    {
      name: "inlines $ref from $defs",
      input: {
        $schema: "http://json-schema.org/draft-04/schema#",
        type: "object",
        properties: { x: { $ref: "#/$defs/Name", description: "The name." } },
        $defs: { Name: { type: "string", maxLength: 5 } },
      },
      expected: { type: "object", properties: { x: { type: "string", maxLength: 5, description: "The name." } } },
    },
    {
      name: "drops zod's safe-integer bounds and keeps real ones",
      input: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
      expected: { type: "integer", minimum: 0 },
    },
    {
      name: "sorts properties by name",
      input: { type: "object", properties: { b: { type: "string" }, a: { type: "string" } } },
      expected: { type: "object", properties: { a: { type: "string" }, b: { type: "string" } } },
    },
    {
      name: "keeps date-time format, descriptions and Kubernetes extensions",
      input: {
        type: "array",
        description: "List.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        items: { type: "object", required: ["name"], properties: { name: { type: "string" }, at: { type: "string", format: "date-time" } } },
      },
      expected: {
        type: "array",
        description: "List.",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        items: { type: "object", required: ["name"], properties: { at: { type: "string", format: "date-time" }, name: { type: "string" } } },
      },
    },
  ];
  for (const c of cases) {
    void test(c.name, () => {
      assert.deepEqual(buildStructuralSchema(c.input), c.expected);
      assert.deepEqual(Object.keys(buildStructuralSchema(c.input).properties ?? {}), Object.keys(c.expected.properties ?? {}));
    });
  }

  void test("carries .meta() validations from a zod schema", () => {
    const schema = z
      .object({ a: z.string() })
      .strict()
      .meta({ "x-kubernetes-validations": [{ rule: "self.a != ''", message: "a must be set" }] });
    assert.deepEqual(fromZod(schema), {
      type: "object",
      required: ["a"],
      properties: { a: { type: "string" } },
      "x-kubernetes-validations": [{ rule: "self.a != ''", message: "a must be set" }],
    });
  });
});

void describe("buildStructuralSchema refuses non-structural schemas", () => {
  const cases: { name: string; input: JsonSchema; message: RegExp }[] = [
    { name: "a node without type", input: { type: "object", properties: { x: { description: "?" } } }, message: /^\.x: node has no type/ },
    { name: "a union of object shapes", input: { anyOf: [{ type: "string" }, { type: "object" }] }, message: /union of literals/ },
    { name: "an enum of mixed types", input: { enum: ["a", 1] }, message: /mixes value types/ },
    { name: "a list of types", input: { type: ["string", "null"] }, message: /not a single structural type/ },
    { name: "an unknown keyword", input: { type: "string", contentEncoding: "base64" }, message: /unsupported schema keyword contentEncoding/ },
    {
      name: "a recursive $ref",
      input: { $ref: "#/$defs/A", $defs: { A: { type: "object", properties: { a: { $ref: "#/$defs/A" } } } } },
      message: /recursive \$ref/,
    },
    { name: "an unresolvable $ref", input: { $ref: "#/$defs/Missing" }, message: /unresolvable \$ref/ },
    { name: "tuple items", input: { type: "array", items: [{ type: "string" }] }, message: /tuple items/ },
  ];
  for (const c of cases) {
    void test(`throws on ${c.name}`, () => {
      assert.throws(
        () => buildStructuralSchema(c.input),
        (e: unknown) => e instanceof StructuralSchemaError && c.message.test(e.message),
      );
    });
  }
});
