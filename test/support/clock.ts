// The one clock the tests compare times on: CLOCK_MONOTONIC, in milliseconds.
// It is shared by every process on the host (prober.mjs reads the same one)
// and, unlike Date.now(), never jumps when the wall clock is stepped, so a
// stepped clock cannot look like a silent VIP.

/** Milliseconds on the host's monotonic clock (same value in every process). */
export function monotonicNow(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** Converts a wall-clock time in ms (e.g. a kernel log stamp) to {@link monotonicNow}'s clock, as of this moment. */
export function fromWallClock(wallMs: number): number {
  return wallMs - (Date.now() - monotonicNow());
}
