// What the reconciler remembers per VirtualIP between passes: the holder
// failovers are counted from, the Ready reason and Conflict (for the gauges), the next recheck. Pure.
import { CONDITION_CONFLICT, ReadyReason } from "../api/index.js";
import type { HolderMemory } from "./holder.js";
import type { StatusPlan } from "./status.js";

/** Per-VirtualIP memory, keyed by "namespace/name"; forgotten when the VirtualIP is gone. */
export class VirtualIPMemory {
  /** The holder failovers are counted from (holder.ts); kept once a status plan is applied or needs no write. */
  readonly holders = new Map<string, HolderMemory>();
  private readonly readyReasons = new Map<string, string>();
  /** How many VirtualIPs have each Ready reason in `readyReasons`, kept as it changes (a pass reads it whole). */
  private readonly byReason = new Map<string, number>(Object.values(ReadyReason).map((r) => [r, 0]));
  private readonly conflicted = new Set<string>();
  private readonly recheckAt = new Map<string, number>();

  /** Notes what a diff planned for `key` (the holder only when the plan writes nothing: a write decides it when it lands). */
  note(key: string, sp: StatusPlan): void {
    this.setReason(key, sp.readyReason);
    const conflict = sp.summary.conditions.find((c) => c.type === CONDITION_CONFLICT)?.status === "True";
    if (conflict) this.conflicted.add(key);
    else this.conflicted.delete(key);
    if (sp.recheckAt !== undefined) this.recheckAt.set(key, sp.recheckAt);
    else this.recheckAt.delete(key);
    if (!sp.changed) this.holders.set(key, sp.holder);
  }

  forget(key: string): void {
    this.holders.delete(key);
    this.setReason(key, undefined);
    this.conflicted.delete(key);
    this.recheckAt.delete(key);
  }

  private setReason(key: string, reason: string | undefined): void {
    const was = this.readyReasons.get(key);
    if (was === reason) return;
    if (was !== undefined) this.byReason.set(was, (this.byReason.get(was) ?? 0) - 1);
    if (reason === undefined) this.readyReasons.delete(key);
    else {
      this.readyReasons.set(key, reason);
      this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    }
  }

  /** VirtualIPs by Ready reason (every reason, 0 included) and how many are in conflict. */
  counts(): { byReason: ReadonlyMap<string, number>; conflicts: number } {
    return { byReason: this.byReason, conflicts: this.conflicted.size };
  }

  /** The earliest time some VirtualIP asked to be checked again (Infinity: none), and which ones asked. */
  nextRecheck(): { at: number; keys: string[] } {
    let at = Infinity;
    for (const t of this.recheckAt.values()) at = Math.min(at, t);
    return { at, keys: [...this.recheckAt.keys()] };
  }
}
