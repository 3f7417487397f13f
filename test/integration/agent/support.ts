// What the agent integration tests share: polling, the agents' JSON logs and
// the keepalived processes of a node.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { Nodes } from "../../support/index.js";

/** Polls `probe` until it gives a value (not undefined or false); fails with its last error after the timeout. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The JSON lines of an agent's log file (a line cut by a concurrent write is skipped). */
export function readJsonLog<T = Record<string, unknown>>(file: string | undefined): T[] {
  if (!file) return [];
  const out: T[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // a line cut by a concurrent write
    }
  }
  return out;
}

/** Pids of keepalived processes (parent and children) inside a node. */
export function keepalivedPids(nodes: Nodes, node: string): number[] {
  return nodes.pids(node).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "keepalived";
    } catch {
      return false;
    }
  });
}
