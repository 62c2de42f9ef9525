/** Order statistics shared by the CLI, the experiments and the bench: linear interpolation between closest ranks. */

/** The q-quantile (0..1) of values already sorted ascending; NaN when there are none. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The q-quantile (0..1) of `values`; NaN when there are none. */
export function quantile(values: Iterable<number>, q: number): number {
  return quantileSorted(Float64Array.from(values).sort(), q);
}

/** The median; the mean of the two middle values for an even count; null when there are none. */
export function median(values: Iterable<number>): number | null {
  const m = quantile(values, 0.5);
  return Number.isNaN(m) ? null : m;
}
