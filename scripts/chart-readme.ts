// Writes charts/keepalived-vip-operator/README.md (what `helm show readme`
// prints) from Chart.yaml and the `# --` comments of values.yaml: a comment
// block starting with `# --` describes the key below it. A unit test keeps the
// file in sync: run `npx tsx scripts/chart-readme.ts` after changing values.yaml.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";

export const CHART_DIR = join(fileURLToPath(import.meta.url), "../../charts/keepalived-vip-operator");

interface Row {
  key: string;
  value: unknown;
  description: string;
}

function lookup(values: unknown, path: string[]): unknown {
  let v: unknown = values;
  for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
  return v;
}

/** Every key of values.yaml in file order, with its default and its `# --` description. */
export function valueRows(valuesText: string): Row[] {
  const values = yaml.load(valuesText);
  const rows: Row[] = [];
  const stack: { indent: number; key: string }[] = [];
  let comment: string[] | undefined;
  for (const line of valuesText.split("\n")) {
    const c = /^(\s*)# ?(.*)$/.exec(line);
    if (c) {
      const text = c[2]!;
      if (text.startsWith("-- ")) comment = [text.slice(3)];
      else if (comment && !/^-{3,}/.test(text)) comment.push(text);
      continue;
    }
    const k = /^(\s*)([A-Za-z0-9_]+):(.*)$/.exec(line);
    if (!k) {
      if (line.trim() === "") comment = undefined;
      continue;
    }
    const indent = k[1]!.length;
    while (stack.length > 0 && stack.at(-1)!.indent >= indent) stack.pop();
    const path = [...stack.map((s) => s.key), k[2]!];
    stack.push({ indent, key: k[2]! });
    const value = lookup(values, path);
    const isParent = value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0;
    if (!isParent || comment) rows.push({ key: path.join("."), value: isParent ? undefined : value, description: (comment ?? []).join(" ").trim() });
    comment = undefined;
  }
  return rows;
}

const cell = (s: string): string => s.replace(/\|/g, "\\|");

/** The README text. */
export function renderChartReadme(valuesText: string, chartText: string): string {
  const chart = yaml.load(chartText) as { name: string; description: string; version: string; appVersion: string };
  const rows = valueRows(valuesText).map(
    (r) => `| \`${r.key}\` | ${r.value === undefined ? "" : `\`${cell(JSON.stringify(r.value))}\``} | ${cell(r.description)} |`,
  );
  return [
    `# ${chart.name}`,
    "",
    `${chart.description}.`,
    "",
    `Chart version ${chart.version}, app version ${chart.appVersion}. Installation, every value explained and`,
    "upgrades: docs/install.md, docs/configuration.md and docs/upgrading.md of the project;",
    "metrics and alerts: docs/monitoring.md.",
    "",
    "```sh",
    `helm install keepalived-vip ./charts/${chart.name} --namespace keepalived-vip-system --create-namespace`,
    "```",
    "",
    "## Values",
    "",
    "Generated from the comments of values.yaml (`npx tsx scripts/chart-readme.ts`).",
    "",
    "| Key | Default | Description |",
    "|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = renderChartReadme(readFileSync(join(CHART_DIR, "values.yaml"), "utf8"), readFileSync(join(CHART_DIR, "Chart.yaml"), "utf8"));
  writeFileSync(join(CHART_DIR, "README.md"), text);
  console.log(`wrote ${join(CHART_DIR, "README.md")}`);
}
