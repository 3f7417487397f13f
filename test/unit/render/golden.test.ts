// Golden files of the renderer: each fixture under test/fixtures/render is
// planned, every node's keepalived.conf and the plan summary are compared
// with test/golden/render/<case>/, and every golden config passes the real
// `keepalived --config-test`. UPDATE_GOLDEN=1 rewrites the golden files.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { planCluster, renderNodeConfigs } from "../../../src/render/index.js";
import type { ClusterPlan, RenderedNodeConfig } from "../../../src/render/index.js";
import { FIXTURES, GOLDEN, KEEPALIVED, KeepalivedChecker, loadFixture } from "./support.js";

const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Everything but the config texts, as a readable JSON golden (node hashes are those of the assembled configs). */
function summary(plan: ClusterPlan, configs: RenderedNodeConfig[]): string {
  const nodes = configs.map((n) => ({ node: n.node, hash: n.hash, instances: n.instances.instances }));
  return `${JSON.stringify({ problems: plan.problems, instances: plan.instances, virtualIPs: plan.virtualIPs, nodes }, null, 2)}\n`;
}

/** Expected files of a case: <node>.conf per node (assembled from the published plan), plus _plan.json. */
function expectedFiles(plan: ClusterPlan): Map<string, string> {
  const configs = renderNodeConfigs(plan);
  const files = new Map<string, string>();
  for (const n of configs) files.set(`${n.node}.conf`, n.config);
  files.set("_plan.json", summary(plan, configs));
  return files;
}

const cases = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();

void describe("golden keepalived configs", () => {
  void test("there are fixtures to render", () => {
    assert.ok(cases.length >= 8, `expected at least 8 fixtures, found ${cases.length}`);
  });

  for (const name of cases) {
    void test(`${name}: rendered files equal the golden files`, () => {
      const plan = planCluster(loadFixture(name));
      const files = expectedFiles(plan);
      const dir = join(GOLDEN, name);
      if (UPDATE) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        for (const [file, text] of files) writeFileSync(join(dir, file), text);
      }
      assert.ok(existsSync(dir), `no golden directory ${dir}; run with UPDATE_GOLDEN=1`);
      assert.deepEqual(readdirSync(dir).sort(), [...files.keys()].sort(), "golden file set differs");
      for (const [file, text] of files) {
        assert.equal(text, readFileSync(join(dir, file), "utf8"), `${name}/${file} differs from its golden file`);
      }
    });
  }
});

void describe("golden keepalived configs pass keepalived --config-test", () => {
  const checker = new KeepalivedChecker();
  after(() => checker.close());

  void test("keepalived is installed", () => {
    assert.ok(existsSync(KEEPALIVED), `${KEEPALIVED} is missing: the renderer cannot be verified`);
  });

  void test("a config with an unknown keyword fails the check (the check can fail)", () => {
    const res = checker.check("global_defs {\n    router_id x\n    no_such_keyword 1\n}\n");
    assert.notEqual(res.status, 0);
    assert.match(res.log, /Unknown keyword/);
  });

  for (const name of cases) {
    void test(`${name}: every golden config is accepted without a warning`, async (t) => {
      const dir = join(GOLDEN, name);
      const files = existsSync(dir)
        ? readdirSync(dir)
            .filter((f) => f.endsWith(".conf"))
            .sort()
        : [];
      assert.ok(files.length > 0, `no golden configs in ${dir}`);
      for (const file of files) {
        await t.test(file, () => {
          const res = checker.check(readFileSync(join(dir, file), "utf8"));
          assert.equal(res.status, 0, `keepalived --config-test exited ${String(res.status)}:\n${res.log}${res.stderr}`);
          assert.equal(res.log.trim(), "", `keepalived --config-test reported:\n${res.log}`);
          assert.doesNotMatch(res.stderr, /WARNING|Unknown keyword|error/i);
        });
      }
    });
  }
});
