/** Order statistics for benchmark samples: percentiles by linear interpolation between closest ranks. */

/** The q-quantile (0..1) of `values`; NaN when there are none. */
export function quantile(values, q) {
  const sorted = Float64Array.from(values).sort();
  return quantileSorted(sorted, q);
}

function quantileSorted(sorted, q) {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(values) {
  return quantile(values, 0.5);
}

/** `{p50, p99, min, max}` of the samples, rounded to `digits` decimals. */
export function summarize(values, digits = 1) {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: round(quantileSorted(sorted, 0.5), digits),
    p99: round(quantileSorted(sorted, 0.99), digits),
    min: round(sorted[0] ?? NaN, digits),
    max: round(sorted[sorted.length - 1] ?? NaN, digits),
  };
}

/** Median of per-round figures, with their spread kept for the detail section. */
export function overRounds(perRound, digits = 1) {
  return {
    median: round(median(perRound), digits),
    min: round(Math.min(...perRound), digits),
    max: round(Math.max(...perRound), digits),
    rounds: perRound.map((v) => round(v, digits)),
  };
}

export function round(value, digits = 1) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The order contenders run in, rotated each round so none always goes first (or right after another). */
export function rotation(items, round) {
  const k = items.length ? round % items.length : 0;
  return [...items.slice(k), ...items.slice(0, k)];
}
