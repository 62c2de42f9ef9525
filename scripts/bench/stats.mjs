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

/**
 * Stop timings per case: `value` has each case's p50/p99 (null when nothing was timed); `detail` the full summary,
 * n, the agent's own latencyMs p50, and the case's other tallies (outcomes, swallowed counts...). Each case is
 * `{ms: [...], agentMs: [...], ...tallies}`.
 */
export function stopFigures(cases) {
  const value = {};
  const detail = {};
  for (const [name, { ms, agentMs, ...tallies }] of Object.entries(cases)) {
    const s = ms.length ? summarize(ms, 2) : null;
    value[name] = s ? { p50: s.p50, p99: s.p99 } : null;
    const agent = agentMs.length ? summarize(agentMs, 3) : null;
    detail[name] = { ...(s ?? {}), n: ms.length, agentLatencyMsP50: agent ? round(agent.p50, 3) : null, ...tallies };
  }
  return { value, detail };
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
