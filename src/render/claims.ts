// Claims: who held an address first. A VirtualIP's claim (status.claim) is
// recorded by the operator when it first becomes usable with its address and
// router id; a conflict goes to the oldest claim, not the oldest object, so
// editing an old VirtualIP onto a live address never evicts the holder. Pure.
import type { VirtualIP } from "../api/index.js";
import { compareAge, timestampMs } from "./order.js";

/** Default time a claim outlives its VirtualIP being unusable (its Service missing, refused, ...). */
export const DEFAULT_CLAIM_GRACE_MS = 5 * 60 * 1000;

/** How strong a VirtualIP's hold on its address is: 0 claimed now, 1 claimed before its last edit, 2 no claim. */
export interface ClaimRank {
  tier: 0 | 1 | 2;
  /** When the claim was made (epoch ms); Infinity without one. */
  time: number;
}

/**
 * Whether the VirtualIP has been unusable for longer than the grace period
 * (then its claim is void): the operator records in the claim since when it
 * has not been rendered (`unusableSince`), and clears that once it is again.
 */
export function claimExpired(vip: VirtualIP, now: number | undefined, graceMs: number): boolean {
  const at = claimExpiresAt(vip, graceMs);
  return now !== undefined && at !== undefined && at < now;
}

/** The last moment (epoch ms) an unusable VirtualIP's claim holds: `unusableSince` plus the grace period; undefined while it is usable. */
export function claimExpiresAt(vip: VirtualIP, graceMs: number): number | undefined {
  const since = vip.status?.claim?.unusableSince;
  const t = since !== undefined ? Date.parse(since) : NaN;
  return Number.isNaN(t) ? undefined : t + graceMs;
}

/** The rank of a VirtualIP's claim on `address` and `virtualRouterId`. */
export function claimRank(vip: VirtualIP, address: string, virtualRouterId: number | undefined, opts: { now?: number; graceMs: number }): ClaimRank {
  const claim = vip.status?.claim;
  if (!claim || claim.address !== address || claim.virtualRouterId !== virtualRouterId) return { tier: 2, time: Infinity };
  if (claimExpired(vip, opts.now, opts.graceMs)) return { tier: 2, time: Infinity };
  const time = timestampMs(claim.time);
  return { tier: claim.generation === (vip.metadata.generation ?? 0) ? 0 : 1, time };
}

/** Conflict order: a claim made now, then a claim from before an edit, then none; older claims first; then the older object. */
export function compareClaims(a: { vip: VirtualIP; rank: ClaimRank }, b: { vip: VirtualIP; rank: ClaimRank }): number {
  if (a.rank.tier !== b.rank.tier) return a.rank.tier - b.rank.tier;
  if (a.rank.time !== b.rank.time) return a.rank.time < b.rank.time ? -1 : 1;
  return compareAge(a.vip, b.vip);
}
