// Incremental status planning: after a planning pass, which VirtualIPs' status
// plans can have changed. A VirtualIP's status reads from a render only its
// own plan entry (address, router id, pool, claim, instance, nodes, advert
// interval), its problems and its parse error; a VirtualIP none of these
// changed for is not planned again (its own object changing, an agent
// coming or going, and timers mark it by other paths: reconciler.ts). Pure.
import type { ClusterPlan, Problem } from "../render/index.js";

/**
 * How long after its own status write (a claim or allocation the last render
 * decided) the operator plans again. Such a write is an input of the next
 * render, but nothing waits for that render: a later change coalesces with
 * it, so a burst of updates is not rendered twice per update.
 */
export const OWN_STATUS_REPLAN_MS = 250;

/**
 * A render put off: the operator's own status writes mark the render due
 * OWN_STATUS_REPLAN_MS later instead of at once; any render before then
 * covers it.
 */
export class DeferredRender {
  private dueAt: number | undefined;

  /** Due at `at`, or earlier if already due earlier. */
  defer(at: number): void {
    this.dueAt = Math.min(this.dueAt ?? Infinity, at);
  }

  /** When the put-off render is due; undefined when none is. */
  get at(): number | undefined {
    return this.dueAt;
  }

  /** Whether the put-off render is due at `now`. */
  due(now: number): boolean {
    return this.dueAt !== undefined && this.dueAt <= now;
  }

  /** A render ran: nothing is put off any more. */
  clear(): void {
    this.dueAt = undefined;
  }
}

/** What a planning pass decided that VirtualIP statuses read. */
export interface RenderedStatusInputs {
  plan: Pick<ClusterPlan, "virtualIPs">;
  /** VirtualIP key -> its problems. */
  problems: ReadonlyMap<string, readonly Problem[]>;
  /** VirtualIP key -> its parse error. */
  invalid: ReadonlyMap<string, string>;
}

/** The VirtualIPs to plan statuses for: a set of keys, or every VirtualIP. */
export type DirtyStatuses = Set<string> | "all";

/** The fingerprint of what a render decided for one VirtualIP; "" when it decided nothing. */
export function statusInputsFingerprint(r: RenderedStatusInputs, key: string): string {
  const entry = r.plan.virtualIPs[key];
  const problems = r.problems.get(key);
  const invalid = r.invalid.get(key);
  if (entry === undefined && problems === undefined && invalid === undefined) return "";
  return JSON.stringify([entry ?? null, problems ?? null, invalid ?? null]);
}

/** Both sets of marks in one: "all" wins. */
export function unionDirty(a: DirtyStatuses, b: DirtyStatuses): DirtyStatuses {
  if (a === "all" || b === "all") return "all";
  for (const k of b) a.add(k);
  return a;
}

/**
 * Remembers, per VirtualIP, the fingerprint of what the last render decided
 * for it, and tells after each render which ones differ. The first render
 * (nothing remembered) marks every VirtualIP.
 */
export class StatusInputIndex {
  private fingerprints: Map<string, string> | undefined;

  /** The VirtualIPs whose status inputs from the render changed since the last call, plus `always` (e.g. those being deleted). */
  changed(r: RenderedStatusInputs, always: Iterable<string> = []): DirtyStatuses {
    const next = new Map<string, string>();
    const keys = new Set<string>([...Object.keys(r.plan.virtualIPs), ...r.problems.keys(), ...r.invalid.keys()]);
    for (const key of keys) next.set(key, statusInputsFingerprint(r, key));
    const previous = this.fingerprints;
    this.fingerprints = next;
    if (previous === undefined) return "all";
    const out = new Set<string>(always);
    for (const [key, f] of next) if (previous.get(key) !== f) out.add(key);
    for (const key of previous.keys()) if (!next.has(key)) out.add(key);
    return out;
  }
}
