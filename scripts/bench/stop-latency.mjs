/**
 * stopLatencyMs: from task.stop() being called to its report arriving at the controller (end to end), per
 * strategy, on a pure-Python loop, with 0 and 8 other CPU-bound thread tasks in the same agent. The agent's
 * own figure (report.latencyMs: stop request received → thread seen dead) is kept beside it.
 */
import { execFile } from "node:child_process";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { runInChild } from "./procs.mjs";
import { round, summarize, median } from "./stats.mjs";
import { openWorker, sleep, startBusy, stopAll } from "./tasks.mjs";

/** What each strategy stops: the same loop (pyleash.demo:spin) where the strategy allows it. */
export const STOP_TARGETS = {
  "async-exc": { target: "pyleash.demo:spin", kind: "thread" },
  monitor: { target: "pyleash.demo:spin", kind: "thread" },
  trace: { target: "pyleash.demo:spin", kind: "thread", trace: true },
  flag: { target: "workloads:flag_loop", kind: "thread" }, // checks its stop_event on every iteration
  signal: { target: "pyleash.demo:spin", kind: "main" },
  terminate: { target: "pyleash.demo:spin", kind: "process" },
};
export const BUSY_LEVELS = [0, 8];
/** The row of the in-process floor (stop_floor.py) beside the strategies. */
export const FLOOR_ROW = "async-exc floor";
const SWITCH_INTERVAL_MS = 0.2; // the worker's default, which the stops above run at

/** The floor's latencies in ms: the same async-exc stop in one Python process, no pyleash (stop_floor.py). */
async function floorSamples(python, busy, samples) {
  const script = new URL("./stop_floor.py", import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(python, [script, String(busy), String(samples), String(SWITCH_INTERVAL_MS)], {
    timeout: 300_000,
  });
  return JSON.parse(stdout);
}

// ---- child side -----------------------------------------------------------------------------------

/**
 * One worker, `busy` spinning thread tasks, then `samples[strategy]` stops of each strategy, strategies
 * interleaved. Returns per strategy the end-to-end ms, the agent's latencyMs and the outcomes seen.
 */
export async function stopSamples({ python, busy, samples, switchIntervalMs }) {
  const worker = await openWorker(python, switchIntervalMs === undefined ? {} : { switchIntervalMs });
  samples = { ...samples };
  const strategies = Object.keys(samples);
  const out = Object.fromEntries(
    strategies.map((s) => [s, /** @type {Record<string, any>} */ ({ e2eMs: [], agentMs: [], outcomes: {}, steps: {} })]),
  );
  try {
    const others = await startBusy(worker, busy);
    const most = Math.max(...Object.values(samples));
    for (let i = 0; i < most; i++) {
      for (const strategy of strategies) {
        if (i >= samples[strategy]) continue;
        const { target, ...options } = STOP_TARGETS[strategy];
        if (process.env.BENCH_DEBUG) process.stderr.write(`[stop-latency] busy ${busy} ${strategy} #${i}\n`);
        const o = out[strategy];
        const starting = worker.start(target, options);
        if (!(await within(starting, 10_000))) {
          // Counted and reported: the start request got no reply (seen rarely with 8 busy threads).
          o.startLost = (o.startLost ?? 0) + 1;
          o.startLostPing ??= await worker.ping({ timeoutMs: 2_000 }).then(
            (p) => `ping ok, ${p.threads} threads`,
            (e) => `ping failed: ${e?.message ?? e}`,
          );
          o.startLostThreads ??= await threadSummary(worker);
          if (process.env.BENCH_DEBUG) process.stderr.write(`[stop-latency]   start lost: ${o.startLostPing}\n`);
          continue;
        }
        const task = await starting;
        if (!(await within(task.started, 10_000))) {
          // Counted and reported: a task that never announced its start (seen once, rarely, on the main lane).
          o.notStarted = (o.notStarted ?? 0) + 1;
          o.notStartedThreads ??= await threadSummary(worker);
          if (process.env.BENCH_DEBUG) process.stderr.write(`[stop-latency]   not started: ${o.notStartedThreads.join("; ")}\n`);
          samples[strategy] = 0; // its lane has stopped taking tasks: further samples would only wait
          await task.stop({ strategy: "auto", deadlineMs: 3_000 }).catch(() => {});
          continue;
        }
        if (options.trace) await inFunction(task, "spin"); // the kill is installed only once body() runs: see the note in detail
        await sleep(1); // the loop is past its first lines
        const t0 = performance.now();
        let report;
        try {
          report = await task.stop({ strategy, graceMs: 250, deadlineMs: 3_000 });
        } catch (error) {
          // Counted, not timed; the task is stopped again (untimed) so it does not spin on.
          o.errors = (o.errors ?? 0) + 1;
          if (process.env.BENCH_DEBUG) process.stderr.write(`[stop-latency]   error ${error}\n`);
          o.firstError ??= String(error instanceof Error ? error.message : error).split("\n")[0];
          await sleep(20);
          await task.stop({ strategy: "async-exc", deadlineMs: 3_000 });
          continue;
        }
        const ms = performance.now() - t0;
        if (process.env.BENCH_DEBUG) process.stderr.write(`[stop-latency]   ${report.outcome} ${ms.toFixed(2)} ms\n`);
        o.outcomes[report.outcome] = (o.outcomes[report.outcome] ?? 0) + 1;
        const path = report.steps.map((s) => s.strategy).join(">");
        o.steps[path] = (o.steps[path] ?? 0) + 1;
        if (report.outcome === "unavailable") {
          o.reason = report.reason;
          samples[strategy] = 0; // no point asking again; the task still runs
          await task.stop({ strategy: "async-exc", deadlineMs: 3_000 });
          continue;
        }
        if (report.outcome !== "stopped") continue;
        o.e2eMs.push(ms);
        if (typeof report.latencyMs === "number") o.agentMs.push(report.latencyMs);
      }
    }
    await stopAll(others);
  } finally {
    await worker.close();
  }
  return out;
}

/** Wait (up to 2 s) until the task's innermost frame is `fn`. */
async function inFunction(task, fn) {
  for (let i = 0; i < 200; i++) {
    const frames = await task.stack().catch(() => []);
    if (frames.some((f) => f.function === fn)) return;
    await sleep(10);
  }
}

/** Whether `promise` settled within `ms`. */
async function within(promise, ms) {
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(resolve, ms, false)));
  const ok = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    late,
  ]);
  clearTimeout(timer);
  return ok;
}

/** The agent's threads with the innermost frame of each, for a report on what was stuck. */
async function threadSummary(worker) {
  try {
    const threads = await worker.connection.request({ type: "threads" }, { timeoutMs: 2_000 });
    return threads.map((t) => `${t.name}: ${t.frames?.at?.(-1)?.function ?? "?"}:${t.frames?.at?.(-1)?.line ?? "?"}`);
  } catch (error) {
    return [`threads: ${error instanceof Error ? error.message : error}`];
  }
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const stopLatency = {
  key: "stopLatencyMs",
  title: "Stop latency (ms)",
  async run({ contenders, config, env, log, machine }) {
    const pythonVersion = machine.python.version;
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const monitorOk = versionAtLeast(pythonVersion, 3, 12);
    const counts = (busy) =>
      Object.fromEntries(
        Object.keys(STOP_TARGETS)
          .filter((s) => s !== "monitor" || monitorOk)
          .map((s) => [s, s === "terminate" ? config.stopSamplesSpawn : busy ? config.stopSamplesBusy : config.stopSamples]),
      );
    const value = {};
    const detail = {};
    for (const strategy of Object.keys(STOP_TARGETS)) {
      value[strategy] = {};
      detail[strategy] = {};
    }
    for (const busy of BUSY_LEVELS) {
      const got = await runInChild("stop-latency.mjs", "stopSamples", { python, busy, samples: counts(busy) }, { env, timeoutMs: 600_000 });
      for (const strategy of Object.keys(STOP_TARGETS)) {
        const g = got[strategy];
        if (!g || g.e2eMs.length === 0) {
          value[strategy][busy] = null;
          detail[strategy][busy] = g
            ? { outcomes: g.outcomes, reason: g.reason ?? null }
            : { reason: `needs CPython ≥ 3.12 (this run: ${pythonVersion})` };
          continue;
        }
        const s = summarize(g.e2eMs, 2);
        value[strategy][busy] = { p50: s.p50, p99: s.p99 };
        detail[strategy][busy] = {
          ...s,
          n: g.e2eMs.length,
          agentLatencyMsP50: round(median(g.agentMs), 3),
          outcomes: g.outcomes,
          steps: g.steps,
          ...(g.errors ? { errors: g.errors, firstError: g.firstError } : {}),
          ...(g.notStarted ? { notStarted: g.notStarted, notStartedThreads: g.notStartedThreads } : {}),
          ...(g.startLost ? { startLost: g.startLost, startLostPing: g.startLostPing, startLostThreads: g.startLostThreads } : {}),
        };
      }
      log(
        `stopLatencyMs busy ${busy}: ${Object.keys(STOP_TARGETS)
          .map((s) => `${s} ${value[s][busy]?.p50 ?? "—"}`)
          .join(", ")}`,
      );
    }
    value[FLOOR_ROW] = {};
    detail[FLOOR_ROW] = {};
    for (const busy of BUSY_LEVELS) {
      const ms = await floorSamples(python, busy, busy ? config.stopSamplesBusy : config.stopSamples);
      const s = summarize(ms, 2);
      value[FLOOR_ROW][busy] = { p50: s.p50, p99: s.p99 };
      detail[FLOOR_ROW][busy] = { ...s, n: ms.length };
    }
    log(`stopLatencyMs ${FLOOR_ROW}: ${BUSY_LEVELS.map((b) => `busy ${b} ${value[FLOOR_ROW][b].p50}`).join(", ")}`);
    if (!monitorOk) value.monitor = null;
    return {
      value,
      detail,
      notes: monitorOk ? undefined : { monitor: `sys.monitoring needs CPython ≥ 3.12; this run's Python is ${pythonVersion}` },
      method:
        `a fresh worker (builtin transport, switchIntervalMs default 0.2) per busy level; busy = that many ` +
        `pyleash.demo:spin thread tasks running throughout. Per sample: start the target task, await started, 1 ms, then ` +
        `time task.stop({strategy, graceMs: 250, deadlineMs: 3000}) from the call to the resolved report (which includes ` +
        `the task's end event); ${config.stopSamples} samples per strategy idle, ${config.stopSamplesBusy} with 8 busy, ` +
        `${config.stopSamplesSpawn} for terminate (a process spawn each), strategies interleaved. Targets: spin ` +
        "(a pure-Python loop) as a thread (async-exc, monitor; trace with trace: true), on the main lane (signal), " +
        "as a process (terminate); flag stops workloads.flag_loop, which checks stop_event every iteration. " +
        "Only stopped outcomes are timed; detail has the outcomes and the agent's own latencyMs median. " +
        `"${FLOOR_ROW}": the same stop with no pyleash (scripts/bench/stop_floor.py): one Python process at a ${SWITCH_INTERVAL_MS} ms ` +
        "switch interval, that many threads spinning pyleash.demo:spin's loop, a target thread spinning it too; the main thread, " +
        "woken from a sleep at a set moment, calls PyThreadState_SetAsyncExc on the target and joins it; timed from that moment " +
        "to the join's return (as many samples as the strategies).",
    };
  },
};

export function versionAtLeast(version, major, minor) {
  const [a, b] = String(version).split(".").map(Number);
  return a > major || (a === major && b >= minor);
}
