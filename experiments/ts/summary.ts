/** The experiments × interpreters grid, shared by the terminal table, the Markdown and the HTML. */
import type { ExperimentsReport, Verdict } from "./types.js";

export interface Cell {
  verdict: Verdict;
  key: string;
  evidence: string;
}

export interface Row {
  id: string;
  article: string;
  cells: (Cell | undefined)[];
}

export function grid(report: ExperimentsReport): { versions: string[]; rows: Row[] } {
  const versions = report.pythons.map((p) => p.version);
  const rows = report.experiments.map((e) => ({
    id: e.id,
    article: e.article,
    cells: versions.map((v) => {
      const r = e.results.find((x) => x.python === v);
      return r && { verdict: r.verdict, key: r.key, evidence: r.evidence };
    }),
  }));
  return { versions, rows };
}

/** How many results hold, fail, or are n/a, per interpreter. */
export function tally(report: ExperimentsReport): Record<string, Record<Verdict, number>> {
  const out: Record<string, Record<Verdict, number>> = {};
  for (const p of report.pythons) out[p.version] = { holds: 0, fails: 0, "n/a": 0 };
  for (const e of report.experiments) for (const r of e.results) out[r.python]![r.verdict] += 1;
  return out;
}

/** What a report says of each interpreter's build: whether it has the GIL. */
export function describeBuild(freeThreaded: boolean): string {
  return freeThreaded ? "free-threaded: no GIL" : "with the GIL";
}
