/** Which figures each chart draws, pulled from the report's experiments by id. */
import { PALETTE, type BarGroup, type Series } from "./svg.js";
import type { ExperimentsReport, Figures } from "./types.js";

function figures(report: ExperimentsReport, id: string, python: string): Figures | undefined {
  const f = report.experiments.find((e) => e.id === id)?.results.find((r) => r.python === python)?.figures;
  return f && !("measureError" in f) ? f : undefined;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

const STRATEGY_COLORS: Record<string, string> = {
  "async-exc": PALETTE[0]!,
  trace: PALETTE[1]!,
  monitor: PALETTE[2]!,
  signal: PALETTE[3]!,
  "terminate (mp)": PALETTE[4]!,
};

/** Sleep caveat: stop latency against the time left in time.sleep, one line per strategy and interpreter. */
export function caveatSeries(report: ExperimentsReport): Series[] {
  const out: Series[] = [];
  for (const { version } of report.pythons) {
    const points = (figures(report, "a0-async-exc-sleep-caveat", version)?.points ?? []) as {
      strategy: string;
      leftMs: number;
      latencyMs: number | null;
      outcome: string;
    }[];
    const byStrategy = new Map<string, Series>();
    for (const p of points) {
      if (p.outcome !== "stopped" || p.latencyMs === null) continue;
      let s = byStrategy.get(p.strategy);
      if (!s) byStrategy.set(p.strategy, (s = { name: p.strategy, color: STRATEGY_COLORS[p.strategy] ?? PALETTE[6]!, points: [] }));
      s.points.push({ x: p.leftMs, y: p.latencyMs, label: `(${version})` });
    }
    out.push(...byStrategy.values());
  }
  return out;
}

/** Stop latency per strategy per interpreter, each from the experiment that measures it end to end. */
export function strategyLatencyGroups(report: ExperimentsReport): BarGroup[] {
  return report.pythons.map(({ version }) => {
    const sw = figures(report, "x-switch-interval", version)?.rows as
      | { switchIntervalMs: number; busy: number; latencyMs: number | null }[]
      | undefined;
    const mon = figures(report, "x-monitor-kill", version) as
      | { monitor?: { latencyMs: unknown; outcome: string }; trace?: { latencyMs: unknown; outcome: string } }
      | undefined;
    const lane = figures(report, "x-main-lane-signal", version) as
      | { main?: Record<string, { latencyMs: unknown; outcome: string }> }
      | undefined;
    const term = figures(report, "a0-terminate", version);
    const stopped = (s?: { latencyMs: unknown; outcome: string }) => (s && s.outcome === "stopped" ? num(s.latencyMs) : null);
    const values: Record<string, number | null> = {
      "async-exc": num(sw?.find((r) => r.busy === 0 && r.switchIntervalMs !== 5)?.latencyMs),
      trace: stopped(mon?.trace),
      monitor: stopped(mon?.monitor),
      signal: stopped(lane?.main?.sleep_long),
      "terminate (mp)": num(term?.latencyMs),
    };
    return { label: version, bars: Object.entries(values).map(([name, value]) => ({ name, color: STRATEGY_COLORS[name]!, value })) };
  });
}

/** How many times slower a pure-Python loop runs under settrace, per interpreter. */
export function slowdownGroups(report: ExperimentsReport): BarGroup[] {
  return report.pythons.map(({ version }) => {
    const article = figures(report, "a3-trace-kill", version)?.slowdown as { factor?: unknown } | undefined;
    const mon = figures(report, "x-monitor-kill", version) as { trace?: { ratio: unknown } } | undefined;
    const ratio = num(mon?.trace?.ratio);
    return {
      label: version,
      bars: [
        { name: "article's thread_with_trace", color: PALETTE[1]!, value: num(article?.factor) },
        { name: "pyleash trace task", color: PALETTE[5]!, value: ratio ? Math.round((1 / ratio) * 100) / 100 : null },
      ],
    };
  });
}
