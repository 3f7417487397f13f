// The one retry backoff of the project: exponential from an initial wait,
// capped, optionally jittered. The work queue uses it without jitter, the
// list+watch with. Pure.

/** Backoff between failed attempts: initial, doubled per failure, capped. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/**
 * The wait after `failures` consecutive failures: initialMs * 2^(failures-1),
 * capped at maxMs; 0 before any failure. `random` in [0, 1] jitters it into
 * [50 %, 100 %] of that (1, the default, is no jitter). Pure.
 */
export function backoffDelay(failures: number, backoff: Backoff, random = 1): number {
  if (failures <= 0) return 0;
  const base = Math.min(backoff.initialMs * 2 ** Math.min(failures - 1, 30), backoff.maxMs);
  return Math.round(base * (0.5 + 0.5 * random));
}
