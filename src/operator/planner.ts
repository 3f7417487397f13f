// Incremental status planning: after a planning pass, which VirtualIPs' status
// plans can have changed. A VirtualIP's status reads from a render only its
// own plan entry (address, router id, pool, claim, instance, nodes, advert
// interval), its problems and its parse error; a VirtualIP none of these
// changed for is not planned again (its own object changing, an agent
// coming or going, and timers mark it by other paths: reconciler.ts). Pure.
import type { ClusterPlan, Problem } from "../render/index.js";

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
  private invalid: ReadonlySet<string> = new Set();

  /**
   * The VirtualIPs whose status inputs from the render changed since the last
   * call, plus `always` (e.g. those being deleted). `only`, when given, holds
   * every VirtualIP whose plan entry or problems the render may have changed
   * (the renderer's session knows them); the others are not looked at.
   */
  changed(r: RenderedStatusInputs, always: Iterable<string> = [], only?: ReadonlySet<string>): DirtyStatuses {
    const previous = this.fingerprints;
    const invalid = this.invalid;
    this.invalid = new Set(r.invalid.keys());
    if (previous === undefined || only === undefined) return this.compareAll(r, always, previous);
    const out = new Set<string>(always);
    for (const key of new Set([...only, ...invalid, ...r.invalid.keys()])) {
      const f = statusInputsFingerprint(r, key);
      if ((previous.get(key) ?? "") === f) continue;
      out.add(key);
      if (f === "") previous.delete(key);
      else previous.set(key, f);
    }
    return out;
  }

  private compareAll(r: RenderedStatusInputs, always: Iterable<string>, previous: Map<string, string> | undefined): DirtyStatuses {
    const next = new Map<string, string>();
    const keys = new Set<string>([...Object.keys(r.plan.virtualIPs), ...r.problems.keys(), ...r.invalid.keys()]);
    for (const key of keys) {
      const f = statusInputsFingerprint(r, key);
      if (f !== "") next.set(key, f);
    }
    this.fingerprints = next;
    if (previous === undefined) return "all";
    const out = new Set<string>(always);
    for (const [key, f] of next) if (previous.get(key) !== f) out.add(key);
    for (const key of previous.keys()) if (!next.has(key)) out.add(key);
    return out;
  }
}
