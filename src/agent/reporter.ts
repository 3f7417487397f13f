// Sends this node's status entry per VirtualIP: coalesces bursts per key,
// recomputes the entry at send time, retries with backoff. No I/O of its own
// (the apply function is injected); time comes from an injected Clock.
import type { NodeStatus } from "../api/index.js";
import type { Clock, Timer } from "../shared/clock.js";

/** What this node should have in a VirtualIP's status.nodes right now. */
export type DesiredReport =
  /** Apply this complete entry. */
  | { kind: "entry"; entry: NodeStatus }
  /** This node no longer takes part: apply an empty status so its entry goes. */
  | { kind: "remove" }
  /** Nothing known yet: send nothing. */
  | { kind: "skip" };

export interface StatusReporterOptions {
  /** Computes the desired report for a key ("namespace/name") at send time. */
  desired(key: string): DesiredReport;
  /** Writes it (a deleted VirtualIP should resolve, not reject). */
  apply(key: string, report: Exclude<DesiredReport, { kind: "skip" }>): Promise<void>;
  clock: Clock;
  /** First retry delay, doubled per failure up to maxMs. Default 200 ms .. 10 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Called after a successful write; latencyMs runs from the earliest mark the write covered. */
  onReported?(key: string, report: Exclude<DesiredReport, { kind: "skip" }>, latencyMs: number): void;
  /** Called after a failed write, with the delay before the retry. */
  onFailed?(key: string, err: unknown, retryInMs: number): void;
}

interface KeyState {
  dirty: boolean;
  /** Earliest mark time not yet covered by a successful write. */
  markedAt?: number;
  inFlight: boolean;
  timer?: Timer;
  failures: number;
}

/** Per-key coalescing status writer. */
export class StatusReporter {
  private readonly keys = new Map<string, KeyState>();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly opts: StatusReporterOptions) {}

  /** Notes that `key`'s desired report may have changed because of an event at `at` (default now). */
  mark(key: string, at?: number): void {
    if (this.closed) return;
    const when = at ?? this.opts.clock.now();
    const s = this.keys.get(key) ?? { dirty: false, inFlight: false, failures: 0 };
    this.keys.set(key, s);
    s.dirty = true;
    s.markedAt = s.markedAt === undefined ? when : Math.min(s.markedAt, when);
    if (!s.inFlight && !s.timer) this.schedule(key, s, 0);
  }

  /** Keys with a write pending, in flight or waiting for a retry. */
  pending(): string[] {
    return [...this.keys.keys()].sort();
  }

  /** Resolves when nothing is pending (or at once when nothing is). */
  idle(): Promise<void> {
    if (this.keys.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends every write that waits for a retry now (e.g. the API server is known to be back). */
  retryNow(): void {
    if (this.closed) return;
    for (const [key, s] of this.keys) {
      if (!s.timer || s.failures === 0) continue;
      s.timer.cancel();
      this.schedule(key, s, 0);
    }
  }

  /** Cancels timers; writes in flight finish but nothing new starts. */
  close(): void {
    this.closed = true;
    for (const s of this.keys.values()) s.timer?.cancel();
    this.keys.clear();
    this.wakeIdle();
  }

  private schedule(key: string, s: KeyState, ms: number): void {
    s.timer = this.opts.clock.setTimer(() => {
      s.timer = undefined;
      void this.send(key, s);
    }, ms);
  }

  private async send(key: string, s: KeyState): Promise<void> {
    if (this.closed || !s.dirty) return this.settle(key, s);
    s.dirty = false;
    const coveredMark = s.markedAt;
    s.markedAt = undefined;
    const report = this.opts.desired(key);
    if (report.kind === "skip") return this.settle(key, s);
    s.inFlight = true;
    let retryIn = 0;
    try {
      await this.opts.apply(key, report);
      s.failures = 0;
      this.opts.onReported?.(key, report, this.opts.clock.now() - (coveredMark ?? this.opts.clock.now()));
    } catch (err) {
      s.failures++;
      s.dirty = true;
      if (coveredMark !== undefined) s.markedAt = s.markedAt === undefined ? coveredMark : Math.min(s.markedAt, coveredMark);
      const initial = this.opts.retryInitialMs ?? 200;
      retryIn = Math.min(initial * 2 ** (s.failures - 1), this.opts.retryMaxMs ?? 10_000);
      this.opts.onFailed?.(key, err, retryIn);
    } finally {
      s.inFlight = false;
    }
    if (this.closed) return;
    if (s.dirty && !s.timer) this.schedule(key, s, retryIn);
    this.settle(key, s);
  }

  private settle(key: string, s: KeyState): void {
    if (!s.dirty && !s.inFlight && !s.timer && this.keys.get(key) === s) this.keys.delete(key);
    if (this.keys.size === 0) this.wakeIdle();
  }

  private wakeIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
