// Conflicts between VirtualIPs: the same address twice, or the same router id
// and family on the same interface of a node with settings that cannot form
// one VRRP instance (VirtualIPs of different namespaces never can). The
// oldest claim wins (claims.ts); the other is left out. A message names the
// winner and the differing fields only when the winner is in the same
// namespace: nothing of another namespace is revealed. Pure.
import { CONDITION_CONFLICT, CONDITION_READY, ConflictReason, ReadyReason } from "../api/index.js";
import { priorityOf } from "./candidates.js";
import type { Candidate } from "./candidates.js";
import { compareClaims } from "./claims.js";
import { timestampMs } from "./order.js";
import type { Problem } from "./types.js";

/** Outcome of {@link planConflicts}. */
export interface ConflictPlan {
  /** Candidates that claim and lost no conflict, oldest first. */
  accepted: Candidate[];
  /** Two problems per loser: the Conflict condition and Ready reason Conflict. */
  problems: Problem[];
}

function isEmpty(o: Record<string, number> | undefined): boolean {
  if (o === undefined) return true;
  for (const _ in o) return false;
  return true;
}

function authEqual(a: Candidate, b: Candidate): boolean {
  if (a.auth.kind !== b.auth.kind) return false;
  return a.auth.kind !== "pass" || b.auth.kind !== "pass" || a.auth.password === b.auth.password;
}

function prioritiesEqual(a: Candidate, b: Candidate): boolean {
  // Without spec.vrrp.priorities every node has the default priority in both.
  if (isEmpty(a.vip.spec.vrrp.priorities) && isEmpty(b.vip.spec.vrrp.priorities)) return true;
  const nodes = new Set([...a.nodes, ...b.nodes]);
  return [...nodes].every((n) => priorityOf(a.vip, n) === priorityOf(b.vip, n));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The fields in which two candidates differ so that they cannot share one
 * VRRP instance; empty when they can. The auth password is compared by
 * content (what goes on the wire), not by which Secret holds it.
 */
export function differingFields(a: Candidate, b: Candidate): string[] {
  const out: string[] = [];
  if (a.namespace !== b.namespace) out.push("metadata.namespace");
  if (a.interfaceSpec !== b.interfaceSpec) out.push("spec.interface");
  if (!sameList(a.nodes, b.nodes)) out.push("spec.nodeSelector");
  if (a.version !== b.version) out.push("spec.vrrp.version");
  if (a.advertIntervalMs !== b.advertIntervalMs) out.push("spec.vrrp.advertisementInterval");
  if (a.preempt !== b.preempt) out.push("spec.vrrp.preempt");
  if (a.preemptDelayMs !== b.preemptDelayMs) out.push("spec.vrrp.preemptDelay");
  if (a.unicast !== b.unicast) out.push("spec.vrrp.unicast");
  if (!prioritiesEqual(a, b)) out.push("spec.vrrp.priorities");
  if (!authEqual(a, b)) out.push("spec.vrrp.authSecretRef");
  return out;
}

/** First node (in name order) where both use the same router id on the same interface. */
function sharedNode(a: Candidate, b: Candidate): string | undefined {
  return a.nodes.find((n) => b.interfaces[n] !== undefined && b.interfaces[n] === a.interfaces[n]);
}

/** Why the winner came first: its claim, its age, or (same age, no claim) its name. */
function whyFirst(winner: Candidate, loser: Candidate): string {
  if (winner.rank.tier < 2) return "which claimed it first";
  const same = timestampMs(winner.vip.metadata.creationTimestamp) === timestampMs(loser.vip.metadata.creationTimestamp);
  return same ? "created at the same time, first by namespace/name" : "which is older";
}

/** How a message names the winner: by name in the same namespace, anonymously in another. */
function winnerText(winner: Candidate, loser: Candidate): string {
  if (winner.namespace !== loser.namespace) return "a VirtualIP of another namespace";
  return `VirtualIP ${winner.key} (${whyFirst(winner, loser)})`;
}

function conflictProblems(loser: Candidate, winner: Candidate, reason: ConflictReason, text: string): Problem[] {
  const message = `VirtualIP ${loser.key}: ${text}`;
  const other = winner.namespace === loser.namespace ? { other: winner.key } : {};
  return [
    { virtualIP: loser.key, condition: CONDITION_CONFLICT, reason, message, ...other, excluded: true },
    { virtualIP: loser.key, condition: CONDITION_READY, reason: ReadyReason.Conflict, message, ...other, excluded: true },
  ];
}

/** Family and router id of a candidate: only candidates alike in both can clash or share an instance. */
export function routerIdKey(c: Candidate): string {
  return `${c.family}:${c.virtualRouterId}`;
}

function routerIdClash(c: Candidate, accepted: readonly Candidate[]): Problem[] | undefined {
  for (const w of accepted) {
    const node = sharedNode(w, c);
    if (node === undefined) continue;
    const fields = differingFields(w, c);
    if (fields.length === 0) continue;
    const settings = w.namespace === c.namespace ? ` with different settings (${fields.join(", ")})` : "";
    const text = `spec.virtualRouterId: ${c.virtualRouterId} (IPv${c.family}) is already used by ${winnerText(w, c)} on interface ${c.interfaces[node] ?? ""} of node ${node}${settings}`;
    return conflictProblems(c, w, ConflictReason.RouterIdClash, text);
  }
  return undefined;
}

/**
 * Decides conflicts among `candidates` (any order; decided oldest claim first).
 * A candidate is checked only against candidates already accepted, so one
 * left out for a conflict never causes a conflict for anyone else.
 * Candidates that make no claim (invalid spec) are neither accepted nor reported here.
 */
export function planConflicts(candidates: Candidate[]): ConflictPlan {
  const ordered = [...candidates].sort(compareClaims);
  const accepted: Candidate[] = [];
  /** The accepted candidates by family and router id, in acceptance order. */
  const byRouterId = new Map<string, Candidate[]>();
  const byAddress = new Map<string, Candidate>();
  const problems: Problem[] = [];
  for (const c of ordered) {
    if (!c.claims) continue;
    const owner = byAddress.get(c.address);
    if (owner) {
      problems.push(...conflictProblems(c, owner, ConflictReason.DuplicateAddress, `spec.address: ${c.address} is already used by ${winnerText(owner, c)}`));
      continue;
    }
    const clash = routerIdClash(c, byRouterId.get(routerIdKey(c)) ?? []);
    if (clash) {
      problems.push(...clash);
      continue;
    }
    accepted.push(c);
    const same = byRouterId.get(routerIdKey(c));
    if (same) same.push(c);
    else byRouterId.set(routerIdKey(c), [c]);
    byAddress.set(c.address, c);
  }
  return { accepted, problems };
}
