// The operator command line: --help lists every flag with default and env var;
// bad values exit 2 naming the flag. Runs src/main.ts as a process.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { OPERATOR_FLAGS } from "../../../src/operator/operator-flags.js";

const ROOT = join(import.meta.dirname, "../../..");

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/main.ts"), "operator", ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", ...env },
    timeout: 30_000,
  });
}

void describe("keepalived-vip operator", () => {
  void test("--help lists every flag with its env var, and exits 0", () => {
    const out = run(["--help"]);
    assert.equal(out.status, 0);
    for (const f of OPERATOR_FLAGS) {
      assert.match(out.stdout, new RegExp(`--${f.name}\\b`));
      assert.match(out.stdout, new RegExp(`env ${f.env}\\b`));
    }
    assert.match(out.stdout, /default "15s"/);
  });

  const bad: { args: string[]; env?: Record<string, string>; flag: string }[] = [
    { args: ["--retry-period=soon"], flag: "--retry-period" },
    { args: ["--agent-node-selector=role"], flag: "--agent-node-selector" },
    { args: ["--agent-tolerations=[{"], flag: "--agent-tolerations" },
    { args: ["--metrics-bind-address=8080"], flag: "--metrics-bind-address" },
    { args: [], env: { KEEPALIVED_VIP_WORKERS: "0" }, flag: "--workers (from KEEPALIVED_VIP_WORKERS)" },
    { args: ["--no-such-flag"], flag: "--no-such-flag" },
  ];
  for (const c of bad) {
    void test(`exits 2 and names ${c.flag}`, () => {
      const out = run(c.args, c.env);
      assert.equal(out.status, 2, out.stderr);
      assert.ok(out.stderr.includes(c.flag), out.stderr);
    });
  }
});
