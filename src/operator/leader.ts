// Leader election over a coordination.k8s.io Lease, with client-go's rules:
// planLeaderAction is the pure decision; LeaderElector runs it on a timer and
// steps down and back up without ever ending the process (I/O through a LeaseStore).
import { withDeadline, type Clock, type Timer } from "../shared/clock.js";
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
      action: {
        kind: "create",
        record: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: nowText, renewTime: nowText, leaseTransitions: 0 },
      },
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

/** The Lease I/O leader election needs (src/kube/leader by default; tests pass a fake). */
export interface LeaseStore {
  read(ref: LeaseRef): Promise<ObservedLease | undefined>;
  create(ref: LeaseRef, record: LeaseRecord): Promise<ObservedLease>;
  update(ref: LeaseRef, update: { resourceVersion: string; record: LeaseRecord }): Promise<ObservedLease>;
}

/** The Lease store on the API server. */
export function apiLeaseStore(clients: KubeClients): LeaseStore {
  return {
    read: (ref) => readLease(clients, ref),
    create: (ref, record) => createLease(clients, ref, record),
    update: (ref, update) => updateLease(clients, ref, update),
  };
}

export interface LeaderElectorOptions {
  /** Where the Lease lives; see {@link apiLeaseStore}. */
  leases: LeaseStore;
  lease: LeaseRef;
  identity: string;
  timing: LeaderTiming;
  clock: Clock;
  logger: Logger;
  /** Called each time this replica becomes the leader (again after a step-down). */
  onStartedLeading: () => void;
  /**
   * Called each time this replica stops being the leader without releasing
   * (renew deadline passed or Lease taken): stop writing at once. The elector
   * keeps trying and calls onStartedLeading when it wins again.
   */
  onStoppedLeading: () => void;
  /** Called on every successful attempt, leader or not (for the leader metric and readiness). */
  onObserved?: (holder: string) => void;
  /** Called on every failed attempt (the API server may be away). */
  onAttemptFailed?: (err: unknown) => void;
}

/**
 * Runs leader election: tries every retry period; the leader renews, the
 * others wait for expiry. A leader that cannot renew within the renew
 * deadline steps down at that moment (a timer, not the next attempt), before
 * the Lease can expire for the others (renew deadline < lease duration), so
 * two replicas never write at once; it keeps trying and leads again when it
 * wins. The process never exits over leadership.
 */
export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed: LeaderObservation | undefined;
  private current: ObservedLease | undefined;
  private lastRenewAt = 0;
  private timer: Timer | undefined;
  private deadline: Timer | undefined;
  private inflight: Promise<void> | undefined;
  /** Number of the running attempt: an attempt that timed out must not act when it finally returns. */
  private attempt = 0;

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
    const attempt = this.attempt;
    try {
      // A request that hangs (a partitioned API server) must not stall the election.
      await withDeadline(clock, this.tryAcquireOrRenew(attempt), timing.renewDeadlineMs);
    } catch (err) {
      this.opts.logger.warn("Failed to acquire or renew the leader Lease", { lease: this.opts.lease.name, error: describeError(err) });
      this.opts.onAttemptFailed?.(err);
    } finally {
      // Whatever this attempt still has in flight is stale from now on.
      this.attempt++;
    }
    if (this.leading && leadershipExpired(this.lastRenewAt, clock.now(), timing.renewDeadlineMs)) {
      this.loseLeadership("renew deadline passed");
    }
    const jitter = this.leading ? 1 : 1 + Math.random() * 0.2;
    this.schedule(timing.retryPeriodMs * jitter);
  }

  private async tryAcquireOrRenew(attempt: number): Promise<void> {
    const { leases, lease, identity, timing, clock, logger } = this.opts;
    const stale = (): boolean => this.stopped || attempt !== this.attempt;
    const read = await leases.read(lease);
    if (stale()) return;
    const { action, observation } = planLeaderAction({
      lease: read,
      now: clock.now(),
      identity,
      leaseDurationMs: timing.leaseDurationMs,
      observed: this.observed,
    });
    this.observed = observation;
    this.current = read;
    let written: ObservedLease;
    // The deadline counts from before the write: others measure expiry from when they see it, which is later.
    const writeAt = clock.now();
    switch (action.kind) {
      case "wait":
        if (this.leading) this.loseLeadership(`Lease taken by ${action.holder}`);
        this.opts.onObserved?.(action.holder);
        return;
      case "create":
        written = await leases.create(lease, action.record);
        break;
      case "acquire":
      case "renew":
        written = await leases.update(lease, { resourceVersion: action.resourceVersion, record: action.record });
        break;
    }
    // The Lease as written, even by an attempt that is stale by now: a release must update this version.
    this.current = written;
    // A write that lands after its attempt timed out still holds the Lease; the next attempt reads and renews it.
    if (stale()) return;
    this.observed = { resourceVersion: written.resourceVersion, observedAt: clock.now() };
    this.lastRenewAt = writeAt;
    this.armDeadline(writeAt + timing.renewDeadlineMs - clock.now());
    this.opts.onObserved?.(identity);
    if (!this.leading) {
      this.leading = true;
      const previous = action.kind === "acquire" ? action.previousHolder : "";
      logger.info("Became the leader", { lease: lease.name, identity, previousHolder: previous });
      this.opts.onStartedLeading();
    }
  }

  /** Steps down exactly when the renew deadline passes without a renewal. */
  private armDeadline(inMs: number): void {
    this.deadline?.cancel();
    this.deadline = this.opts.clock.setTimer(() => this.loseLeadership("renew deadline passed"), inMs);
  }

  private loseLeadership(why: string): void {
    this.deadline?.cancel();
    this.deadline = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.opts.logger.warn("Lost leadership, stopped writing; rejoining the election", {
      lease: this.opts.lease.name,
      identity: this.opts.identity,
      reason: why,
    });
    this.opts.onStoppedLeading();
  }

  /** Stops trying; when leading, writes the released record so that another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.deadline?.cancel();
    await this.inflight?.catch(() => undefined);
    if (!this.leading || !this.current) return;
    this.leading = false;
    const { leases, lease, clock, logger } = this.opts;
    try {
      await leases.update(lease, { resourceVersion: this.current.resourceVersion, record: planLeaseRelease(this.current.record, clock.now()) });
      logger.info("Released the leader Lease", { lease: lease.name, identity: this.opts.identity });
    } catch (err) {
      logger.warn("Failed to release the leader Lease", { lease: lease.name, error: describeError(err) });
    }
  }
}
