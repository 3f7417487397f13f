// Top-level command-line dispatch: picks the subcommand, prints the overall
// usage, and turns thrown errors into `error: ...` lines and an exit status.
// I/O: writes the process's stdout/stderr (or the Output it is given).
import { versionLine } from "../shared/version.js";
import { EXIT_FAILURE, EXIT_USAGE, InputError, PROGRAM, UsageError, type CommandModule } from "./command.js";

/** One entry of the subcommand table in src/main.ts. */
export interface Subcommand {
  name: string;
  /** One line for the top-level help. */
  summary: string;
  /** Loads the module lazily, so that `crd` never pays for the operator's imports. */
  load: () => Promise<CommandModule>;
}

/** Where the dispatcher writes; the process streams unless a test passes others. */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processOutput: Output = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/** The top-level help text listing `subcommands`. */
export function renderUsage(subcommands: readonly Subcommand[]): string {
  const width = Math.max(...subcommands.map((s) => s.name.length));
  const lines = subcommands.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`);
  return [
    `Usage: ${PROGRAM} <subcommand> [options]`,
    "",
    "Highly available virtual IPs for Kubernetes Services with keepalived (VRRP).",
    "",
    "Subcommands:",
    ...lines,
    "",
    `Run '${PROGRAM} <subcommand> --help' for the options of a subcommand,`,
    `'${PROGRAM} --version' for the version and commit of this build.`,
    "",
  ].join("\n");
}

function errorLines(messages: string[]): string {
  return messages.map((m) => `error: ${m}\n`).join("");
}

async function runSubcommand(sub: Subcommand, argv: string[], out: Output): Promise<number> {
  try {
    const mod = await sub.load();
    return await mod.run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      out.stderr(`${errorLines([e.message])}Run '${PROGRAM} ${sub.name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    if (e instanceof InputError) {
      out.stderr(errorLines(e.messages));
      return EXIT_FAILURE;
    }
    // No stack trace for users: the message is what they can act on.
    out.stderr(errorLines([e instanceof Error ? e.message : String(e)]));
    return EXIT_FAILURE;
  }
}

/**
 * Runs the command line `argv` (without node and the script): `--help`,
 * `help [subcommand]`, or a subcommand with its arguments. Resolves to the
 * exit status: 0 success, 1 failure or bad input, 2 usage error.
 */
export async function runMain(subcommands: readonly Subcommand[], argv: string[], out: Output = processOutput): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    out.stderr(renderUsage(subcommands));
    return EXIT_USAGE;
  }
  if (first === "-h" || first === "--help" || (first === "help" && rest.length === 0)) {
    out.stdout(renderUsage(subcommands));
    return 0;
  }
  if (first === "--version" || first === "version") {
    out.stdout(versionLine(PROGRAM));
    return 0;
  }
  const name = first === "help" ? (rest[0] ?? "") : first;
  const args = first === "help" ? ["--help"] : rest;
  const sub = subcommands.find((s) => s.name === name);
  if (!sub) {
    const what = name.startsWith("-") ? `unknown option ${JSON.stringify(name)}` : `unknown subcommand ${JSON.stringify(name)}`;
    out.stderr(`${errorLines([what])}Run '${PROGRAM} --help' for the subcommands.\n`);
    return EXIT_USAGE;
  }
  return runSubcommand(sub, args, out);
}
