/**
 * The experiments' entry: what `pyleash experiments` loads on demand. Not part of the library: nothing
 * reachable from `ts/index.ts` imports this folder (test/package.test.ts checks it).
 */
export { progressPrinter } from "./progress.js";
export { EXPERIMENTS, selectExperiments } from "./registry.js";
export { reportHtml } from "./report-html.js";
export { reportJson } from "./report-json.js";
export { reportMarkdown } from "./report-md.js";
export { runExperiments, runOne, type ProgressEvent, type RunOptions } from "./runner.js";
export { grid, tally, type Cell, type Row } from "./summary.js";
export type { Experiment, ExperimentRecord, ExperimentResult, ExperimentsReport, Figures, Judgement, Verdict } from "./types.js";
