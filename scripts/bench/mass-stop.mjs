/**
 * massStop: 100 spinning thread tasks (pyleash.demo:spin) stopped at once with the default ladder, beside the
 * in-process floor (stop_floor.py mass: the same number of threads, an asynchronous exception set in each from
 * one thread, then all joined). From the first stop to the last report at the controller; median over rounds.
 */
import { execFile } from "node:child_process";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { runInChild } from "./procs.mjs";
import { median, round } from "./stats.mjs";
import { openWorker } from "./tasks.mjs";

const SWITCH_INTERVAL_MS = 0.2; // the worker's default, which the stops run at

// ---- child side -----------------------------------------------------------------------------------

/** `rounds` rounds: a fresh worker, `n` spinning tasks, all stopped at once; ms to the last report, and the outcomes. */
export async function massSamples({ python, n, rounds }) {
  const out = { ms: [], outcomes: {} };
  for (let r = 0; r < rounds; r++) {
    const worker = await openWorker(python);
    try {
      const tasks = [];
      for (let i = 0; i < n; i++) tasks.push(await worker.start("pyleash.demo:spin"));
      await Promise.all(tasks.map((t) => t.started));
      const t0 = performance.now();
      const reports = await Promise.all(tasks.map((t) => t.stop()));
      out.ms.push(performance.now() - t0);
      for (const report of reports) {
        const outcome = `${report.outcome}${report.agentResponsive ? "" : " (controller)"}`;
        out.outcomes[outcome] = (out.outcomes[outcome] ?? 0) + 1;
      }
    } finally {
      await worker.close();
    }
  }
  return out;
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const massStop = {
  key: "massStop",
  title: "Spinning tasks stopped at once (ms to the last report) vs the in-process floor",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const { massStopTasks: n, massStopRounds: rounds } = config;
    const script = new URL("./stop_floor.py", import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(python, [script, "mass", String(n), String(rounds), String(SWITCH_INTERVAL_MS)], {
      timeout: 300_000,
    });
    const floorMs = JSON.parse(stdout);
    const got = await runInChild("mass-stop.mjs", "massSamples", { python, n, rounds }, { env, timeoutMs: 900_000 });
    const pyleash = round(median(got.ms), 1);
    const floor = round(median(floorMs), 1);
    const value = { pyleash, floor, ratio: floor ? round(pyleash / floor, 1) : null, n };
    log(`massStop: ${n} tasks: pyleash ${pyleash} ms, floor ${floor} ms`);
    return {
      value,
      detail: { pyleashMs: got.ms.map((v) => round(v, 1)), floorMs: floorMs.map((v) => round(v, 1)), outcomes: got.outcomes },
      method:
        `per round a fresh worker starts ${n} pyleash.demo:spin thread tasks, then stops them all at once (task.stop() ` +
        `with the defaults: flag, then async-exc after 250 ms; deadlineMs 3000): ms from the stops to the last report at the ` +
        `controller. The floor: scripts/bench/stop_floor.py mass, ${n} threads running the same loop in one Python process ` +
        `at a ${SWITCH_INTERVAL_MS} ms switch interval, PyThreadState_SetAsyncExc into each from one thread, then all joined ` +
        `(no ladder: its figure has no 250 ms flag step). Median of ${rounds} rounds each; outcomes in detail.`,
    };
  },
};
