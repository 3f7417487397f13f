// Deletion that waits for the nodes (ADR 0017): the finalizer of a deleted
// VirtualIP goes only once every node that took part has published that it
// no longer runs the address, or, for a node whose agent is not live (or
// publishes nothing), once the deletion timeout has passed. planDeletion is
// pure; DeletionTracker keeps what it needs across passes (operator clock).
import { parseRunningSet, type RunningSet } from "../shared/running-set.js";

/** Default of --deletion-timeout. */
export const DEFAULT_DELETION_TIMEOUT_MS = 5 * 60 * 1000;

/** What the operator knows of one node's agent. */
export interface AgentView {
  /** The agent's Lease counts as live (operator clock, ADR 0011). */
  live: boolean;
  /** What it published it runs; undefined when it published nothing readable. */
  running: RunningSet | undefined;
  /**
   * The Lease was written after the deletion (its resourceVersion is newer).
   * An older one may predate the node taking the address up: an agent cut
   * off right after applying it never said so.
   */
  fresh: boolean;
}

/** Everything planDeletion reads. */
export interface DeletionInput {
  /** Canonical address the deleted VirtualIP held. */
  address: string;
  /** Nodes that took part (the last plan that had it, its status.nodes). */
  participants: readonly string[];
  /** Node name -> its agent, for every node with an agent Lease. */
  agents: ReadonlyMap<string, AgentView>;
  /** When this operator first saw the deletion (its clock). */
  startedAt: number;
  now: number;
  timeoutMs: number;
}

/** Why a node has not confirmed: it lists the address, its agent is not live, it has not renewed since the deletion, or it publishes nothing readable. */
export type Unconfirmed = "runs" | "not-live" | "stale" | "unknown";

export interface DeletionDecision {
  /** The finalizer may go. */
  done: boolean;
  /** Nodes that have not confirmed, sorted by name. */
  waiting: { node: string; why: Unconfirmed }[];
  /** With done: the nodes given up on after the timeout (they never confirmed). */
  givenUp: string[];
  /** When the decision changes by time alone (the timeout), if it can. */
  recheckAt?: number;
  /** The Ready message while deleting. */
  message: string;
}

function describe(w: { node: string; why: Unconfirmed }): string {
  if (w.why === "runs") return `node ${w.node} still runs it`;
  if (w.why === "not-live") return `the agent of node ${w.node} is not live`;
  if (w.why === "stale") return `the agent of node ${w.node} has not renewed its Lease since the deletion`;
  return `the agent of node ${w.node} has not published what it runs`;
}

/**
 * Decides whether a deleted VirtualIP may go. A node confirms when what it
 * published after the deletion no longer lists the address. A live agent that lists it is
 * waited for without limit (the address is on that node's keepalived: a new
 * owner would make two holders); an agent that is not live, or publishes
 * nothing readable, is given up on `timeoutMs` after the deletion was seen.
 */
export function planDeletion(input: DeletionInput): DeletionDecision {
  const { address } = input;
  const relevant = new Set(input.participants);
  for (const [node, a] of input.agents) if (a.running?.has(address)) relevant.add(node);
  const waiting: { node: string; why: Unconfirmed }[] = [];
  for (const node of [...relevant].sort()) {
    const a = input.agents.get(node);
    if (a?.running && !a.running.has(address) && a.fresh) continue;
    waiting.push({ node, why: !a?.live ? "not-live" : !a.running ? "unknown" : a.running.has(address) ? "runs" : "stale" });
  }
  const deadline = input.startedAt + input.timeoutMs;
  if (waiting.length === 0) return { done: true, waiting, givenUp: [], message: `Being deleted: every node confirmed that ${address} is gone` };
  const stuck = waiting.filter((w) => w.why === "runs");
  const list = waiting.map(describe).join("; ");
  if (stuck.length === 0 && input.now >= deadline) {
    const nodes = waiting.map((w) => w.node);
    return {
      done: true,
      waiting,
      givenUp: nodes,
      message: `Being deleted: node${nodes.length === 1 ? "" : "s"} ${nodes.join(", ")} did not confirm that ${address} is gone within the deletion timeout (${Math.round(input.timeoutMs / 1000)}s): ${list}`,
    };
  }
  const tail = stuck.length === 0 ? `; given up on at ${new Date(deadline).toISOString()}` : "";
  const decision: DeletionDecision = {
    done: false,
    waiting,
    givenUp: [],
    message: `Being deleted: waiting for the nodes to confirm that ${address} is gone: ${list}${tail}`,
  };
  if (stuck.length === 0) decision.recheckAt = deadline;
  return decision;
}

/**
 * What deletions need from earlier passes: the nodes each VirtualIP took part
 * on while it was planned, and when its deletion was first seen. Parsed
 * published sets are kept per Lease text, so a pass parses each once.
 */
export class DeletionTracker {
  private readonly nodes = new Map<string, readonly string[]>();
  private readonly started = new Map<string, { at: number; mono: number; version: string }>();
  private readonly parsed = new Map<string, { text: string; set: RunningSet | undefined }>();

  /** `elapsed`: a clock that never steps (Clock.elapsed); with it the deletion timeout runs on it, not on the wall clock. */
  constructor(private readonly elapsed?: () => number) {}

  /** Notes the taking-part nodes of every planned VirtualIP (key -> nodes), or of those in `only` (the others are as last noted). */
  noteParticipants(plan: Readonly<Record<string, { nodes: readonly string[] }>>, only: Iterable<string> | "all" = "all"): void {
    for (const key of only === "all" ? Object.keys(plan) : only) {
      const nodes = plan[key]?.nodes ?? [];
      if (nodes.length > 0) this.nodes.set(key, nodes);
    }
  }

  /** The nodes a VirtualIP last took part on in a plan ([] when never seen planned). */
  participants(key: string): readonly string[] {
    return this.nodes.get(key) ?? [];
  }

  /**
   * When the deletion of `key` was first seen (noted now, with the object's
   * resourceVersion, if it was not), as of `now`: `now` less the time since,
   * measured on the step-free clock when there is one.
   */
  startedAt(key: string, now: number, version = ""): number {
    const mono = this.elapsed ? this.elapsed() : now;
    let s = this.started.get(key);
    if (s === undefined) this.started.set(key, (s = { at: now, mono, version }));
    return now - (mono - s.mono);
  }

  /**
   * Whether a Lease at `leaseVersion` was written after the deletion of `key`
   * was first seen. resourceVersions are etcd revisions, one sequence for all
   * objects; the operator's cache orders updates by them already. When one is
   * not a number, only a renewal seen after the deletion counts (`renewedAt`).
   */
  writtenAfter(key: string, leaseVersion: string | undefined, renewedAt: number | undefined): boolean {
    const s = this.started.get(key);
    if (!s) return false;
    const a = Number(s.version);
    const b = Number(leaseVersion);
    if (s.version !== "" && leaseVersion !== undefined && Number.isSafeInteger(a) && Number.isSafeInteger(b)) return b > a;
    return renewedAt !== undefined && renewedAt > s.at;
  }

  /** Keys whose deletion has been seen and that are not gone yet. */
  deleting(): string[] {
    return [...this.started.keys()];
  }

  /** The published set of a node's Lease annotation text, parsed once per text. */
  runningSet(node: string, text: string | undefined): RunningSet | undefined {
    if (text === undefined) return undefined;
    const hit = this.parsed.get(node);
    if (hit?.text === text) return hit.set;
    const set = parseRunningSet(text);
    this.parsed.set(node, { text, set });
    return set;
  }

  /** Forgets a VirtualIP that is gone. */
  forget(key: string): void {
    this.nodes.delete(key);
    this.started.delete(key);
  }
}
