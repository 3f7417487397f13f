// What every subcommand module shares: its shape, the two kinds of failure
// that set the exit status, and argument parsing on node:util. Pure.
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A subcommand module, src/cli/<name>.ts. */
export interface CommandModule {
  /**
   * Runs the subcommand with the arguments after its name; resolves to the
   * exit status once the work is done (and every handle it opened is closed).
   * May throw {@link UsageError} or {@link InputError}.
   */
  run(argv: string[]): Promise<number>;
}

/** The program name users type. */
export const PROGRAM = "keepalived-vip";

/** Exit status of a usage error (bad flags, missing arguments). */
export const EXIT_USAGE = 2;
/** Exit status of bad input (unreadable files, invalid objects) or a failure while running. */
export const EXIT_FAILURE = 1;

/** The command line is wrong: the message says what, and the usage hint follows it. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The input is wrong: one message per problem, each naming the file, object and field. */
export class InputError extends Error {
  readonly messages: string[];
  constructor(messages: string[]) {
    super(messages.join("\n"));
    this.name = "InputError";
    this.messages = messages;
  }
}

/** node:util parseArgs error codes that mean a usage mistake. */
function isParseArgsError(e: unknown): e is Error {
  const code = (e as { code?: unknown } | null)?.code;
  return e instanceof Error && typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_");
}

/**
 * Parses `argv` strictly with node:util (unknown flags, missing values and
 * stray positionals are {@link UsageError}s). Every command gets `-h/--help`.
 */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig["options"]>>(
  argv: string[],
  options: O,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: { type: "boolean"; short: "h" } }; strict: true; allowPositionals: boolean }>> {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals });
  } catch (e) {
    if (isParseArgsError(e)) throw new UsageError(e.message.replace(/\. To specify a positional argument.*$/s, ""));
    throw e;
  }
}

/** Resolves when the process receives SIGTERM or SIGINT. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
      resolve(sig);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
}
