// Go-style duration text ("15s", "500ms", "1m30s") for flags and config
// files of both the operator and the agent. Pure.

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const DURATION = /^(\d+(?:\.\d+)?(ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration ("15s", "500ms", "1m30s") into milliseconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!DURATION.test(s)) return undefined;
  let ms = 0;
  for (const m of s.matchAll(DURATION_PART)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 0);
  return Math.round(ms);
}

/**
 * A duration given to a command: text with a unit ("500ms", "3s", "1m"; a
 * bare "15" is refused, as Kubernetes' own flags refuse it), or a number of
 * seconds (a YAML number in a config file); undefined when it is neither.
 */
export function parseFlagDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? Math.round(value * 1000) : undefined;
  return parseDuration(value);
}
