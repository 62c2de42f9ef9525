/**
 * blockedStop: a task inside time.sleep(100), a C call. signal (main lane) and terminate (process) stop it:
 * time to the stopped report; async-exc on a thread cannot: time to the `blocked` report at deadlineMs 500.
 * End to end at the controller, as in stopLatencyMs.
 */
import { performance } from "node:perf_hooks";
import { runInChild } from "./procs.mjs";
import { summarize } from "./stats.mjs";
import { openWorker, sleep } from "./tasks.mjs";

export const BLOCKED = {
  signal: { kind: "main", stop: { strategy: "signal", deadlineMs: 3_000 }, expect: "stopped" },
  terminate: { kind: "process", stop: { strategy: "terminate", graceMs: 250, deadlineMs: 3_000 }, expect: "stopped" },
  "async-exc": { kind: "thread", stop: { strategy: "async-exc", deadlineMs: 500 }, expect: "blocked" },
};

// ---- child side -----------------------------------------------------------------------------------

/** `samples[strategy]` stops of a sleeping task each; ms per stop and the outcomes seen. */
export async function blockedSamples({ python, samples }) {
  const worker = await openWorker(python);
  const out = Object.fromEntries(Object.keys(samples).map((s) => [s, { ms: [], outcomes: {}, steps: {} }]));
  try {
    for (const [strategy, n] of Object.entries(samples)) {
      const { kind, stop, expect } = BLOCKED[strategy];
      for (let i = 0; i < n; i++) {
        const task = await worker.start("pyleash.demo:sleep", { args: [100], kind });
        await task.started;
        await sleep(5); // inside time.sleep by now
        const t0 = performance.now();
        const report = await task.stop(stop);
        const ms = performance.now() - t0;
        const o = out[strategy];
        o.outcomes[report.outcome] = (o.outcomes[report.outcome] ?? 0) + 1;
        const path = report.steps.map((s) => s.strategy).join(">");
        o.steps[path] = (o.steps[path] ?? 0) + 1;
        if (report.outcome === expect) o.ms.push(ms);
        // A blocked thread sleeps on with its exception armed; the worker's close takes it.
      }
    }
  } finally {
    await worker.close();
  }
  return out;
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const blockedStop = {
  key: "blockedStop",
  title: "Stopping a task blocked in time.sleep(100) (ms)",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const samples = { signal: config.blockedSamples, terminate: config.blockedSamples, "async-exc": config.blockedSamplesDeadline };
    const got = await runInChild("blocked-stop.mjs", "blockedSamples", { python, samples }, { env });
    const value = {};
    const detail = {};
    for (const [strategy, g] of Object.entries(got)) {
      const s = summarize(g.ms, 2);
      value[strategy] = g.ms.length ? s.p50 : null;
      detail[strategy] = { ...s, n: g.ms.length, expected: BLOCKED[strategy].expect, outcomes: g.outcomes, steps: g.steps };
    }
    log(
      `blockedStop: ${Object.entries(value)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
    return {
      value,
      detail,
      method:
        "one worker; pyleash.demo:sleep(100) started per sample (main lane for signal, a process for terminate, a thread " +
        `for async-exc), stopped 5 ms after its start: ${config.blockedSamples} samples each for signal and terminate (time to ` +
        `the stopped report), ${config.blockedSamplesDeadline} for async-exc with deadlineMs 500 (time to the blocked report). ` +
        "Median of the samples with the expected outcome, end to end at the controller; p99 in detail.",
    };
  },
};
