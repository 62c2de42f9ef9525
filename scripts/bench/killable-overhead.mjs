/**
 * killableOverhead: how much slower a CPU-bound pure-Python function runs as a task under each stop
 * strategy's preparation than as a plain thread task. The function (workloads.count_for) runs for a fixed
 * time and returns its iteration count; ratio = plain iterations/s ÷ prepared iterations/s (1.10 = 10 % slower).
 */
import { runInChild } from "./procs.mjs";
import { median, round } from "./stats.mjs";
import { openWorker } from "./tasks.mjs";

/**
 * Preparations. async-exc and monitor install nothing while the task runs (monitor switches sys.monitoring
 * on only at stop time; async-exc's line hook, the lazy mechanism that defeats a swallowing loop, is installed
 * by the stop's first delivery, in the stopped thread), so theirs is the plain thread; each is still its own,
 * separately timed series, so its ratio shows what two runs of the same work differ by here.
 * "article-trace" runs the same loop under article 003's own thread_with_trace (workloads.article_trace_count_for),
 * beside trace (pyleash's trace: true), so the two settrace kills are compared on one loop.
 */
export const PREPARATIONS = {
  thread: { kind: "thread" },
  "async-exc": { kind: "thread" },
  monitor: { kind: "thread" },
  trace: { kind: "thread", trace: true },
  "article-trace": { kind: "thread", target: "workloads:article_trace_count_for" },
  // Right after a stop that used the lazy hook (a swallowing loop stopped by async-exc, untimed): what the hook
  // and the withdrawal of a pending exception leave behind, if anything, for the work that follows.
  "after-stop": { kind: "thread", afterStop: true },
  process: { kind: "process" },
};

// ---- child side -----------------------------------------------------------------------------------

/** `rounds` rounds, each running count_for(seconds) once per preparation (rotated); iterations/s per run. */
export async function overheadRuns({ python, rounds, seconds }) {
  const worker = await openWorker(python);
  const names = Object.keys(PREPARATIONS);
  const rates = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + r) % names.length];
        const { target = "workloads:count_for", afterStop = false, ...options } = PREPARATIONS[name];
        if (afterStop) {
          const swallowing = await worker.start("workloads:swallow_loop");
          await swallowing.started;
          await swallowing.stop({ strategy: "async-exc", deadlineMs: 3_000 });
        }
        const task = await worker.start(target, { args: [seconds], ...options });
        rates[name].push((await task.result) / seconds);
      }
    }
  } finally {
    await worker.close();
  }
  return rates;
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const killableOverhead = {
  key: "killableOverhead",
  title: "Killable task overhead (slowdown vs a plain thread task)",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const rates = await runInChild(
      "killable-overhead.mjs",
      "overheadRuns",
      { python, rounds: config.overheadRounds, seconds: config.overheadSeconds },
      { env },
    );
    const value = {};
    for (const name of Object.keys(PREPARATIONS)) {
      // Per round: the plain thread's rate over this preparation's; the median over rounds.
      value[name] = name === "thread" ? 1 : round(median(rates.thread.map((t, r) => t / rates[name][r])), 3);
    }
    log(
      `killableOverhead: ${Object.entries(value)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
    );
    return {
      value,
      detail: { itersPerSMedian: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(median(v))])), rounds: rates },
      method:
        `one worker; ${config.overheadRounds} rounds, each running workloads.count_for(${config.overheadSeconds}) (pure-Python ` +
        "arithmetic for a fixed time, returns its iterations) once per preparation, one task at a time, order rotated each round. " +
        "ratio = plain thread task's iterations/s ÷ the preparation's, per round, median. async-exc and monitor add nothing " +
        "while the task runs (pyleash arms sys.monitoring only when a stop fires), so they are the plain thread run again " +
        "as separate series (async-exc's is the cost of the lazy line hook before a stop: none is installed until then); " +
        "trace = started with trace: true (pyleash's settrace kill); article-trace = the same count_for under " +
        "article 003's thread_with_trace trace functions (a Python call per line), a plain thread task; after-stop = a plain " +
        "thread task started right after a swallowing loop was stopped with async-exc (untimed); process = kind process " +
        "(the function's own timing, so the spawn is not counted).",
    };
  },
};
