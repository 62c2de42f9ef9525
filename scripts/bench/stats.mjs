/** Order statistics for benchmark samples: the library's quantiles (dist/util/stats.js; the bench runs after a build). */
import { median, quantile, quantileSorted } from "../../dist/util/stats.js";

export { median, quantile };

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
