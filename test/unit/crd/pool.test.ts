// The committed VirtualIPPool CRD is what the zod schema generates: a
// cluster-scoped resource with the printer columns, CEL rules and defaults
// the pools page documents.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import yaml from "js-yaml";
import { CRD_COPY_DIRS, CRD_HEADER, POOL_CRD_FILE, buildPoolCrd, renderPoolCrd, type StructuralSchema } from "../../../src/crd/index.js";

const root = join(import.meta.dirname, "../../..");
const crd = buildPoolCrd();
const version = crd.spec.versions[0]!;
const schema = version.schema.openAPIV3Schema;

function at(path: string): StructuralSchema {
  let node: StructuralSchema | undefined = schema;
  for (const part of path.split(".").filter((p) => p !== "")) {
    node = part === "[*]" ? node?.items : node?.properties?.[part];
  }
  assert.ok(node, `no schema node at ${path}`);
  return node;
}

void describe("generated VirtualIPPool CRD file", () => {
  void test("the committed file equals what the schema generates (run `make generate` when this fails)", () => {
    assert.ok(readFileSync(join(root, POOL_CRD_FILE), "utf8") === renderPoolCrd(), `${POOL_CRD_FILE} is stale: run \`make generate\``);
  });

  for (const dir of CRD_COPY_DIRS) {
    const copy = join(dir, basename(POOL_CRD_FILE));
    void test(`${copy} equals the generated CRD`, () => {
      assert.ok(existsSync(join(root, copy)), `${copy} is missing: run \`make generate\``);
      assert.ok(readFileSync(join(root, copy), "utf8") === renderPoolCrd(), `${copy} is stale: run \`make generate\``);
    });
  }

  void test("starts with the generated-file header and parses back to the built object", () => {
    const text = renderPoolCrd();
    assert.ok(text.startsWith(CRD_HEADER));
    assert.deepEqual(yaml.load(text), JSON.parse(JSON.stringify(crd)));
  });
});

void describe("VirtualIPPool CRD", () => {
  void test("names, cluster scope, version and status subresource", () => {
    assert.equal(crd.metadata.name, "virtualippools.keepalived-vip.io");
    assert.deepEqual(crd.spec.names, {
      kind: "VirtualIPPool",
      listKind: "VirtualIPPoolList",
      plural: "virtualippools",
      singular: "virtualippool",
      shortNames: ["vippool"],
      categories: ["keepalived-vip"],
    });
    assert.equal(crd.spec.scope, "Cluster");
    assert.deepEqual([version.name, version.served, version.storage], ["v1alpha1", true, true]);
    assert.deepEqual(version.subresources, { status: {} });
  });

  void test("kubectl shows ADDRESSES, ALLOCATED, AVAILABLE, STATUS and AGE (router ids with -o wide)", () => {
    assert.deepEqual(
      version.additionalPrinterColumns.map((c) => [c.name.toUpperCase(), c.type, c.jsonPath, c.priority ?? 0]),
      [
        ["ADDRESSES", "string", ".spec.addresses", 0],
        ["ALLOCATED", "integer", ".status.allocated", 0],
        ["AVAILABLE", "integer", ".status.available", 0],
        ["STATUS", "string", '.status.conditions[?(@.type=="Ready")].reason', 0],
        ["AGE", "date", ".metadata.creationTimestamp", 0],
        ["ROUTER IDS", "string", ".spec.virtualRouterIds", 1],
      ],
    );
    for (const c of version.additionalPrinterColumns) assert.ok(c.description.length > 0, c.name);
  });

  void test("spec: addresses and router ids required and bounded, autoAssign defaults to true", () => {
    assert.deepEqual(at(".spec").required, ["addresses", "virtualRouterIds"]);
    for (const path of [".spec.addresses", ".spec.virtualRouterIds"]) {
      assert.equal(at(path).minItems, 1, path);
      assert.equal(typeof at(path).maxItems, "number", `${path} has no maxItems (CEL cost bound)`);
      assert.equal(typeof at(`${path}.[*]`).maxLength, "number", `${path} items have no maxLength (CEL cost bound)`);
    }
    assert.equal(at(".spec.autoAssign").default, true);
    assert.ok(at(".spec.namespaceSelector.matchLabels"));
    assert.deepEqual(at(".status.conditions")["x-kubernetes-list-map-keys"], ["type"]);
  });

  const rules: { path: string; rule: RegExp; message: RegExp }[] = [
    {
      path: ".spec.addresses.[*]",
      rule: /^isCIDR\(self\) \|\| isIP\(self\) \|\|/,
      message: /must be a CIDR, a range first-last of two addresses, or one address/,
    },
    { path: ".spec.virtualRouterIds.[*]", rule: /int\(n\) >= 1 && int\(n\) <= 255/, message: /router ids are 1\.\.255/ },
    { path: ".spec.namespaceSelector.matchExpressions.[*]", rule: /self\.operator in \['In', 'NotIn'\]/, message: /values must be non-empty for In and NotIn/ },
  ];
  for (const c of rules) {
    void test(`${c.path} carries the rule ${c.message.source}`, () => {
      const found = (at(c.path)["x-kubernetes-validations"] ?? []).find((r) => c.rule.test(r.rule) && c.message.test(r.message ?? ""));
      assert.ok(found, `no rule matching ${c.rule} at ${c.path}`);
    });
  }

  void test("the router id entry pattern keeps CEL's int() from failing on anything but digits", () => {
    assert.equal(at(".spec.virtualRouterIds.[*]").pattern, "^[0-9]{1,3}(-[0-9]{1,3})?$");
  });
});
