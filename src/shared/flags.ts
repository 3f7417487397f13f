// Command-line flag tables, shared by `operator` and `agent`: one row per flag
// (name, env var, default, help), the node:util parseArgs options and the
// --help text built from it, and the flag > env var > default lookup. Pure.

/** One command-line flag. */
export interface FlagDef {
  /** Flag name without dashes (for the operator also the key in its config file). */
  name: string;
  /** Environment variable read when the flag is not given; none when undefined. */
  env?: string;
  /** Shown in --help and used when neither flag nor env var is set; undefined when there is none. */
  default?: string;
  help: string;
  /** May be given more than once (a list). */
  multiple?: boolean;
}

/** node:util parseArgs options of a flag table: every flag takes a string value. */
export type FlagParseOptions = Record<string, { type: "string"; multiple?: boolean }>;

/** The parseArgs options of `flags` (every flag a string, repeatable ones lists). */
export function flagParseOptions(flags: readonly FlagDef[]): FlagParseOptions {
  return Object.fromEntries(flags.map((f) => [f.name, f.multiple ? { type: "string", multiple: true } : { type: "string" }]));
}

/** One option of --help: `  --name` on its own line, the description indented by six spaces with default and env var in parentheses. */
function flagHelpRow(f: FlagDef): string {
  const extra = [f.default !== undefined ? `default ${JSON.stringify(f.default)}` : "", f.env !== undefined ? `env ${f.env}` : ""]
    .filter((s) => s !== "")
    .join("; ");
  return `  --${f.name}${f.multiple ? " (repeatable)" : ""}\n      ${f.help}${extra !== "" ? ` (${extra})` : ""}`;
}

/** What a command's --help says besides its flags. */
export interface CommandHelp {
  /** e.g. "keepalived-vip agent". */
  command: string;
  /** Lines describing the command (and how its settings are looked up). */
  about: string[];
  flags: readonly FlagDef[];
  /** Lines after the options (value formats). */
  notes?: string[];
}

/** Exit status line of the long-running commands (operator, agent). */
export const EXIT_STATUS_NOTE = "Exit status: 0 after SIGTERM/SIGINT, 1 on a failure, 2 on a usage error.";

/** The --help text of a command: usage, about, one block per option, notes. */
export function renderCommandHelp(h: CommandHelp): string {
  const notes = h.notes && h.notes.length > 0 ? ["", ...h.notes] : [];
  return [
    `Usage: ${h.command} [options]`,
    "",
    ...h.about,
    "",
    "Options:",
    ...h.flags.map(flagHelpRow),
    "  -h, --help\n      Show this help",
    ...notes,
    "",
  ].join("\n");
}

/** Where a flag's value came from, for error messages: "--name" or "--name (from ENV)". */
export interface FlagValue {
  value?: string;
  origin: string;
}

/**
 * The value of one single-valued flag by precedence: the flag as given, else
 * its env var (an empty env var counts as unset), else its default.
 */
export function lookupFlag(f: FlagDef, given: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>): FlagValue {
  const flag = given[f.name];
  if (typeof flag === "string") return { value: flag, origin: `--${f.name}` };
  const fromEnv = f.env !== undefined ? env[f.env] : undefined;
  if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, origin: `--${f.name} (from ${f.env})` };
  return { ...(f.default !== undefined ? { value: f.default } : {}), origin: `--${f.name}` };
}
