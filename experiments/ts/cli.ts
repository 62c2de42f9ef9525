/** The body of `pyleash experiments` (ts/cli/experiments.ts loads it): every claim of the four articles, measured on each interpreter; writes JSON, Markdown and HTML. */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type PythonInfo, resolvePythons } from "../../dist/python/discover.js";
import {
  progressPrinter,
  selectExperiments,
  reportHtml,
  reportJson,
  reportMarkdown,
  runExperiments,
  grid,
  type Experiment,
} from "./index.js";
import { errorText } from "../../dist/cli/call.js";
import { errorJson, printJson, table } from "../../dist/cli/output.js";

import type { ExperimentsOptions } from "../../dist/cli/experiments.js";

export async function experiments(options: ExperimentsOptions): Promise<number> {
  let pythons: PythonInfo[];
  let chosen: Experiment[];
  try {
    chosen = selectExperiments(
      (options.only ?? [])
        .flatMap((o) => o.split(","))
        .map((s) => s.trim())
        .filter(Boolean),
    );
    pythons = await resolvePythons(options.python ?? []);
  } catch (error) {
    if (options.json) printJson({ pythons: [], experiments: [], error: errorJson(error) });
    else process.stderr.write(`${errorText(error)}\n`);
    return 1;
  }
  // With --json, stdout carries only the JSON; progress goes to stderr either way.
  const report = await runExperiments({ pythons, experiments: chosen, quick: options.quick, onProgress: progressPrinter(process.stderr) });
  const dir = resolve(options.out);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "experiments.json"), reportJson(report));
  await writeFile(join(dir, "EXPERIMENTS.md"), reportMarkdown(report));
  await writeFile(join(dir, "index.html"), reportHtml(report));
  if (options.json) {
    printJson(report);
  } else {
    const { versions, rows } = grid(report);
    const body = rows.map((r) => [r.id, ...r.cells.map((c) => (c ? `${c.verdict} ${c.key}` : "–"))]);
    process.stdout.write(`${table(["experiment", ...versions], body)}\n`);
    process.stdout.write(
      `\n${(report.durationMs / 1000).toFixed(1)} s; wrote ${join(dir, "experiments.json")}, EXPERIMENTS.md, index.html\n`,
    );
  }
  // Verdicts are findings, not failures: only a run that could not measure anything is an error.
  const measured = report.experiments.some((e) => e.results.some((r) => !("measureError" in r.figures)));
  return measured ? 0 : 1;
}
