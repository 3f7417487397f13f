// Master selection from the agents' status entries, split-brain timing and
// the BACKUP list: which node the status names as holding a VirtualIP. Pure.
import type { NodeStatus } from "../api/index.js";

/** Extra time on top of 3 advert intervals before two MASTERs count as split brain (reporting delay, clock skew). */
export const SPLIT_BRAIN_MARGIN_MS = 2000;

/** Reasons of the SplitBrain condition. */
export const SplitBrainReason = {
  MultipleMasters: "MultipleMasters",
  NoSplitBrain: "NoSplitBrain",
} as const;

/** Result of master selection. */
export interface MasterPlan {
  master: string;
  /** Live nodes reporting MASTER, sorted by `since`, newest first. */
  masters: string[];
  /** True once two live MASTERs overlapped longer than the split-brain threshold. */
  splitBrain: boolean;
  /** When a pending overlap turns into split brain (to check again then). */
  splitBrainAt?: number;
}

function sinceMs(e: NodeStatus, fallback: number): number {
  const t = e.since ? Date.parse(e.since) : NaN;
  return Number.isNaN(t) ? fallback : t;
}

/** The split-brain threshold: 3 advert intervals plus {@link SPLIT_BRAIN_MARGIN_MS}. */
export function splitBrainThresholdMs(advertIntervalMs: number): number {
  return 3 * advertIntervalMs + SPLIT_BRAIN_MARGIN_MS;
}

/**
 * Picks the master among the entries of taking-part, live nodes in state
 * MASTER. With several, the newest `since` wins at once (ties: name order);
 * split brain is declared only when at least two have been MASTER together
 * for longer than the threshold, and each of their agents renewed its
 * heartbeat after that: a node that lost its network still reads MASTER until
 * its Lease expires, but cannot renew it, so node loss is no split brain.
 */
export function planMaster(input: {
  entries: readonly NodeStatus[];
  participants: ReadonlySet<string>;
  isLive: (node: string) => boolean;
  /** When the node's agent last renewed its heartbeat Lease (epoch ms). Unset: not checked. */
  renewedAt?: (node: string) => number | undefined;
  now: number;
  advertIntervalMs: number;
}): MasterPlan {
  const { now } = input;
  const masters = input.entries
    .filter((e) => e.state === "MASTER" && input.participants.has(e.name) && input.isLive(e.name))
    .map((e) => ({ name: e.name, since: sinceMs(e, now) }))
    .sort((a, b) => b.since - a.since || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const master = masters[0]?.name ?? "";
  if (masters.length < 2) return { master, masters: masters.map((m) => m.name), splitBrain: false };
  // Two or more have been MASTER together since the second-oldest `since`.
  const overlapStart = [...masters].sort((a, b) => a.since - b.since)[1]?.since ?? now;
  const at = overlapStart + splitBrainThresholdMs(input.advertIntervalMs);
  const names = masters.map((m) => m.name);
  if (now < at) return { master, masters: names, splitBrain: false, splitBrainAt: at };
  const renewedAt = input.renewedAt;
  const allHeardSince = renewedAt === undefined || names.every((n) => (renewedAt(n) ?? -Infinity) >= at);
  if (allHeardSince) return { master, masters: names, splitBrain: true };
  // Wait for every MASTER's agent to prove it is alive (its next heartbeat).
  return { master, masters: names, splitBrain: false, splitBrainAt: now + SPLIT_BRAIN_RECHECK_MS };
}

/** How often a pending split brain is checked again while waiting for heartbeats. */
export const SPLIT_BRAIN_RECHECK_MS = 1000;

/** The live taking-part nodes reporting BACKUP, sorted and comma-separated. */
export function planBackups(entries: readonly NodeStatus[], participants: ReadonlySet<string>, isLive: (node: string) => boolean): string {
  return entries
    .filter((e) => e.state === "BACKUP" && participants.has(e.name) && isLive(e.name))
    .map((e) => e.name)
    .sort()
    .join(",");
}
