// When each agent's heartbeat Lease was seen to change, on the operator's own
// clock: liveness never compares an agent's clock with the operator's
// (ADR 0011). Pure apart from the times it is given.
import type { RawObject } from "../kube/watch.js";

interface Sighting {
  /** resourceVersion of the Lease when last looked at. */
  version: string;
  /** Operator time at which this version was first seen. */
  at: number;
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

  /** Notes `lease` as looked at `now`; resolves when its current version was first seen. */
  private look(lease: RawObject | undefined, now: number): Sighting | undefined {
    const key = `${lease?.metadata?.namespace ?? ""}/${lease?.metadata?.name ?? ""}`;
    const version = lease?.metadata?.resourceVersion;
    if (!lease || !version) return undefined;
    const prev = this.seen.get(key);
    if (prev?.version === version) return prev;
    const next = { version, at: now, changed: prev !== undefined };
    this.seen.set(key, next);
    return next;
  }

  /** When the agent's Lease stops counting as live (operator time), or undefined without a Lease or duration. */
  expiry(lease: RawObject | undefined, now: number): number | undefined {
    const duration = (lease?.spec as { leaseDurationSeconds?: number } | undefined)?.leaseDurationSeconds;
    const s = this.look(lease, now);
    if (!s || !duration) return undefined;
    return s.at + duration * 1000;
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
