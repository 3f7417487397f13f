// Leader election over a coordination.k8s.io Lease, with client-go's rules:
// planLeaderAction is the pure decision; LeaderElector runs it on a timer (I/O through src/kube/leader).
import type { Clock, Timer } from "../shared/clock.js";
import type { Logger } from "../shared/logger.js";
import type { KubeClients } from "../kube/client.js";
import { describeError } from "../kube/client.js";
import { createLease, formatMicroTime, readLease, updateLease, type LeaseRecord, type LeaseRef, type ObservedLease } from "../kube/leader.js";

/** Durations of leader election (client-go's defaults: 15 s, 10 s, 2 s). */
export interface LeaderTiming {
  /** How long a non-leader waits after the last observed change of the Lease before it takes over. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it gives up leadership. */
  renewDeadlineMs: number;
  /** Interval between attempts to acquire or renew. */
  retryPeriodMs: number;
}

/** When this replica last saw the Lease change: expiry is measured on our own clock, not the holder's. */
export interface LeaderObservation {
  resourceVersion: string;
  observedAt: number;
}

/** What to do with the Lease now. */
export type LeaderAction =
  | { kind: "create"; record: LeaseRecord }
  | { kind: "acquire"; record: LeaseRecord; resourceVersion: string; previousHolder: string }
  | { kind: "renew"; record: LeaseRecord; resourceVersion: string }
  | { kind: "wait"; holder: string; expiresAt: number };

export interface LeaderInput {
  /** The Lease as just read; undefined when it does not exist. */
  lease: ObservedLease | undefined;
  now: number;
  identity: string;
  leaseDurationMs: number;
  /** The previous observation, if any. */
  observed?: LeaderObservation;
}

/**
 * Decides whether to create, acquire, renew or wait for the Lease. A Lease
 * held by another identity expires `leaseDurationSeconds` (the holder's
 * promise) after this replica last saw it change; a released Lease (empty
 * holder) is free at once. Pure.
 */
export function planLeaderAction(input: LeaderInput): { action: LeaderAction; observation?: LeaderObservation } {
  const { lease, now, identity } = input;
  const durationSeconds = Math.max(1, Math.round(input.leaseDurationMs / 1000));
  const nowText = formatMicroTime(now);
  if (!lease) {
    return {
      action: { kind: "create", record: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: nowText, renewTime: nowText, leaseTransitions: 0 } },
    };
  }
  const changed = input.observed?.resourceVersion !== lease.resourceVersion;
  const observation: LeaderObservation = changed || !input.observed ? { resourceVersion: lease.resourceVersion, observedAt: now } : input.observed;
  const rec = lease.record;
  if (rec.holderIdentity === identity) {
    const record: LeaseRecord = { ...rec, leaseDurationSeconds: durationSeconds, renewTime: nowText };
    return { action: { kind: "renew", record, resourceVersion: lease.resourceVersion }, observation };
  }
  const heldForMs = (rec.leaseDurationSeconds > 0 ? rec.leaseDurationSeconds : durationSeconds) * 1000;
  const expiresAt = observation.observedAt + heldForMs;
  if (rec.holderIdentity !== "" && now < expiresAt) {
    return { action: { kind: "wait", holder: rec.holderIdentity, expiresAt }, observation };
  }
  const record: LeaseRecord = {
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: nowText,
    renewTime: nowText,
    leaseTransitions: rec.leaseTransitions + 1,
  };
  return { action: { kind: "acquire", record, resourceVersion: lease.resourceVersion, previousHolder: rec.holderIdentity }, observation };
}

/** The record a leader writes when it steps down: no holder, 1 s duration, so the next replica takes over at once. Pure. */
export function planLeaseRelease(rec: LeaseRecord, now: number): LeaseRecord {
  const nowText = formatMicroTime(now);
  return { ...rec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: nowText, renewTime: nowText };
}

/** Whether a leader whose last successful renew was at `lastRenewAt` must give up. Pure. */
export function leadershipExpired(lastRenewAt: number, now: number, renewDeadlineMs: number): boolean {
  return now - lastRenewAt >= renewDeadlineMs;
}

export interface LeaderElectorOptions {
  clients: KubeClients;
  lease: LeaseRef;
  identity: string;
  timing: LeaderTiming;
  clock: Clock;
  logger: Logger;
  /** Called once when this replica becomes the leader. */
  onStartedLeading: () => void;
  /** Called once when this replica stops being the leader without releasing (renew deadline passed or Lease taken). */
  onStoppedLeading: () => void;
  /** Called on every successful attempt, leader or not (for the leader metric and readiness). */
  onObserved?: (holder: string) => void;
}

/** Runs leader election: tries every retry period; the leader renews, the others wait for expiry. */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed: LeaderObservation | undefined;
  private current: ObservedLease | undefined;
  private lastRenewAt = 0;
  private timer: Timer | undefined;
  private inflight: Promise<void> | undefined;

  constructor(private readonly opts: LeaderElectorOptions) {}

  /** True while this replica holds the Lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /** Starts trying at once. */
  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimer(() => {
      this.inflight = this.tick().finally(() => (this.inflight = undefined));
    }, ms);
  }

  private async tick(): Promise<void> {
    const { timing, clock } = this.opts;
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      this.opts.logger.warn("Failed to acquire or renew the leader Lease", { lease: this.opts.lease.name, error: describeError(err) });
    }
    if (this.leading && leadershipExpired(this.lastRenewAt, clock.now(), timing.renewDeadlineMs)) {
      this.loseLeadership("renew deadline passed");
    }
    const jitter = this.leading ? 1 : 1 + Math.random() * 0.2;
    this.schedule(timing.retryPeriodMs * jitter);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { clients, lease, identity, timing, clock, logger } = this.opts;
    const read = await readLease(clients, lease);
    if (this.stopped) return;
    const { action, observation } = planLeaderAction({ lease: read, now: clock.now(), identity, leaseDurationMs: timing.leaseDurationMs, observed: this.observed });
    this.observed = observation;
    this.current = read;
    switch (action.kind) {
      case "wait":
        if (this.leading) this.loseLeadership(`Lease taken by ${action.holder}`);
        this.opts.onObserved?.(action.holder);
        return;
      case "create":
        this.current = await createLease(clients, lease, action.record);
        break;
      case "acquire":
      case "renew":
        this.current = await updateLease(clients, lease, { resourceVersion: action.resourceVersion, record: action.record });
        break;
    }
    this.observed = { resourceVersion: this.current.resourceVersion, observedAt: clock.now() };
    this.lastRenewAt = clock.now();
    this.opts.onObserved?.(identity);
    if (!this.leading && !this.stopped) {
      this.leading = true;
      const previous = action.kind === "acquire" ? action.previousHolder : "";
      logger.info("Became the leader", { lease: lease.name, identity, previousHolder: previous });
      this.opts.onStartedLeading();
    }
  }

  private loseLeadership(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.opts.logger.error("Lost leadership", { lease: this.opts.lease.name, identity: this.opts.identity, reason: why });
    this.opts.onStoppedLeading();
  }

  /** Stops trying; when leading, writes the released record so that another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.inflight?.catch(() => undefined);
    if (!this.leading || !this.current) return;
    this.leading = false;
    const { clients, lease, clock, logger } = this.opts;
    try {
      await updateLease(clients, lease, { resourceVersion: this.current.resourceVersion, record: planLeaseRelease(this.current.record, clock.now()) });
      logger.info("Released the leader Lease", { lease: lease.name, identity: this.opts.identity });
    } catch (err) {
      logger.warn("Failed to release the leader Lease", { lease: lease.name, error: describeError(err) });
    }
  }
}
