// runMain: subcommand selection, help routing, and how thrown errors become
// `error:` lines and exit statuses, with fake subcommands in process.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InputError, UsageError } from "../../../src/cli/command.js";
import { renderUsage, runMain, type Output, type Subcommand } from "../../../src/cli/dispatch.js";

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
  calls: string[][];
}

async function dispatch(argv: string[], behaviour: (argv: string[]) => Promise<number> = () => Promise.resolve(0)): Promise<Captured> {
  const calls: string[][] = [];
  const subcommands: Subcommand[] = [
    {
      name: "alpha",
      summary: "The first one",
      load: () =>
        Promise.resolve({
          run: (args: string[]) => {
            calls.push(args);
            return behaviour(args);
          },
        }),
    },
    { name: "beta-long", summary: "The second one", load: () => Promise.resolve({ run: () => Promise.resolve(0) }) },
  ];
  let stdout = "";
  let stderr = "";
  const out: Output = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) };
  const code = await runMain(subcommands, argv, out);
  return { code, stdout, stderr, calls };
}

void describe("runMain routing", () => {
  const cases: { argv: string[]; code: number; calls: string[][]; stdout: RegExp | ""; stderr: RegExp | "" }[] = [
    { argv: [], code: 2, calls: [], stdout: "", stderr: /^Usage: keepalived-vip <subcommand>/ },
    { argv: ["--help"], code: 0, calls: [], stdout: /^Usage: keepalived-vip <subcommand>/, stderr: "" },
    { argv: ["-h"], code: 0, calls: [], stdout: /^Usage:/, stderr: "" },
    { argv: ["help"], code: 0, calls: [], stdout: /^Usage:/, stderr: "" },
    { argv: ["help", "alpha"], code: 0, calls: [["--help"]], stdout: "", stderr: "" },
    { argv: ["alpha", "--x", "file"], code: 0, calls: [["--x", "file"]], stdout: "", stderr: "" },
    { argv: ["gamma"], code: 2, calls: [], stdout: "", stderr: /^error: unknown subcommand "gamma"\nRun 'keepalived-vip --help'/ },
    { argv: ["help", "gamma"], code: 2, calls: [], stdout: "", stderr: /^error: unknown subcommand "gamma"/ },
    { argv: ["--verbose"], code: 2, calls: [], stdout: "", stderr: /^error: unknown option "--verbose"/ },
  ];
  for (const c of cases) {
    void test(`${JSON.stringify(c.argv)} -> exit ${c.code}`, async () => {
      const r = await dispatch(c.argv);
      assert.equal(r.code, c.code);
      assert.deepEqual(r.calls, c.calls);
      if (c.stdout === "") assert.equal(r.stdout, "");
      else assert.match(r.stdout, c.stdout);
      if (c.stderr === "") assert.equal(r.stderr, "");
      else assert.match(r.stderr, c.stderr);
    });
  }

  void test("the usage lists every subcommand with its summary, aligned", () => {
    const usage = renderUsage([
      { name: "alpha", summary: "The first one", load: () => Promise.reject(new Error("not loaded")) },
      { name: "beta-long", summary: "The second one", load: () => Promise.reject(new Error("not loaded")) },
    ]);
    assert.match(usage, /^ {2}alpha {6}The first one$/m);
    assert.match(usage, /^ {2}beta-long {2}The second one$/m);
  });
});

void describe("runMain errors", () => {
  const cases: { name: string; behaviour: () => Promise<number>; code: number; stderr: string }[] = [
    { name: "the subcommand's own status passes through", behaviour: () => Promise.resolve(3), code: 3, stderr: "" },
    {
      name: "UsageError exits 2 with a hint to the subcommand's help",
      behaviour: () => Promise.reject(new UsageError("no input files")),
      code: 2,
      stderr: "error: no input files\nRun 'keepalived-vip alpha --help' for usage.\n",
    },
    {
      name: "InputError exits 1 with one line per message",
      behaviour: () => Promise.reject(new InputError(["a.yaml: bad", "b.yaml: worse"])),
      code: 1,
      stderr: "error: a.yaml: bad\nerror: b.yaml: worse\n",
    },
    {
      name: "any other error exits 1 with its message and no stack trace",
      behaviour: () => Promise.reject(new TypeError("cannot read x")),
      code: 1,
      stderr: "error: cannot read x\n",
    },
  ];
  for (const c of cases) {
    void test(c.name, async () => {
      const r = await dispatch(["alpha"], c.behaviour);
      assert.equal(r.code, c.code);
      assert.equal(r.stderr, c.stderr);
      assert.equal(r.stdout, "");
    });
  }
});
