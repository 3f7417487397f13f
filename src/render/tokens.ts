// Safety net between planned values and keepalived.conf text: every value
// that reaches the file passes through here. Pure.

/** Characters keepalived's parser treats as syntax: whitespace, braces, comments, quotes, variables. */
const UNSAFE = /[\s{}#!"'$\\]/;

/**
 * Returns `value` when it is safe as one keepalived token; throws otherwise.
 * A throw here is a bug in the renderer (inputs are validated before), never
 * a user error. With `secret`, the message does not echo the value.
 */
export function token(value: string | number, what: string, secret = false): string {
  const s = String(value);
  if (s.length === 0 || UNSAFE.test(s) || !/^[\x21-\x7e]+$/.test(s)) {
    const shown = secret ? "<redacted>" : JSON.stringify(s);
    throw new Error(`Refusing to render unsafe keepalived token for ${what}: ${shown}`);
  }
  return s;
}

/** An integer in [min, max] as a token; throws otherwise (a bug, not user input). */
export function intToken(value: number, what: string, range: [number, number]): string {
  if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
    throw new Error(`Refusing to render ${what} ${String(value)}: not an integer in ${range[0]}..${range[1]}`);
  }
  return String(value);
}

/** `s` reduced to `[A-Za-z0-9_.-]` (other characters become `_`), at most 253 characters; "_" when empty. */
export function sanitizeName(s: string): string {
  const out = s.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 253);
  return out === "" ? "_" : out;
}

/** A comment line whose text is reduced to safe characters (no newline can slip through). */
export function commentText(s: string): string {
  return s.replace(/[^A-Za-z0-9_.,:/=() -]/g, "_");
}

/** One line of keepalived.conf as this renderer writes it. */
const LINE = /^(?: {4})*(?:# [\x20-\x7e]*|\}|[^\s{}#!"'$\\]+(?: [^\s{}#!"'$\\]+)*(?: \{)?)$/;

/**
 * Checks the shape of a whole config: every line is blank, a comment, a
 * closing brace, or tokens separated by single spaces with an optional
 * opening brace, and braces balance. Throws on anything else (a bug).
 */
export function assertConfigShape(text: string): void {
  let depth = 0;
  text.split("\n").forEach((line, i) => {
    if (line === "") return;
    if (!LINE.test(line) || /[^\x20-\x7e]/.test(line)) throw new Error(`Refusing to emit keepalived.conf: line ${i + 1} is malformed`);
    if (line.trimStart().startsWith("#")) return;
    if (line.endsWith("{")) depth++;
    if (line.trim() === "}") depth--;
    if (depth < 0) throw new Error(`Refusing to emit keepalived.conf: unbalanced "}" at line ${i + 1}`);
  });
  if (depth !== 0) throw new Error("Refusing to emit keepalived.conf: unbalanced braces");
}
