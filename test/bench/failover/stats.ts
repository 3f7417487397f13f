// Figures of the failover benchmark: percentiles and the VRRP floor that a
// failover cannot beat. Pure.

/** The p-th percentile (0..100) of `values` by linear interpolation between ranks; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

/** Median of `values`. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * keepalived's Master_Down_Interval (RFC 5798): 3 x advert interval plus the
 * skew time (256 - priority) / 256 x advert interval. A BACKUP takes over no
 * sooner after the last advert of a MASTER that fell silent.
 */
export function vrrpFloorMs(advertIntervalMs: number, priority: number): number {
  return 3 * advertIntervalMs + ((256 - priority) / 256) * advertIntervalMs;
}

/** Median and 95th percentile, rounded to whole ms, with the median as a ratio to `floorMs`. */
export interface Summary {
  medianMs: number;
  p95Ms: number;
  /** median / floor, 2 decimals. */
  ratio: number;
}

/** Summarises one series of measurements against the VRRP floor. */
export function summarize(values: readonly number[], floorMs: number): Summary {
  const m = median(values);
  return { medianMs: Math.round(m), p95Ms: Math.round(percentile(values, 95)), ratio: Math.round((m / floorMs) * 100) / 100 };
}

/** Formats ms as seconds with 2 decimals ("0.36 s"). */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
