// When each agent's heartbeat Lease was seen to change, on the operator's own
// clock: liveness never compares an agent's clock with the operator's
// (ADR 0011). Pure apart from the times it is given.
import type { RawObject } from "../kube/watch.js";

interface Sighting {
  /** resourceVersion of the Lease when last looked at. */
  version: string;
  /** Operator time at which this version was first seen. */
  at: number;
  /** The same moment on the step-free clock (durations are measured on it). */
  mono: number;
  /** Whether a change of version was seen (not only a first sighting). */
  changed: boolean;
}

/**
 * The operator's view of agent heartbeats. A Lease's resourceVersion changes
 * with every renewal (the API server sets it), so "when did I see a new
 * version" is a renewal time on the operator's clock, whatever the agent
 * wrote into renewTime. A Lease seen for the first time (operator start,
 * leader change) counts as renewed then: it is live for one lease duration,
 * and expires unless a renewal is seen meanwhile.
 */
export class HeartbeatSightings {
  private readonly seen = new Map<string, Sighting>();

  /**
   * `elapsed`: a clock that never steps (Clock.elapsed). With it, a Lease's
   * time to live is measured on it, so a wall clock stepped forward (a VM
   * resumed, an NTP step) does not expire every agent at once; without it,
   * on the times given.
   */
  constructor(private readonly elapsed?: () => number) {}

  private mono(now: number): number {
    return this.elapsed ? this.elapsed() : now;
  }

  /** The Lease watch is down: renewals may be happening unseen, so no agent is judged silent. */
  private blind = false;
  /** When the Lease watch was last current again after being down: every Lease counts as seen then. */
  private resumedAt = -Infinity;

  /** The Lease watch went down: until it is current again every agent counts as live (its last state stands). */
  watchDown(): void {
    this.blind = true;
  }

  /**
   * The Lease watch is current again at `now`. What was missed meanwhile is
   * unknown (renewals the cache never saw, a relist racing the agents' own
   * recovery), so every Lease counts as first seen now, as at operator start:
   * live for one lease duration, expiring unless a renewal is seen.
   */
  watchUp(now: number): void {
    if (!this.blind) return;
    this.blind = false;
    this.resumedAt = this.mono(now);
  }

  /** Notes `lease` as looked at `now`; resolves when its current version was first seen. */
  private look(lease: RawObject | undefined, now: number): Sighting | undefined {
    const key = `${lease?.metadata?.namespace ?? ""}/${lease?.metadata?.name ?? ""}`;
    const version = lease?.metadata?.resourceVersion;
    if (!lease || !version) return undefined;
    const prev = this.seen.get(key);
    if (prev?.version === version) return prev;
    const next = { version, at: now, mono: this.mono(now), changed: prev !== undefined };
    this.seen.set(key, next);
    return next;
  }

  /** When the agent's Lease stops counting as live (operator time; Infinity while the watch is down), or undefined without a Lease or duration. */
  expiry(lease: RawObject | undefined, now: number): number | undefined {
    const duration = (lease?.spec as { leaseDurationSeconds?: number } | undefined)?.leaseDurationSeconds;
    const s = this.look(lease, now);
    if (!s || !duration) return undefined;
    if (this.blind) return Infinity;
    // Time left, measured on the step-free clock, as of `now`.
    return now + Math.max(s.mono, this.resumedAt) + duration * 1000 - this.mono(now);
  }

  /** Whether the agent's Lease counts as live at `now`. */
  isLive(lease: RawObject | undefined, now: number): boolean {
    return (this.expiry(lease, now) ?? 0) > now;
  }

  /**
   * When a renewal of the agent's Lease was last seen (operator time); undefined
   * until one was seen since this operator started watching (a first sighting
   * proves nothing about when the agent last wrote).
   */
  renewedAt(lease: RawObject | undefined, now: number): number | undefined {
    const s = this.look(lease, now);
    return s?.changed ? s.at : undefined;
  }

  /** Forgets Leases no longer in `keys` ("namespace/name"). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of [...this.seen.keys()]) if (!keys.has(key)) this.seen.delete(key);
  }
}
