// Who carries an address, at every moment: `ip -ts monitor address` in every
// node namespace reports each address added or deleted with the kernel
// event's time (every change, not samples), so two nodes carrying one address
// at the same time (a double claim) is seen however short it is. Does I/O.
import { createInterface } from "node:readline";
import { sleep } from "../support/process.js";
import type { NodeProcess } from "../support/index.js";
import type { Env } from "./env.js";
import { fromWallClock, monotonicNow } from "../support/clock.js";

/** One node carrying one address from `from` to `to` (ms since the epoch; `to` undefined: still carries it). */
export interface Claim {
  node: string;
  address: string;
  from: number;
  to?: number;
}

/** Two nodes carrying one address at once. */
export interface DoubleClaim {
  address: string;
  nodes: [string, string];
  from: number;
  to: number;
}

/** A running monitor of the nodes' addresses. */
export interface ClaimMonitor {
  /** Every claim of `address` seen (initial ones start when the monitor started). */
  claims(address: string): Claim[];
  /** Overlapping claims of any watched address within [from, to]. */
  doubleClaims(from: number, to: number): DoubleClaim[];
  /** Who carries `address` at time `at`. */
  holdersAt(address: string, at: number): string[];
  stop(): Promise<void>;
}

/** `[2026-12-04T20:53:54.123456] Deleted 2: eth0    inet 192.0.2.60/32 scope global eth0` (with TZ=UTC). */
const LINE = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\]\s+(Deleted\s+)?\d+:\s+\S+\s+inet6?\s+([0-9a-fA-F.:]+)\//;

/** Parses one `ip -ts -o monitor address` line (ip run with TZ=UTC). Pure. */
export function parseMonitorLine(line: string): { at: number; address: string; deleted: boolean } | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [, secs = "", micros = "0", deleted, address = ""] = m;
  return { at: Date.parse(`${secs}Z`) + Number(micros) / 1000, address, deleted: deleted !== undefined };
}

/** Starts a monitor in every node namespace for `addresses`; resolves once each runs and the current holders are recorded. */
export async function startClaimMonitor(env: Env, addresses: readonly string[]): Promise<ClaimMonitor> {
  const watched = new Set(addresses);
  const claims: Claim[] = [];
  const open = (node: string, address: string): Claim | undefined => claims.find((c) => c.node === node && c.address === address && c.to === undefined);
  const procs: NodeProcess[] = [];
  const started: Promise<void>[] = [];
  for (const node of env.nodeNames) {
    const proc = env.nodes.spawn(node, "ip", ["-ts", "-o", "monitor", "address"], { pipe: true, env: { ...process.env, TZ: "UTC" } });
    procs.push(proc);
    proc.child.stderr?.resume();
    createInterface({ input: proc.child.stdout! }).on("line", (line) => {
      const parsed = parseMonitorLine(line);
      if (!parsed || !watched.has(parsed.address)) return;
      // ip stamps lines with the wall clock; compare on the monotonic one (read as the line arrives).
      const ev = { ...parsed, at: fromWallClock(parsed.at) };
      const cur = open(node, ev.address);
      if (ev.deleted) {
        if (cur) cur.to = ev.at;
      } else if (!cur) claims.push({ node, address: ev.address, from: ev.at });
    });
    started.push(
      new Promise((resolve, reject) => {
        proc.child.once("spawn", () => resolve());
        proc.child.once("error", reject);
      }),
    );
  }
  await Promise.all(started);
  // ip needs a moment to subscribe after exec; then the current holders are the claims already open.
  await sleep(300);
  const t = monotonicNow();
  for (const address of watched) {
    for (const node of await env.holders(address)) if (!open(node, address)) claims.push({ node, address, from: t });
  }
  const sorted = (address: string): Claim[] => claims.filter((c) => c.address === address).sort((a, b) => a.from - b.from);
  return {
    claims: sorted,
    holdersAt(address, at) {
      return sorted(address)
        .filter((c) => c.from <= at && (c.to === undefined || c.to > at))
        .map((c) => c.node);
    },
    doubleClaims(from, to) {
      const out: DoubleClaim[] = [];
      for (const address of watched) {
        const list = sorted(address);
        for (let i = 0; i < list.length; i++) {
          for (let j = i + 1; j < list.length; j++) {
            const a = list[i]!;
            const b = list[j]!;
            if (a.node === b.node) continue;
            const start = Math.max(a.from, b.from, from);
            const end = Math.min(a.to ?? Infinity, b.to ?? Infinity, to);
            if (end > start) out.push({ address, nodes: [a.node, b.node], from: start, to: end });
          }
        }
      }
      return out;
    },
    async stop() {
      await Promise.allSettled(procs.map((p) => p.stop(1_000)));
    },
  };
}
