// `operator --help` and `agent --help` share one layout: each option on a
// line of its own ("  --name"), its description indented by six spaces with
// default and environment variable in parentheses; both document --log-level
// and the true kubeconfig lookup order; both come from one renderer
// (src/shared/flags.ts), so they state precedence and exit status alike.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AGENT_FLAGS, AGENT_HELP } from "../../../src/cli/agent.js";
import { EXIT_STATUS_NOTE } from "../../../src/shared/flags.js";
import { renderOperatorHelp } from "../../../src/operator/operator-flags.js";

function optionBlocks(help: string): string[][] {
  const body = help.split("\nOptions:\n")[1]?.split("\n\n")[0] ?? "";
  const lines = body.split("\n").filter((l) => l !== "");
  const blocks: string[][] = [];
  for (const l of lines) {
    if (/^ {2}\S/.test(l)) blocks.push([l]);
    else blocks.at(-1)?.push(l);
  }
  return blocks;
}

void describe("--help format", () => {
  for (const [name, help] of [
    ["operator", renderOperatorHelp("keepalived-vip")],
    ["agent", AGENT_HELP],
  ] as const) {
    void test(`${name} --help: one option per line, description indented by six spaces`, () => {
      const blocks = optionBlocks(help);
      assert.ok(blocks.length > 5, `${name} has an Options section`);
      for (const b of blocks) {
        assert.match(b[0]!, /^ {2}(-h, )?--[a-z][a-z-]*( \(repeatable\))?$/, `option line: ${b[0]}`);
        assert.equal(b.length, 2, `one description line for ${b[0]}`);
        assert.match(b[1]!, /^ {6}\S/);
      }
      const logLevel = blocks.find((b) => b[0] === "  --log-level");
      assert.ok(logLevel, `${name} documents --log-level`);
      assert.match(logLevel[1]!, /error, warn, info or debug \(default "info"; env LOG_LEVEL\)/);
      const kubeconfig = blocks.find((b) => b[0] === "  --kubeconfig");
      assert.match(kubeconfig?.[1] ?? "", /\$KUBECONFIG, then ~\/\.kube\/config, then the in-cluster ServiceAccount/);
      assert.match(help, new RegExp(`^Usage: keepalived-vip ${name} \\[options\\]\n`));
      assert.match(help, /^Precedence: flag, then env var, then /m);
      assert.ok(help.endsWith(`\n${EXIT_STATUS_NOTE}\n`), `${name} --help ends with the exit status`);
    });
  }
});

void describe("agent --help and the agent's flag table", () => {
  void test("every flag of the table is in --help with its default and env var, and nothing else is", () => {
    const blocks = optionBlocks(AGENT_HELP);
    assert.deepEqual(
      blocks.map((b) => b[0]),
      [...AGENT_FLAGS.map((f) => `  --${f.name}`), "  -h, --help"],
    );
    for (const f of AGENT_FLAGS) {
      const desc = blocks.find((b) => b[0] === `  --${f.name}`)?.[1] ?? "";
      if (f.default !== undefined) assert.ok(desc.includes(`default ${JSON.stringify(f.default)}`), desc);
      if (f.env !== undefined) assert.ok(desc.includes(`env ${f.env}`), desc);
    }
  });
});
