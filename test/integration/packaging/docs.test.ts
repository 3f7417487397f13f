// docs/configuration.md against the sources it describes: every CRD field
// (with the CRD's default) and every chart value (with values.yaml's default).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import yaml from "js-yaml";
import { REPO_ROOT } from "../../support/k8sbins.js";
import { CHART_DIR, CRD_FILE } from "./manifests.js";

const doc = readFileSync(join(REPO_ROOT, "docs/configuration.md"), "utf8");
const POOL_CRD_FILE = join(REPO_ROOT, "crds/keepalived-vip.io_virtualippools.yaml");

/** The text of the `## <heading>` section, up to the next `## ` heading. */
function section(heading: string): string {
  const start = doc.indexOf(`\n## ${heading}`);
  assert.ok(start >= 0, `no section ## ${heading}`);
  const end = doc.indexOf("\n## ", start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** The table row documenting `path` (first cell is `path` in backticks), split into cells. */
function row(path: string, text = doc): string[] | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`| \`${path}\` |`));
  return line
    ?.split("|")
    .map((c) => c.trim())
    .slice(1, -1);
}

/** spec and status field paths of a CRD file. */
function fieldsOf(file: string): Map<string, SchemaNode> {
  const crd = yaml.load(readFileSync(file, "utf8")) as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } };
  const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
  const out = new Map<string, SchemaNode>();
  crdFields(root.properties!.spec!, "spec", out);
  crdFields(root.properties!.status!, "status", out);
  out.delete("spec");
  out.delete("status");
  return out;
}

interface SchemaNode {
  type?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
}

/** Field paths of a CRD schema: list items and map values fold into their parent. */
function crdFields(node: SchemaNode, path: string, out: Map<string, SchemaNode>): Map<string, SchemaNode> {
  if (path !== "") out.set(path, node);
  for (const [k, v] of Object.entries(node.properties ?? {})) crdFields(v, path === "" ? k : `${path}.${k}`, out);
  if (node.items?.properties) for (const [k, v] of Object.entries(node.items.properties)) crdFields(v, `${path}.${k}`, out);
  return out;
}

/** Paths of chart values: properties of values.schema.json objects that list their properties. */
function valuePaths(node: SchemaNode, path: string, out: string[]): string[] {
  for (const [k, v] of Object.entries(node.properties ?? {})) {
    const p = path === "" ? k : `${path}.${k}`;
    if (v.properties && v.additionalProperties === false && !["resources", "affinity"].includes(k)) valuePaths(v, p, out);
    else out.push(p);
  }
  return out;
}

function lookup(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o !== null && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), obj);
}

void describe("docs/configuration.md", () => {
  const fields = fieldsOf(CRD_FILE);

  for (const [kind, heading, file] of [
    ["VirtualIP", "VirtualIP (", CRD_FILE],
    ["VirtualIPPool", "VirtualIPPool (", POOL_CRD_FILE],
  ] as const) {
    void test(`documents every ${kind} field of the CRD, and nothing the CRD lacks`, () => {
      const own = fieldsOf(file);
      const text = section(heading);
      assert.ok(own.size > 8, `found ${own.size} fields`);
      const missing = [...own.keys()].filter((p) => row(p, text) === undefined);
      assert.deepEqual(missing, [], "fields without a row");
      const documented = [...text.matchAll(/^\| `((?:spec|status)\.[A-Za-z.]+)` \|/gm)].map((m) => m[1]!);
      assert.deepEqual(
        documented.filter((p) => !own.has(p)),
        [],
        "rows for fields the CRD does not have",
      );
    });
  }

  void test("shows the CRD's default of every spec field that has a scalar default", () => {
    const scalars = [...fields].filter(([p, n]) => p.startsWith("spec.") && n.default !== undefined && typeof n.default !== "object");
    assert.ok(scalars.length >= 7, `found ${scalars.length} defaults`);
    for (const [path, node] of scalars) {
      const cells = row(path)!;
      assert.equal(cells[2], `\`${String(node.default)}\``, `default of ${path}`);
    }
  });

  const schema = JSON.parse(readFileSync(join(CHART_DIR, "values.schema.json"), "utf8")) as SchemaNode;
  const values = yaml.load(readFileSync(join(CHART_DIR, "values.yaml"), "utf8"));
  const paths = valuePaths(schema, "", []);

  void test("documents every chart value", () => {
    assert.ok(paths.length > 30, `found ${paths.length} values`);
    assert.deepEqual(
      paths.filter((p) => row(p) === undefined),
      [],
      "values without a row",
    );
  });

  void test("shows values.yaml's default of every scalar or empty value", () => {
    let checked = 0;
    for (const path of paths) {
      const v = lookup(values, path);
      let want: string | undefined;
      if (typeof v === "number" || typeof v === "boolean" || (typeof v === "string" && v !== "")) want = `\`${String(v)}\``;
      else if (v === "") want = '`""`';
      else if (Array.isArray(v) && v.length === 0) want = "`[]`";
      else if (v !== null && typeof v === "object" && Object.keys(v).length === 0) want = "`{}`";
      if (want === undefined) continue;
      checked++;
      assert.ok(row(path)![1]!.startsWith(want), `default of ${path}: want ${want}, the row says ${row(path)![1]}`);
    }
    assert.ok(checked > 25, `checked ${checked} defaults`);
  });
});
