// Who holds a VirtualIP's address, as far as failover counting is concerned,
// and when the holder changes: one fault, one failover. Pure.
//
// A failover is a change of holder. The holder is the node that was last the
// only live MASTER for a settle period (two advert intervals plus a margin for
// reports), measured on the operator's clock. Moments with no MASTER, or with
// two (a double claim, or a MASTER whose agent has not reported its loss yet),
// change no holder; neither does a node that is MASTER alone for less than the
// settle period. So a takeover that passes through a double claim counts once,
// and a flap back to the holder (MASTER, BACKUP, MASTER) counts not at all.
// See docs/architecture.md, "What counts as a failover".

/** Margin on top of two advert intervals before a new sole MASTER becomes the holder (report delays). */
export const HOLDER_SETTLE_MARGIN_MS = 1000;

/** What the operator remembers about one VirtualIP's holder between plans. */
export interface HolderMemory {
  /** The node that holds the address for counting; "" before the first election. */
  holder: string;
  /** Another node seen as the only live MASTER, since when (operator clock, epoch ms). */
  pending?: { node: string; since: number };
}

/** The settle period for an advert interval: 2 intervals plus {@link HOLDER_SETTLE_MARGIN_MS}. */
export function holderSettleMs(advertIntervalMs: number): number {
  return 2 * advertIntervalMs + HOLDER_SETTLE_MARGIN_MS;
}

/** Result of {@link planHolder}. */
export interface HolderPlan {
  next: HolderMemory;
  /** Set when this plan counts a failover: from the old holder to the new one, at the time the new one was first seen alone. */
  failover?: { from: string; to: string; at: number };
  /** Plan again at this time (a pending holder settles then). */
  recheckAt?: number;
}

/**
 * Decides the holder after seeing `soleMaster` (the only live MASTER, "" when
 * there is none or more than one) at `now`. Without memory (a new operator
 * leader), the holder is taken from `seed` (the status' master) or, failing
 * that, from the sole MASTER; that first sight counts no failover.
 */
export function planHolder(input: { memory: HolderMemory | undefined; seed: string; soleMaster: string; now: number; settleMs: number }): HolderPlan {
  const { soleMaster, now, settleMs } = input;
  const memory = input.memory ?? { holder: input.seed || soleMaster };
  const holder = memory.holder;
  if (soleMaster === "" || soleMaster === holder) return { next: { holder } };
  if (holder === "") return { next: { holder: soleMaster } };
  const pending = memory.pending?.node === soleMaster ? memory.pending : { node: soleMaster, since: now };
  if (now - pending.since >= settleMs) return { next: { holder: soleMaster }, failover: { from: holder, to: soleMaster, at: pending.since } };
  return { next: { holder, pending }, recheckAt: pending.since + settleMs };
}
