// `operator --help` and `agent --help` share one layout: each option on a
// line of its own ("  --name"), its description indented by six spaces with
// default and environment variable in parentheses; both document --log-level
// and the true kubeconfig lookup order.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AGENT_HELP } from "../../../src/cli/agent.js";
import { renderOperatorHelp } from "../../../src/operator/options.js";

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
    });
  }
});
