/**
 * The experiments' API (cli.ts, which `pyleash experiments` loads on demand, and the tests use it). Not part of the
 * library: it lives outside ts/, builds to experiments/dist/, and neither package ships it (test/package.test.ts).
 */
export { progressPrinter } from "./progress.js";
export { EXPERIMENTS, selectExperiments } from "./registry.js";
export { reportHtml } from "./report-html.js";
export { reportJson } from "./report-json.js";
export { reportMarkdown } from "./report-md.js";
export { runExperiments, runOne, type ProgressEvent, type RunOptions } from "./runner.js";
export { grid, tally, type Cell, type Row } from "./summary.js";
export type { Experiment, ExperimentRecord, ExperimentResult, ExperimentsReport, Figures, Judgement, Verdict } from "./types.js";
