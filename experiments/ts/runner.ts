/** Runs experiments on interpreters: fresh agents per experiment, a time limit each, progress as it goes. */
import { fileURLToPath } from "node:url";
import type { PythonInfo } from "../../dist/python/discover.js";
import { Worker } from "../../dist/worker/worker.js";
import {
  pythonLabel,
  type Context,
  type Experiment,
  type ExperimentRecord,
  type ExperimentResult,
  type ExperimentsReport,
  type Figures,
} from "./types.js";

export interface RunOptions {
  pythons: PythonInfo[];
  experiments: Experiment[];
  /** Smaller parameters, for CI and `npm start`. @default false */
  quick?: boolean;
  /** Called before and after each (experiment, interpreter) run. */
  onProgress?: (event: ProgressEvent) => void;
}

export interface ProgressEvent {
  done: number;
  total: number;
  id: string;
  python: string;
  /** Present once the run has finished. */
  result?: ExperimentResult;
}

const CALL_TIMEOUT_MS = 120_000;

/** Where the pyleash_experiments package lives (experiments/py): put on every experiment agent's pythonPath. */
export const EXPERIMENTS_PYTHON_PATH = fileURLToPath(new URL("../py", import.meta.url));

export async function runExperiments(options: RunOptions): Promise<ExperimentsReport> {
  const quick = options.quick ?? false;
  const started = Date.now();
  const records: ExperimentRecord[] = options.experiments.map((e) => ({
    id: e.id,
    article: e.article,
    claim: `“${e.claim.quote}” — ${e.claim.gloss}`,
    claimQuote: e.claim.quote,
    claimGloss: e.claim.gloss,
    method: e.method,
    results: [],
  }));
  const total = options.pythons.length * options.experiments.length;
  let done = 0;
  for (const python of options.pythons) {
    for (const [i, experiment] of options.experiments.entries()) {
      options.onProgress?.({ done, total, id: experiment.id, python: pythonLabel(python) });
      const result = await runOne(experiment, python, quick);
      records[i]!.results.push(result);
      done += 1;
      options.onProgress?.({ done, total, id: experiment.id, python: pythonLabel(python), result });
    }
  }
  return {
    pythons: options.pythons.map((p) => ({ path: p.path, version: pythonLabel(p), freeThreaded: p.freeThreaded })),
    quick,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    experiments: records,
  };
}

/** One experiment on one interpreter; never throws: a failure to measure is an "n/a" with the error as evidence. */
export async function runOne(experiment: Experiment, python: PythonInfo, quick: boolean): Promise<ExperimentResult> {
  const workers: Worker[] = [];
  let caller: Promise<Worker> | undefined;
  let finished = false;
  const ctx: Context = {
    python,
    quick,
    async worker(options = {}) {
      const pythonPath = [EXPERIMENTS_PYTHON_PATH, ...(options.pythonPath ?? [])];
      const worker = await Worker.start({ output: "ignore", ...options, pythonPath, python: python.path });
      if (finished) {
        // The experiment ran past its time limit and its workers are already closed: leave nothing behind.
        await worker.close();
        throw new Error("the experiment has already ended");
      }
      workers.push(worker);
      return worker;
    },
    async call<T>(target: string, kwargs: Record<string, unknown> = {}, timeoutMs = CALL_TIMEOUT_MS) {
      caller ??= ctx.worker();
      return (await caller).call<T>(target, [], kwargs, { timeoutMs });
    },
  };
  const params = quick ? experiment.params.quick : experiment.params.full;
  const limit = (quick ? experiment.timeoutMs?.quick : experiment.timeoutMs?.full) ?? (quick ? 60_000 : 300_000);
  const began = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const figures = await Promise.race([
      experiment.run(ctx, params),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms`)), limit);
      }),
    ]);
    const { verdict, evidence } = experiment.judge(figures);
    return { python: pythonLabel(python), verdict, figures, evidence, key: experiment.key(figures), durationMs: elapsed(began) };
  } catch (error) {
    const message = (error as Error).message?.split("\n")[0] ?? String(error);
    const figures: Figures = { measureError: message };
    return {
      python: pythonLabel(python),
      verdict: "n/a",
      figures,
      evidence: `Could not measure: ${message}`,
      key: "error",
      durationMs: elapsed(began),
    };
  } finally {
    clearTimeout(timer);
    finished = true;
    // Closing kills each agent's process group, sacrificial children and stuck tasks included.
    await Promise.all(workers.map((w) => w.close().catch(() => undefined)));
  }
}

function elapsed(began: number): number {
  return Math.round(performance.now() - began);
}
