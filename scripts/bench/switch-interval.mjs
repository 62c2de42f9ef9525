/**
 * switchInterval: the trade-off behind WorkerOptions.switchIntervalMs. For each interval, a fresh worker with
 * 8 CPU-bound thread tasks: their summed throughput (workloads.count_between, iterations/s), and the end-to-end
 * async-exc stop latency of a ninth spinning task while the 8 run.
 */
import { runInChild } from "./procs.mjs";
import { round, summarize } from "./stats.mjs";
import { openWorker } from "./tasks.mjs";

export const INTERVALS = [null, 1, 0.2, 0.05]; // null: Python's own 5 ms

// ---- child side -----------------------------------------------------------------------------------

/**
 * Summed iterations/s of `threads` thread tasks counting over the same `seconds` (workloads.count_between),
 * in a fresh worker. A shared window, not count_for each: tasks start one after another, and how staggered they
 * are depends on the interval itself (each start waits for the GIL), which would inflate the sum for long ones.
 */
export async function busyThroughput({ python, switchIntervalMs, threads, seconds }) {
  const worker = await openWorker(python, { switchIntervalMs });
  try {
    const start = (await worker.call("time:perf_counter")) + 0.3; // the tasks sleep until then: starts are cheap
    const tasks = [];
    for (let i = 0; i < threads; i++) {
      tasks.push(await worker.start("workloads:count_between", { args: [start, start + seconds], name: `count-${i}` }));
    }
    const counts = await Promise.all(tasks.map((t) => t.result));
    return counts.reduce((a, b) => a + b, 0) / seconds;
  } finally {
    await worker.close();
  }
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const switchInterval = {
  key: "switchInterval",
  title: "GIL switch interval: stop latency vs throughput",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const rows = [];
    for (const interval of INTERVALS) {
      const label = interval === null ? "5 (null: Python's own)" : String(interval);
      const rates = [];
      for (let r = 0; r < config.switchRounds; r++) {
        rates.push(
          await runInChild(
            "switch-interval.mjs",
            "busyThroughput",
            { python, switchIntervalMs: interval, threads: 8, seconds: config.switchSeconds },
            { env },
          ),
        );
      }
      const got = await runInChild(
        "stop-latency.mjs",
        "stopSamples",
        { python, busy: 8, samples: { "async-exc": config.switchStops }, switchIntervalMs: interval },
        { env, timeoutMs: 300_000 },
      );
      const s = summarize(got["async-exc"].e2eMs, 2);
      rates.sort((a, b) => a - b);
      rows.push(
        /** @type {Record<string, any>} */ ({
          switchIntervalMs: interval,
          asyncExcStopMs: { p50: s.p50, p99: s.p99 },
          busy8ItersPerS: Math.round(rates[Math.floor(rates.length / 2)]),
        }),
      );
      log(`switchInterval ${label} ms: async-exc p50 ${s.p50} p99 ${s.p99} ms, 8 threads ${rows.at(-1).busy8ItersPerS} it/s`);
    }
    const base = rows.find((r) => r.switchIntervalMs === null).busy8ItersPerS;
    for (const row of rows) row.throughputVsDefault = round(row.busy8ItersPerS / base, 3);
    return {
      value: rows,
      method:
        `an array, one row per switchIntervalMs (null = Python's 5 ms; pyleash's default is 0.2). Per interval ${config.switchRounds} fresh workers each running 8 ` +
        `workloads.count_between thread tasks counting over the same ${config.switchSeconds} s window of the agent's clock, iterations summed per second (median); then ` +
        `${config.switchStops} async-exc stops of a spinning task with 8 pyleash.demo:spin tasks running, end to end as in stopLatencyMs.`,
    };
  },
};
