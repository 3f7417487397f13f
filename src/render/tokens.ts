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

/**
 * One line of keepalived.conf as this renderer writes it: indentation by 4
 * spaces, then a comment, a closing brace, or tokens separated by single
 * spaces with an optional opening brace; printable ASCII only (a token
 * character is printable, not a space and not syntax).
 */
const STRICT_LINE_BODY = String.raw`(?: {4})*(?:# [\x20-\x7e]*|\}|[^\x00-\x20\x7f-\uffff{}#!"'$\\]+(?: [^\x00-\x20\x7f-\uffff{}#!"'$\\]+)*(?: \{)?)`;
/** The first line, when it is neither empty nor a strict LINE. */
const FIRST_MALFORMED = new RegExp(String.raw`^(?!(?:${STRICT_LINE_BODY})?(?:\n|$))`);
/** A line break followed by a line that is neither empty nor a strict LINE. */
const NEXT_MALFORMED = new RegExp(String.raw`\n(?!(?:${STRICT_LINE_BODY})?(?:\n|$))`);

/** 0-based number of the line starting at `index` of `text`. */
function lineAt(text: string, index: number): number {
  let line = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * 0-based number of the first line of `text` that does not match LINE or
 * holds a character outside printable ASCII, -1 when there is none: one
 * regex pass over the whole text.
 */
function firstMalformedLine(text: string): number {
  if (FIRST_MALFORMED.test(text)) return 0;
  const m = NEXT_MALFORMED.exec(text);
  return m ? lineAt(text, m.index + 1) : -1;
}

/** Brace depth change of a well-formed line text[start, end): +1 for "... {", -1 for "}", 0 otherwise. */
function braceDelta(text: string, start: number, end: number): number {
  let i = start;
  while (i < end && text.charCodeAt(i) === 0x20) i++;
  const first = text.charCodeAt(i);
  if (first === 0x23) return 0; // "#": a comment
  if (first === 0x7d) return -1; // "}": alone on a well-formed line
  return text.charCodeAt(end - 1) === 0x7b ? 1 : 0; // "{"
}

/**
 * Checks that every line of `text` is blank or a LINE (see
 * STRICT_LINE_BODY); throws on the first that is not (a bug). Text made of
 * checked pieces joined by line breaks needs no second check.
 */
export function assertLines(text: string): void {
  const bad = firstMalformedLine(text);
  if (bad >= 0) throw new Error(`Refusing to emit keepalived.conf: line ${bad + 1} is malformed`);
}

/** Checks that the braces of `text` (whose lines are all well-formed) balance; throws otherwise (a bug). */
export function assertBalanced(text: string): void {
  let depth = 0;
  let line = 0;
  for (let start = 0; start <= text.length; line++) {
    const next = text.indexOf("\n", start);
    const end = next < 0 ? text.length : next;
    if (end > start) depth += braceDelta(text, start, end);
    if (depth < 0) throw new Error(`Refusing to emit keepalived.conf: unbalanced "}" at line ${line + 1}`);
    start = end + 1;
  }
  if (depth !== 0) throw new Error("Refusing to emit keepalived.conf: unbalanced braces");
}

/**
 * Checks the shape of a whole config: every line is blank, a comment, a
 * closing brace, or tokens separated by single spaces with an optional
 * opening brace, and braces balance. Throws on anything else (a bug).
 */
export function assertConfigShape(text: string): void {
  assertLines(text);
  assertBalanced(text);
}
