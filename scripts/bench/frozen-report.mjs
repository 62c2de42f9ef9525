/**
 * frozenReport: how long past `deadlineMs` the report of a stop comes when C code holding the GIL has frozen the
 * agent (pyleash.demo:freeze_gil, catastrophic regex backtracking): a task, and a call (from its timeout). The
 * controller makes that report itself (docs/stop-strategies.md "When the whole agent freezes"); its bound past
 * the deadline is what this measures. End to end at the controller.
 */
import { performance } from "node:perf_hooks";
import { runInChild } from "./procs.mjs";
import { summarize } from "./stats.mjs";
import { openWorker, sleep } from "./tasks.mjs";

const CALL_TIMEOUT_MS = 200;

// ---- child side -----------------------------------------------------------------------------------

/** For each deadline, `samples` frozen tasks and frozen calls, each on a fresh worker (a frozen one never thaws). */
export async function frozenSamples({ python, samples, deadlines }) {
  const out = {};
  for (const deadlineMs of deadlines) {
    const row = { task: { ms: [], outcomes: {} }, call: { ms: [], outcomes: {} } };
    for (let i = 0; i < samples; i++) {
      for (const what of ["task", "call"]) {
        const worker = await openWorker(python);
        try {
          let t0;
          let report;
          if (what === "task") {
            const task = await worker.start("pyleash.demo:freeze_gil");
            await task.started;
            await sleep(50); // inside the regex engine by now
            t0 = performance.now();
            report = await task.stop({ deadlineMs });
          } else {
            const call = worker.call("pyleash.demo:freeze_gil", [], {}, { timeoutMs: CALL_TIMEOUT_MS, stop: { deadlineMs } });
            t0 = performance.now() + CALL_TIMEOUT_MS; // the stop begins at the timeout
            report = (await call.catch((e) => e))?.stopReport;
          }
          const ms = performance.now() - t0;
          const o = row[what];
          const outcome = report ? `${report.outcome}${report.agentResponsive ? "" : " (controller)"}` : "no report";
          o.outcomes[outcome] = (o.outcomes[outcome] ?? 0) + 1;
          o.ms.push(ms - deadlineMs);
        } finally {
          await worker.close();
        }
      }
    }
    out[deadlineMs] = row;
  }
  return out;
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const frozenReport = {
  key: "frozenReport",
  title: "A frozen agent's stop report: ms past deadlineMs",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const args = { python, samples: config.frozenSamples, deadlines: config.frozenDeadlines };
    const got = await runInChild("frozen-report.mjs", "frozenSamples", args, { env, timeoutMs: 600_000 });
    const value = {};
    const detail = {};
    for (const [deadline, row] of Object.entries(got)) {
      value[deadline] = {};
      detail[deadline] = {};
      for (const [what, g] of Object.entries(row)) {
        const s = summarize(g.ms, 1);
        value[deadline][what] = g.ms.length ? s.p50 : null;
        detail[deadline][what] = { ...s, n: g.ms.length, outcomes: g.outcomes };
      }
    }
    log(
      `frozenReport: ${Object.entries(value)
        .map(([d, v]) => `${d} ms: task +${v.task}, call +${v.call}`)
        .join("; ")}`,
    );
    return {
      value,
      detail,
      method:
        `a fresh worker per sample runs pyleash.demo:freeze_gil (regex backtracking that holds the GIL), as a thread task ` +
        `stopped 50 ms after it started, and as a thread-lane call with timeoutMs ${CALL_TIMEOUT_MS}; deadlineMs ` +
        `${config.frozenDeadlines.join(", ")}; ${config.frozenSamples} samples each. The figure: ms from the stop's start (the ` +
        "call's timeout) to the report, minus deadlineMs; median, max in detail.",
    };
  },
};
