// The flag table machinery shared by `operator` and `agent`: parseArgs
// options and the flag > env var > default lookup.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { flagParseOptions, lookupFlag, renderCommandHelp, type FlagDef } from "../../../src/shared/flags.js";

const level: FlagDef = { name: "log-level", env: "LOG_LEVEL", default: "info", help: "Log level" };
const noEnv: FlagDef = { name: "runtime-dir", default: "/run/x", help: "Runtime directory" };
const list: FlagDef = { name: "extra", env: "EXTRA", multiple: true, help: "Extra" };

void describe("lookupFlag", () => {
  const cases: Array<[string, FlagDef, Record<string, unknown>, Record<string, string>, { value?: string; origin: string }]> = [
    ["the flag wins over the env var", level, { "log-level": "debug" }, { LOG_LEVEL: "warn" }, { value: "debug", origin: "--log-level" }],
    ["an empty flag is still the flag", level, { "log-level": "" }, { LOG_LEVEL: "warn" }, { value: "", origin: "--log-level" }],
    ["the env var without the flag", level, {}, { LOG_LEVEL: "warn" }, { value: "warn", origin: "--log-level (from LOG_LEVEL)" }],
    ["an empty env var counts as unset", level, {}, { LOG_LEVEL: "" }, { value: "info", origin: "--log-level" }],
    ["the default", level, {}, {}, { value: "info", origin: "--log-level" }],
    ["a flag without env var ignores the environment", noEnv, {}, { "runtime-dir": "/y", RUNTIME_DIR: "/y" }, { value: "/run/x", origin: "--runtime-dir" }],
    ["nothing at all", { name: "host-ip", env: "HOST_IP", help: "" }, {}, {}, { origin: "--host-ip" }],
  ];
  for (const [name, def, given, env, want] of cases) void test(name, () => assert.deepEqual(lookupFlag(def, given, env), want));
});

void describe("flagParseOptions and renderCommandHelp", () => {
  void test("every flag takes a string; repeatable ones are lists", () => {
    assert.deepEqual(flagParseOptions([level, list]), { "log-level": { type: "string" }, extra: { type: "string", multiple: true } });
  });
  void test("one block per flag, default and env var in parentheses only when set", () => {
    const help = renderCommandHelp({ command: "p c", about: ["About."], flags: [level, noEnv, list, { name: "bare", help: "Bare" }], notes: ["Note."] });
    assert.equal(
      help,
      [
        "Usage: p c [options]",
        "",
        "About.",
        "",
        "Options:",
        "  --log-level",
        '      Log level (default "info"; env LOG_LEVEL)',
        "  --runtime-dir",
        '      Runtime directory (default "/run/x")',
        "  --extra (repeatable)",
        "      Extra (env EXTRA)",
        "  --bare",
        "      Bare",
        "  -h, --help",
        "      Show this help",
        "",
        "Note.",
        "",
      ].join("\n"),
    );
  });
});
