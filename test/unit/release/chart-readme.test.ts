// The chart's README (what `helm show readme` prints) is generated from
// values.yaml's comments and kept in sync: regenerate it with
// `npx tsx scripts/chart-readme.ts`.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CHART_DIR, renderChartReadme, valueRows } from "../../../scripts/chart-readme.js";

const values = readFileSync(join(CHART_DIR, "values.yaml"), "utf8");

void describe("chart README", () => {
  void test("README.md is what scripts/chart-readme.ts generates from values.yaml and Chart.yaml", () => {
    const want = renderChartReadme(values, readFileSync(join(CHART_DIR, "Chart.yaml"), "utf8"));
    assert.equal(readFileSync(join(CHART_DIR, "README.md"), "utf8"), want, "run `npx tsx scripts/chart-readme.ts`");
  });

  void test("a `# --` comment describes the key below it; keys of nested maps are dotted", () => {
    const rows = valueRows('# -- Top.\n# Second line.\na: 1\nb:\n  # -- Inner.\n  c: [x]\n  d: {}\n\n# -- not attached\n\ne: ""\n');
    assert.deepEqual(rows, [
      { key: "a", value: 1, description: "Top. Second line." },
      { key: "b.c", value: ["x"], description: "Inner." },
      { key: "b.d", value: {}, description: "" },
      { key: "e", value: "", description: "" },
    ]);
  });

  void test("the monitoring and RBAC values are described", () => {
    const keys = new Map(valueRows(values).map((r) => [r.key, r.description]));
    for (const k of ["agent.podMonitor.enabled", "prometheusRule.enabled", "rbac.aggregatedRoles.aggregateToEdit", "agent.logLevel"]) {
      assert.ok((keys.get(k) ?? "") !== "", `${k} has a description`);
    }
  });
});
