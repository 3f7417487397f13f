// A coalescing work queue keyed by object: per-key dedupe, one run in flight
// per key, delayed adds, retry with exponential backoff, bounded concurrency. I/O-free (timers via Clock).
import { realClock, type Clock, type Timer } from "./clock.js";
import { backoffDelay } from "./backoff.js";

/** What a handler may ask for after a successful run. */
export interface HandlerResult {
  /** Run this key again after so many milliseconds (e.g. a timer in the business logic). */
  requeueAfterMs?: number;
}

/** Processes one key; a thrown error retries the key with backoff. */
export type KeyHandler = (key: string) => Promise<HandlerResult | void>;

export interface KeyedQueueOptions {
  handler: KeyHandler;
  /** How many keys run at once. Default 4. */
  concurrency?: number;
  clock?: Clock;
  /** First retry delay after an error; doubles per consecutive failure. Default 100 ms. */
  backoffBaseMs?: number;
  /** Upper bound of the retry delay. Default 30 s. */
  backoffMaxMs?: number;
  /** Called for every failed run (for logs and metrics). */
  onError?: (key: string, err: unknown, attempt: number) => void;
}

interface DelayedAdd {
  at: number;
  timer: Timer;
}

/**
 * Keys wait in insertion order; adding a key that already waits is a no-op,
 * adding a key that is running marks it to run once more after the current run
 * (never twice at once). So a burst of adds for one key is one run (or two,
 * when the burst straddles a run), whatever its length.
 */
export class KeyedQueue {
  private readonly ready = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, DelayedAdd>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: (() => void)[] = [];
  private readonly clock: Clock;
  private readonly concurrency: number;
  private stopped = false;

  constructor(private readonly opts: KeyedQueueOptions) {
    this.clock = opts.clock ?? realClock;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
  }

  /** Marks `key` to be processed as soon as a worker is free. */
  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.ready.add(key);
    this.pump();
  }

  /**
   * Adds `key` after `ms`. When the key already has a delayed add, the earlier
   * of the two wins, so repeated calls debounce to the first deadline.
   */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Whether the key runs now (an add then runs it once more right after). */
  isRunning(key: string): boolean {
    return this.running.has(key);
  }

  /** Whether the key waits, runs or has a delayed add. */
  has(key: string): boolean {
    return this.ready.has(key) || this.running.has(key) || this.delayed.has(key);
  }

  /** Keys waiting plus keys running. */
  get depth(): number {
    return this.ready.size + this.running.size;
  }

  /** Keys with a delayed add (timers). */
  get delayedCount(): number {
    return this.delayed.size;
  }

  /** Resolves once nothing waits and nothing runs (delayed adds are not waited for). */
  idle(): Promise<void> {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Drops waiting and delayed keys, accepts no more, and resolves when running keys finish. */
  async shutDown(): Promise<void> {
    this.stopped = true;
    this.ready.clear();
    this.dirty.clear();
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    await this.idle();
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.ready.size > 0) {
      const key = this.ready.values().next().value as string;
      this.ready.delete(key);
      this.running.add(key);
      void this.run(key);
    }
    if (this.depth === 0) this.notifyIdle();
  }

  private async run(key: string): Promise<void> {
    let requeueAfter: number | undefined;
    try {
      const res = await this.opts.handler(key);
      this.failures.delete(key);
      requeueAfter = res?.requeueAfterMs;
    } catch (err) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.opts.onError?.(key, err, attempt);
      requeueAfter = backoffDelay(attempt, { initialMs: this.opts.backoffBaseMs ?? 100, maxMs: this.opts.backoffMaxMs ?? 30_000 });
    }
    this.running.delete(key);
    if (this.dirty.delete(key)) this.ready.add(key);
    else if (requeueAfter !== undefined) this.addAfter(key, requeueAfter);
    this.pump();
  }

  private notifyIdle(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
