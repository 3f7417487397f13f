// Tests of the candidate config test with the real keepalived: a config that
// keepalived accepts is still refused when it needs IPVS the kernel lacks.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NO_IPVS_PROBLEM } from "../../../src/agent/config.js";
import { ensureRuntimeDir, runtimePaths, testCandidateConfig } from "../../../src/agent/runtime.js";

const VIRTUAL_SERVER = `global_defs {
  router_id node-a
}
virtual_server 192.0.2.50 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.10 8080 {
    TCP_CHECK {
      connect_timeout 3
    }
  }
}
`;

void describe("testCandidateConfig", () => {
  const cases: Array<{ name: string; config: string; ipvs: boolean; ok: boolean; problem?: RegExp }> = [
    { name: "a virtual server passes where the kernel has IPVS", config: VIRTUAL_SERVER, ipvs: true, ok: true },
    { name: "a virtual server is refused where the kernel has no IPVS", config: VIRTUAL_SERVER, ipvs: false, ok: false, problem: /no IPVS/ },
    {
      name: "a syntax error is refused by keepalived itself",
      config: "global_defs {\n  no_such_keyword 1\n}\n",
      ipvs: true,
      ok: false,
      problem: /unknown keyword/i,
    },
  ];
  for (const c of cases) {
    void test(c.name, async () => {
      const dir = mkdtempSync(join(tmpdir(), "agent-runtime-"));
      try {
        const paths = runtimePaths(dir);
        await ensureRuntimeDir(paths);
        const verdict = await testCandidateConfig(paths, c.config, { keepalivedPath: "keepalived", ipvsAvailable: () => Promise.resolve(c.ipvs) });
        assert.equal(verdict.ok, c.ok, verdict.problems.join("; "));
        if (c.problem) assert.match(verdict.problems.join("\n"), c.problem);
        if (!c.ok && c.ipvs === false) assert.deepEqual(verdict.problems, [NO_IPVS_PROBLEM]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
