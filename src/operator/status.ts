// The operator's part of a VirtualIP's status: master selection (master.ts),
// failover counting (holder.ts), conditions, Events,
// and the entries it writes on behalf of silent or departed nodes. Pure.
import { CONDITION_CONFLICT, CONDITION_READY, CONDITION_SPLIT_BRAIN, ConflictReason, ReadyReason } from "../api/index.js";
import type { Claim, Condition, NodeStatus } from "../api/index.js";
import type { Problem } from "../render/index.js";
import { holderSettleMs, planHolder, type HolderMemory, type HolderPlan } from "./holder.js";
import { planBackups, planMaster, SplitBrainReason, type MasterPlan } from "./master.js";

/** The status fields the operator owns (applied under its own field manager). */
export interface OperatorStatus {
  observedGeneration: number;
  /** The address, router id and pool in effect (spec or allocated); unset while none is allowed. */
  address?: string;
  virtualRouterId?: number;
  pool?: string;
  claim?: Claim;
  master: string;
  /** Live taking-part nodes in BACKUP, sorted, comma-separated (the BACKUPS column; ADR 0006). */
  backups: string;
  failovers: number;
  lastFailoverTime?: string;
  conditions: Condition[];
}

/** An Event to record on the VirtualIP. */
export interface PlannedEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** A condition as decided, before lastTransitionTime is set. */
export interface ConditionDecision {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * Builds conditions with metav1.Condition semantics: lastTransitionTime is
 * `now` when the status changed (or the condition is new), else kept.
 */
export function planConditions(
  previous: readonly Condition[] | undefined,
  decisions: readonly ConditionDecision[],
  generation: number,
  nowText: string,
): Condition[] {
  return decisions.map((d) => {
    const prev = previous?.find((c) => c.type === d.type);
    const lastTransitionTime = prev && prev.status === d.status ? prev.lastTransitionTime : nowText;
    return { type: d.type, status: d.status, observedGeneration: generation, lastTransitionTime, reason: d.reason, message: d.message };
  });
}

/** Everything planVirtualIPStatus reads about one VirtualIP. */
export interface StatusInput {
  key: string;
  address: string;
  generation: number;
  /** The status as it is now (agents' entries and the operator's last summary). */
  live: {
    address?: string;
    virtualRouterId?: number;
    pool?: string;
    claim?: Claim;
    master?: string;
    backups?: string;
    failovers?: number;
    lastFailoverTime?: string;
    conditions?: Condition[];
    nodes?: NodeStatus[];
  };
  /** Parse error when the object fails the schema. */
  invalid?: string;
  deleting: boolean;
  /** While deleting: which nodes the deletion waits for (src/operator/deletion.ts); default a generic message. */
  deletionMessage?: string;
  /** Nodes taking part (from the plan); empty when left out. */
  participants: readonly string[];
  advertIntervalMs: number;
  /** Problems the renderer found for this VirtualIP. */
  problems: readonly Problem[];
  isLive: (node: string) => boolean;
  /** When the node's agent last renewed its heartbeat Lease (epoch ms). */
  renewedAt?: (node: string) => number | undefined;
  /** What this operator remembers of the holder (holder.ts); unset: seeded from the status' master. */
  holder?: HolderMemory;
  /** The address, router id and pool planning gave it. */
  allocation?: { address?: string; virtualRouterId?: number; pool?: string };
  /** The claim to record (see planClaim); unset: none. */
  claim?: Claim;
  now: number;
}

/**
 * The claim a VirtualIP's status should carry: a rendered VirtualIP keeps its
 * claim on the same address and router id (confirmed at the current
 * generation, no longer unusable) or makes a new one now; a void claim is
 * dropped; otherwise the live claim stays, marked unusable since now if it was
 * not yet (its grace period runs from then).
 */
export function planClaim(input: {
  live: Claim | undefined;
  claimed: boolean;
  claimVoid: boolean;
  address: string | undefined;
  virtualRouterId: number | undefined;
  generation: number;
  now: number;
}): Claim | undefined {
  const { live } = input;
  if (input.claimVoid) return undefined;
  if (!input.claimed || input.address === undefined || input.virtualRouterId === undefined) {
    // Not rendered: the claim lasts the grace period from the first plan that left it out.
    return live && live.unusableSince === undefined ? { ...live, unusableSince: new Date(input.now).toISOString() } : live;
  }
  if (live && live.address === input.address && live.virtualRouterId === input.virtualRouterId) {
    const { unusableSince: _u, ...kept } = live;
    return { ...kept, generation: input.generation };
  }
  return { address: input.address, virtualRouterId: input.virtualRouterId, generation: input.generation, time: new Date(input.now).toISOString() };
}

/** A write of one node's entry, under that node's field manager. undefined entry: remove it. */
export interface NodeEntryWrite {
  node: string;
  entry?: NodeStatus;
}

/** What planVirtualIPStatus decides. */
export interface StatusPlan {
  summary: OperatorStatus;
  /** The summary differs from the live one: apply it. */
  changed: boolean;
  nodeWrites: NodeEntryWrite[];
  /** Recorded only when the summary is applied (they describe its change). */
  events: PlannedEvent[];
  readyReason: string;
  /** Check this VirtualIP again at this time (split brain or a new holder pending). */
  recheckAt?: number;
  /** The holder memory after this plan: keep it once the plan is applied (or needs no write). */
  holder: HolderMemory;
}

const PROBLEM_READY_REASONS = new Set<string>([
  ReadyReason.InvalidSpec,
  ReadyReason.NoPool,
  ReadyReason.AddressNotAllowed,
  ReadyReason.RouterIdNotAllowed,
  ReadyReason.AddressReserved,
  ReadyReason.PoolExhausted,
  ReadyReason.IngressOwnedElsewhere,
  ReadyReason.AdvertIntervalTooShort,
  ReadyReason.ServiceNotFound,
  ReadyReason.ServiceNotLoadBalancer,
  ReadyReason.NoEligibleNodes,
  ReadyReason.InvalidAuthSecret,
  ReadyReason.Conflict,
  ReadyReason.TooLarge,
  ReadyReason.InterfaceNotFound,
  ReadyReason.IPVSUnavailable,
]);

/** Most nodes a ConfigRejected message names. */
const SHOWN_REJECTING_NODES = 3;

/**
 * Ready=False ConfigRejected when a live taking-part node reports that its
 * keepalived refused this VirtualIP's instance (status.nodes[].configRejected,
 * ADR 0016); only this VirtualIP's own entries count.
 */
export function configRejectedDecision(input: Pick<StatusInput, "key" | "live" | "participants" | "isLive">): ConditionDecision | undefined {
  const participants = new Set(input.participants);
  const rejecting = (input.live.nodes ?? [])
    .filter((e) => typeof e.configRejected === "string" && e.configRejected !== "" && participants.has(e.name) && input.isLive(e.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const first = rejecting[0];
  if (!first) return undefined;
  const names = rejecting.map((e) => e.name);
  const shown =
    names.slice(0, SHOWN_REJECTING_NODES).join(", ") + (names.length > SHOWN_REJECTING_NODES ? ` and ${names.length - SHOWN_REJECTING_NODES} more` : "");
  const words = (first.configRejected ?? "").slice(0, 1024);
  const message = `VirtualIP ${input.key}: node${names.length === 1 ? "" : "s"} ${shown} refused its keepalived config; ${first.name}: ${words}`;
  return { type: CONDITION_READY, status: "False", reason: ReadyReason.ConfigRejected, message };
}

function readyDecision(input: StatusInput, master: string): ConditionDecision {
  const ready = (reason: string, message: string, ok = false): ConditionDecision => ({ type: CONDITION_READY, status: ok ? "True" : "False", reason, message });
  if (input.deleting) return ready(ReadyReason.Deleting, input.deletionMessage ?? `Being deleted: ${input.address} is being removed from every node config`);
  if (input.invalid !== undefined) return ready(ReadyReason.InvalidSpec, input.invalid);
  const problem = input.problems.find((p) => p.condition === CONDITION_READY);
  if (problem) return ready(problem.reason, problem.message);
  const rejected = configRejectedDecision(input);
  if (rejected) return rejected;
  if (master !== "") return ready(ReadyReason.Active, `Node ${master} holds ${input.address}`, true);
  const n = input.participants.length;
  return ready(ReadyReason.NoMaster, `No live node reports MASTER for ${input.address} yet (${n} node${n === 1 ? "" : "s"} taking part)`);
}

function conflictDecision(input: StatusInput): ConditionDecision {
  const problem = input.problems.find((p) => p.condition === CONDITION_CONFLICT);
  if (problem) return { type: CONDITION_CONFLICT, status: "True", reason: problem.reason, message: problem.message };
  return { type: CONDITION_CONFLICT, status: "False", reason: ConflictReason.NoConflict, message: "No other VirtualIP conflicts with this one" };
}

function splitBrainDecision(m: MasterPlan): ConditionDecision {
  if (m.splitBrain) {
    return {
      type: CONDITION_SPLIT_BRAIN,
      status: "True",
      reason: SplitBrainReason.MultipleMasters,
      message: `Nodes ${m.masters.join(", ")} all report MASTER; ${m.master} (the newest) is taken as master`,
    };
  }
  const message = m.masters.length > 1 ? `Nodes ${m.masters.join(", ")} report MASTER; waiting for VRRP to settle` : "At most one node reports MASTER";
  return { type: CONDITION_SPLIT_BRAIN, status: "False", reason: SplitBrainReason.NoSplitBrain, message };
}

/** Entries to write for nodes whose agent is silent (UNKNOWN) or that no longer take part (removed). */
export function planNodeEntryWrites(input: Pick<StatusInput, "live" | "participants" | "isLive" | "now">): NodeEntryWrite[] {
  const participants = new Set(input.participants);
  const out: NodeEntryWrite[] = [];
  for (const e of input.live.nodes ?? []) {
    if (!participants.has(e.name)) out.push({ node: e.name });
    else if (!input.isLive(e.name) && e.state !== "UNKNOWN") {
      const entry: NodeStatus = { name: e.name, state: "UNKNOWN", since: new Date(input.now).toISOString() };
      if (e.priority !== undefined) entry.priority = e.priority;
      if (e.lastReportTime !== undefined) entry.lastReportTime = e.lastReportTime;
      out.push({ node: e.name, entry });
    }
  }
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[]): boolean {
  if (!a || a.length !== b.length) return false;
  return b.every((c) => {
    const o = a.find((x) => x.type === c.type);
    return (
      o !== undefined &&
      o.status === c.status &&
      o.reason === c.reason &&
      o.message === c.message &&
      o.lastTransitionTime === c.lastTransitionTime &&
      o.observedGeneration === c.observedGeneration
    );
  });
}

/** Whether the live status already carries `summary`. */
export function summaryEqual(live: StatusInput["live"] & { observedGeneration?: number }, summary: OperatorStatus): boolean {
  return (
    live.observedGeneration === summary.observedGeneration &&
    live.address === summary.address &&
    live.virtualRouterId === summary.virtualRouterId &&
    live.pool === summary.pool &&
    JSON.stringify(live.claim ?? null) === JSON.stringify(summary.claim ?? null) &&
    (live.master ?? "") === summary.master &&
    (live.backups ?? "") === summary.backups &&
    (live.failovers ?? 0) === summary.failovers &&
    live.failovers !== undefined &&
    live.lastFailoverTime === summary.lastFailoverTime &&
    conditionsEqual(live.conditions, summary.conditions)
  );
}

/**
 * Events of a change of master: Failover when the holder changed (once per
 * fault); NoMaster when no node holds it; MasterElected for the first holder
 * or the holder returning. A new master that is not yet the holder gets none:
 * its Failover follows once it settles.
 */
function masterEvents(previous: string, next: string, hp: HolderPlan, address: string): PlannedEvent[] {
  if (hp.failover) return [{ type: "Normal", reason: "Failover", message: `MASTER moved from ${hp.failover.from} to ${hp.failover.to}` }];
  if (previous === next) return [];
  if (next === "") return [{ type: "Warning", reason: ReadyReason.NoMaster, message: `No node holds ${address} any more (was ${previous})` }];
  if (next !== hp.next.holder) return [];
  return [{ type: "Normal", reason: "MasterElected", message: `Node ${next} is MASTER for ${address}` }];
}

function conditionEvents(previous: readonly Condition[] | undefined, next: readonly Condition[]): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const before = (type: string): Condition | undefined => previous?.find((c) => c.type === type);
  for (const c of next) {
    const prev = before(c.type);
    if (c.type === CONDITION_READY && c.status === "False" && PROBLEM_READY_REASONS.has(c.reason) && c.reason !== ReadyReason.Conflict) {
      if (prev?.reason !== c.reason) out.push({ type: "Warning", reason: c.reason, message: c.message });
    }
    if ((c.type === CONDITION_CONFLICT || c.type === CONDITION_SPLIT_BRAIN) && c.status === "True" && prev?.status !== "True") {
      out.push({ type: "Warning", reason: c.type === CONDITION_SPLIT_BRAIN ? "SplitBrain" : c.reason, message: c.message });
    }
  }
  return out;
}

/**
 * Plans the operator's status of one VirtualIP: master (live MASTER entries
 * of taking-part nodes), failovers, conditions, Events for what changed, and
 * node entries to write as UNKNOWN or to remove.
 */
export function planVirtualIPStatus(input: StatusInput & { live: { observedGeneration?: number } }): StatusPlan {
  const { live, now } = input;
  const nowText = new Date(now).toISOString();
  const participants = new Set(input.invalid !== undefined || input.deleting ? [] : input.participants);
  const m = planMaster({
    entries: live.nodes ?? [],
    participants,
    isLive: input.isLive,
    ...(input.renewedAt ? { renewedAt: input.renewedAt } : {}),
    now,
    advertIntervalMs: input.advertIntervalMs,
  });
  const previous = live.master ?? "";
  const hp = planHolder({
    memory: input.holder,
    seed: previous,
    soleMaster: m.masters.length === 1 ? m.master : "",
    now,
    settleMs: holderSettleMs(input.advertIntervalMs),
  });
  const failovers = (live.failovers ?? 0) + (hp.failover ? 1 : 0);
  const lastFailoverTime = hp.failover ? new Date(hp.failover.at).toISOString() : live.lastFailoverTime;
  const ready = readyDecision(input, m.master);
  const conditions = planConditions(live.conditions, [ready, conflictDecision(input), splitBrainDecision(m)], input.generation, nowText);
  const backups = planBackups(live.nodes ?? [], participants, input.isLive);
  const summary: OperatorStatus = { observedGeneration: input.generation, master: m.master, backups, failovers, conditions };
  const alloc = input.allocation ?? {};
  if (alloc.address !== undefined) summary.address = alloc.address;
  if (alloc.virtualRouterId !== undefined) summary.virtualRouterId = alloc.virtualRouterId;
  if (alloc.pool !== undefined) summary.pool = alloc.pool;
  if (input.claim !== undefined) summary.claim = input.claim;
  if (lastFailoverTime !== undefined) summary.lastFailoverTime = lastFailoverTime;
  const changed = !summaryEqual(live, summary);
  const events = changed && !input.deleting ? [...masterEvents(previous, m.master, hp, input.address), ...conditionEvents(live.conditions, conditions)] : [];
  const plan: StatusPlan = {
    summary,
    changed,
    nodeWrites: input.deleting ? [] : planNodeEntryWrites({ live, participants: [...participants], isLive: input.isLive, now }),
    events,
    readyReason: ready.reason,
    holder: hp.next,
  };
  const recheckAt = Math.min(m.splitBrainAt ?? Infinity, hp.recheckAt ?? Infinity);
  if (recheckAt !== Infinity) plan.recheckAt = recheckAt;
  return plan;
}
