/** experiments.json: the report as data, exactly what `--json` prints. */
import type { ExperimentsReport } from "./types.js";

export function reportJson(report: ExperimentsReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
