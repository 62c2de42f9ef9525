/** What an experiment is, what it gets to run with, and what it yields. */
import type { PythonInfo } from "../../dist/python/discover.js";
import type { WorkerOptions } from "../../dist/worker/options.js";
import type { Worker } from "../../dist/worker/worker.js";

export type Verdict = "holds" | "fails" | "n/a";

/** Raw observations, JSON; a verdict is re-derivable from them alone. */
export type Figures = Record<string, unknown>;

export interface Judgement {
  verdict: Verdict;
  /** One or two sentences of what was seen, with the numbers. */
  evidence: string;
}

export interface Context {
  python: PythonInfo;
  quick: boolean;
  /** A fresh agent on this interpreter; the runner closes it when the experiment ends. */
  worker(options?: Omit<WorkerOptions, "python">): Promise<Worker>;
  /** Call a `pyleash_experiments` function on a fresh agent (one per experiment, made on first use). */
  call<T = Figures>(target: string, kwargs?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
}

export interface Experiment<F extends object = Figures, P = Record<string, unknown>> {
  /** Stable, part of the interface: `a0-…` for article 000, `x-…` for pyleash's own findings. */
  id: string;
  article: "000" | "001" | "002" | "003" | "x";
  /** The article's sentence (Chinese, as printed) and an English gloss of the claim tested. */
  claim: { quote: string; gloss: string };
  /** How it is measured, including any mending of the article's code. */
  method: string;
  params: { quick: P; full: P };
  /** Measure; resolves to the figures. */
  run(ctx: Context, params: P): Promise<F>;
  /** Pure: the verdict and its evidence, from the figures alone. */
  judge(figures: F): Judgement;
  /** The key figure, short, for a table cell. */
  key(figures: F): string;
  /** Upper bound for one run. @default 60000 (quick) or 300000 (full) */
  timeoutMs?: { quick: number; full: number };
}

/** Erases an experiment's own figure and parameter types so that all of them fit one list. */
export function define<F extends object, P>(experiment: Experiment<F, P>): Experiment {
  return experiment as unknown as Experiment;
}

/** The figures of a GIL-bound experiment on a free-threaded build: what the interpreter is, nothing run. */
export interface NoGil {
  freeThreaded: true;
  /** The interpreter's version as its build is named, e.g. "3.13.0t". */
  python: string;
}

export function isNoGil(figures: object): figures is NoGil {
  return (figures as Partial<NoGil>).freeThreaded === true;
}

/**
 * For a claim about the GIL itself: on a free-threaded build (`Py_GIL_DISABLED`) `run` records only that and
 * `judge` says "n/a", since running would measure something else and give a wrong verdict; otherwise as given.
 */
export function needsGil<F extends object, P>(experiment: Experiment<F, P>): Experiment<F | NoGil, P> {
  return {
    ...experiment,
    async run(ctx, params) {
      if (ctx.python.freeThreaded) return { freeThreaded: true, python: pythonLabel(ctx.python) };
      return experiment.run(ctx, params);
    },
    judge(figures) {
      if (isNoGil(figures)) {
        const evidence = `Python ${figures.python} is a free-threaded build (Py_GIL_DISABLED): there is no GIL for this claim to be about; not run.`;
        return { verdict: "n/a", evidence };
      }
      return experiment.judge(figures);
    },
    key: (figures) => (isNoGil(figures) ? "free-threaded" : experiment.key(figures)),
  };
}

/** How the report names an interpreter: its version, with CPython's "t" for a free-threaded build ("3.13.0t"). */
export function pythonLabel(python: Pick<PythonInfo, "version" | "freeThreaded">): string {
  return python.freeThreaded ? `${python.version}t` : python.version;
}

export interface ExperimentResult {
  /** The interpreter, as `pythonLabel` names it: "3.11.7", or "3.13.0t" for a free-threaded build. */
  python: string;
  verdict: Verdict;
  figures: Figures;
  evidence: string;
  /** The table cell's figure. */
  key: string;
  durationMs: number;
}

export interface ExperimentRecord {
  id: string;
  article: Experiment["article"];
  /** The quote and its gloss, as one line. */
  claim: string;
  claimQuote: string;
  claimGloss: string;
  method: string;
  results: ExperimentResult[];
}

export interface ExperimentsReport {
  /** Each interpreter: `version` as `pythonLabel` names it, and whether the build is free-threaded (has no GIL). */
  pythons: { path: string; version: string; freeThreaded: boolean }[];
  quick: boolean;
  startedAt: string;
  durationMs: number;
  experiments: ExperimentRecord[];
}

/** Formatting shared by the key figures and the evidence. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 1 : 0)} ms`;
}

export function yesNo(value: unknown): string {
  return value ? "yes" : "no";
}
