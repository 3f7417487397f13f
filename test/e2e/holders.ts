// Who holds an address, followed in every node namespace at once: one
// `ip monitor address` per node reports each add and delete as it happens,
// so two nodes holding the VIP together (a double claim) is measured to the
// millisecond rather than sampled. Shared by the e2e tier and the failover
// benchmark. Does I/O.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Env } from "./env.js";
import { monotonicNow } from "../support/clock.js";

/** One address change seen in a node. */
export interface HolderEvent {
  at: number;
  node: string;
  address: string;
  added: boolean;
}

/** A running monitor of every node's addresses. */
export interface HolderMonitor {
  readonly events: HolderEvent[];
  /** Time (ms) within [from, to] during which two or more nodes held `address`. */
  doubleClaimMs(address: string, from: number, to: number): number;
  /** Time (ms) within [from, to] during which no node held `address`. */
  unheldMs(address: string, from: number, to: number): number;
  stop(): void;
}

/** The address of an `ip -o monitor address` line and whether it was deleted; undefined for other lines. */
export function parseMonitorLine(line: string): { address: string; added: boolean } | undefined {
  const m = /^(Deleted\s+)?\d+:\s+\S+\s+inet6?\s+([0-9a-fA-F:.]+)\//.exec(line.trim());
  return m?.[2] ? { address: m[2], added: m[1] === undefined } : undefined;
}

/** Starts one monitor per node and reads who holds `addresses` now, so every later change is relative to a known start. */
export async function startHolderMonitor(env: Env, addresses: readonly string[]): Promise<HolderMonitor> {
  const events: HolderEvent[] = [];
  const children: ChildProcess[] = [];
  for (const n of env.nodes.nodes) {
    const child = spawn("ip", ["-n", n.netns, "-o", "monitor", "address"], { stdio: ["ignore", "pipe", "ignore"] });
    children.push(child);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const got = parseMonitorLine(line);
      if (got) events.push({ at: monotonicNow(), node: n.name, ...got });
    });
  }
  // The monitors are listening once they are spawned and a moment has passed; then the starting state.
  await new Promise((r) => setTimeout(r, 200));
  const t0 = monotonicNow();
  for (const a of addresses) for (const node of await env.holders(a)) events.push({ at: t0, node, address: a, added: true });
  events.sort((x, y) => x.at - y.at);

  /** Sum of the time within [from, to] where the holder count of `address` satisfies `pred`. */
  const measure = (address: string, from: number, to: number, pred: (count: number) => boolean): number => {
    const held = new Set<string>();
    let total = 0;
    let since = from;
    const list = events.filter((e) => e.address === address).sort((x, y) => x.at - y.at);
    for (const e of list) {
      if (e.at > to) break;
      if (e.at > from && pred(held.size)) total += e.at - Math.max(since, from);
      if (e.at > from) since = e.at;
      if (e.added) held.add(e.node);
      else held.delete(e.node);
    }
    if (pred(held.size)) total += to - Math.max(since, from);
    return total;
  };
  return {
    events,
    doubleClaimMs: (address, from, to) => measure(address, from, to, (c) => c >= 2),
    unheldMs: (address, from, to) => measure(address, from, to, (c) => c === 0),
    stop() {
      for (const c of children) c.kill("SIGTERM");
    },
  };
}
