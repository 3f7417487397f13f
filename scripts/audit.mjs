#!/usr/bin/env node
// `make audit`: asks the registry (npm audit --omit=dev) for known advisories
// in the production dependency tree and fails when one can be fixed without a
// semver-major upgrade of a dependency this project chose, or when one that
// cannot be fixed is missing from the table in docs/supply-chain.md (that table
// says why each remaining advisory is not reachable). Exit codes: 0 clean or
// every remaining advisory accounted for, 1 something to fix, 2 the audit
// could not run (the registry's audit endpoint unreachable).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, dirname } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const res = spawnSync("npm", ["audit", "--omit=dev", "--json"], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
let report;
try {
  report = JSON.parse(res.stdout);
} catch {
  report = undefined;
}
if (!report || report.error || !report.vulnerabilities) {
  const why = report?.message || report?.error?.summary || (res.stderr || "no output").trim().split("\n").slice(-3).join(" ");
  console.error(`audit: npm audit could not run: ${why}`);
  process.exit(2);
}

/** Package names (`name`, no version) in the first column of docs/supply-chain.md's "Remaining advisories" table. */
function acceptedPackages(markdown) {
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Remaining advisories")) ?? "";
  const names = new Set();
  for (const line of section.split("\n")) {
    const m = /^\|\s*`([^`]+)`/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}

const accepted = acceptedPackages(readFileSync(join(root, "docs/supply-chain.md"), "utf8"));
const rows = [];
let failures = 0;
for (const [name, v] of Object.entries(report.vulnerabilities)) {
  const fix = v.fixAvailable;
  const advisories = v.via.filter((x) => typeof x === "object").map((x) => x.url?.split("/").pop() ?? x.title);
  // Only packages that carry an advisory themselves; their dependents follow.
  if (advisories.length === 0) continue;
  let verdict;
  if (fix === true || (typeof fix === "object" && !fix.isSemVerMajor)) {
    verdict = "FIX AVAILABLE: update it (npm audit fix, or an override in package.json)";
    failures++;
  } else if (accepted.has(name)) {
    verdict = "accepted (docs/supply-chain.md)";
  } else {
    verdict = "NOT ACCOUNTED FOR: add it to docs/supply-chain.md or override it";
    failures++;
  }
  const fixText = fix === false ? "no fix" : fix === true ? "fix in range" : `${fix.name}@${fix.version}${fix.isSemVerMajor ? " (major)" : ""}`;
  rows.push(`${name.padEnd(24)} ${v.severity.padEnd(9)} ${fixText.padEnd(36)} ${verdict}  [${advisories.join(", ")}]`);
}
const counts = report.metadata?.vulnerabilities ?? {};
console.log(`audit: production dependencies: ${report.metadata?.dependencies?.prod ?? "?"}; advisories by severity: ${JSON.stringify(counts)}`);
for (const r of rows) console.log(`  ${r}`);
if (failures > 0) {
  console.error(`audit: ${failures} package(s) to fix`);
  process.exit(1);
}
console.log(rows.length === 0 ? "audit: no known advisories" : "audit: every remaining advisory is accounted for");
