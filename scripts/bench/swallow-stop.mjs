/**
 * swallowStopMs: async-exc (and auto, which escalates to it) stopping a loop that swallows every exception,
 * `while True: try: work() except: pass` (workloads.swallow_loop): from task.stop() being called to its report
 * at the controller. The line hook that the first delivery installs in the stopped thread (pyleash.stop.rearm)
 * raises again at the first line after the swallowing handler.
 */
import { performance } from "node:perf_hooks";
import { runInChild } from "./procs.mjs";
import { stopFigures } from "./stats.mjs";
import { openWorker, sleep } from "./tasks.mjs";

export const SWALLOW_STRATEGIES = { "async-exc": { graceMs: 250 }, auto: { graceMs: 20 } };

// ---- child side -----------------------------------------------------------------------------------

/** `samples` stops per strategy (interleaved) of workloads.swallow_loop; e2e ms, outcomes, swallowed counts. */
export async function swallowSamples({ python, samples }) {
  const worker = await openWorker(python);
  const out = Object.fromEntries(Object.keys(SWALLOW_STRATEGIES).map((s) => [s, { ms: [], agentMs: [], outcomes: {}, swallowed: {} }]));
  try {
    for (let i = 0; i < samples; i++) {
      for (const [strategy, { graceMs }] of Object.entries(SWALLOW_STRATEGIES)) {
        const o = out[strategy];
        const task = await worker.start("workloads:swallow_loop", { kind: "thread" });
        await task.started;
        await sleep(1);
        const t0 = performance.now();
        const report = await task.stop({ strategy, graceMs, deadlineMs: 3_000 });
        const ms = performance.now() - t0;
        o.outcomes[report.outcome] = (o.outcomes[report.outcome] ?? 0) + 1;
        o.swallowed[report.swallowed] = (o.swallowed[report.swallowed] ?? 0) + 1;
        if (report.outcome !== "stopped") {
          await worker.restart(); // a task that could not be stopped keeps spinning: start over clean
          continue;
        }
        o.ms.push(ms);
        if (typeof report.latencyMs === "number") o.agentMs.push(report.latencyMs);
      }
    }
  } finally {
    await worker.close();
  }
  return out;
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const swallowStop = {
  key: "swallowStopMs",
  title: "Stopping a loop that swallows every exception (ms)",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const got = await runInChild(
      "swallow-stop.mjs",
      "swallowSamples",
      { python, samples: config.swallowSamples },
      { env, timeoutMs: 600_000 },
    );
    const { value, detail } = stopFigures(got);
    log(
      `swallowStopMs: ${Object.entries(value)
        .map(([k, v]) => `${k} ${v?.p50 ?? "—"}`)
        .join(", ")}`,
    );
    return {
      value,
      detail,
      method:
        `one worker; ${config.swallowSamples} samples per strategy, interleaved: start workloads.swallow_loop ` +
        "(`while True: try: work() except: pass`, work = 1 000 additions) as a thread task, await started, 1 ms, then time " +
        "task.stop() to the resolved report: async-exc with graceMs 250 (the re-delivery grace is 100 ms, so a p50 far " +
        "below it means the hook, not a re-delivery, ended the loop), and auto with graceMs 20 (flag for 20 ms, then " +
        "async-exc). Only stopped outcomes are timed; detail has outcomes and the swallowed counts reported.",
    };
  },
};
