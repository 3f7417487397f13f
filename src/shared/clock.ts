// Time as a dependency: the real clock for production and a fake clock that
// tests advance by hand. The real clock does I/O (timers); the fake is pure.

/** A scheduled callback that can be cancelled. */
export interface Timer {
  cancel(): void;
}

/** Wall time and timers; injected so that time-based logic can be tested without waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimer(fn: () => void, ms: number): Timer;
  /**
   * Milliseconds on a clock that never steps (the process's monotonic clock),
   * for durations that must survive a stepped wall clock; without it, durations
   * are measured on now().
   */
  elapsed?(): number;
}

/** The system clock (Date.now and setTimeout; timers do not keep the process alive). */
export const realClock: Clock = {
  now: () => Date.now(),
  elapsed: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(resolve, ms));
}

/**
 * Resolves to what `work` resolves to, or to `fallback` once `ms` have passed
 * on `clock` (the work goes on; its result is then dropped).
 */
export function withTimeout<T>(clock: Clock, work: Promise<T>, ms: number, fallback: T): Promise<T> {
  return settleBy(clock, work, ms, (resolve) => resolve(fallback));
}

/** Like {@link withTimeout}, but rejects ("no answer within N ms") when the time is up. */
export function withDeadline<T>(clock: Clock, work: Promise<T>, ms: number): Promise<T> {
  return settleBy(clock, work, ms, (_resolve, reject) => reject(new Error(`no answer within ${ms} ms`)));
}

function settleBy<T>(clock: Clock, work: Promise<T>, ms: number, onTimeout: (resolve: (v: T) => void, reject: (err: Error) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimer(() => onTimeout(resolve, reject), ms);
    work.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (err: unknown) => {
        timer.cancel();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/** Resolves after pending promise callbacks (and the I/O phase) have run. */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that only moves when told to. Timers run in due order, each with
 * `now()` set to its due time; {@link FakeClock.advance} lets promises settle
 * between timers so async work started by a timer completes before the next.
 */
export class FakeClock implements Clock {
  private current: number;
  private timers: FakeTimer[] = [];
  private nextId = 1;

  constructor(start = Date.parse("2024-01-01T00:00:00Z")) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const timer: FakeTimer = { id: this.nextId++, at: this.current + Math.max(0, ms), fn };
    this.timers.push(timer);
    return { cancel: () => (this.timers = this.timers.filter((t) => t.id !== timer.id)) };
  }

  /** Number of timers not yet run. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, running every timer that falls due (in order), settling promises in between. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await flushMicrotasks();
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t.id !== due.id);
      this.current = Math.max(this.current, due.at);
      due.fn();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }
}
