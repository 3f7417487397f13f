#!/usr/bin/env node
// Runs every *.test.ts below the given folders (or the given files) with node's test runner (tsx
// loader). Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function list(dir) {
  if (!statSync(dir).isDirectory()) return [dir];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...list(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith("--"));
const dirs = args.filter((a) => !a.startsWith("--"));
const files = dirs.flatMap(list);
if (files.length === 0) {
  console.error(`no test files below ${dirs.join(" ")}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? "1";
// A watchdog for the whole tier: a test process that never exits (a handle
// left open) fails the run with a clear message instead of hanging CI.
const limitMinutes = Number(process.env.TEST_TIER_TIMEOUT_MINUTES ?? "40");
const res = spawnSync(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...flags, ...files], {
  stdio: "inherit",
  timeout: limitMinutes * 60_000,
  killSignal: "SIGKILL",
});
if (res.error?.code === "ETIMEDOUT" || res.signal === "SIGKILL") {
  console.error(`test tier ${dirs.join(" ")} did not finish within ${limitMinutes} minutes (TEST_TIER_TIMEOUT_MINUTES): killed`);
  process.exit(1);
}
process.exit(res.status ?? 1);
