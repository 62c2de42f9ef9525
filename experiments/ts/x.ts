/** pyleash's own findings, measured end to end through the controller's task API. */
import type { StopReport } from "../../dist/task/report.js";
import type { Worker } from "../../dist/worker/worker.js";
import { median } from "../../dist/util/stats.js";
import { delay, reached, round } from "./tasks.js";
import { define, ms, needsGil, type Experiment } from "./types.js";

const MOD = "pyleash_experiments.x";

/** The parts of a StopReport an experiment keeps. */
export interface StopFigures {
  outcome: StopReport["outcome"];
  latencyMs: number | null;
  swallowed: number;
  steps: string[];
  reason?: string;
}

function stopFigures(report: StopReport): StopFigures {
  const out: StopFigures = {
    outcome: report.outcome,
    latencyMs: report.latencyMs === null ? null : round(report.latencyMs),
    swallowed: report.swallowed,
    steps: report.steps.map((s) => s.strategy),
  };
  if (report.reason) out.reason = report.reason;
  return out;
}

interface Swallowed {
  single: { delivered: number; swallowed: boolean; aliveAfterMs: number; threadAlive: boolean };
  pyleash: StopFigures;
}

export const swallowedAsyncExc = define<Swallowed, Record<string, never>>({
  id: "x-swallowed-async-exc",
  article: "x",
  claim: {
    quote: "（文章未提）一个裸 except: 会吞掉一次异步异常。",
    gloss: "A bare `except:` swallows one async exception and the thread runs on; re-raising until the thread is dead stops it.",
  },
  method:
    "In the agent: one PyThreadState_SetAsyncExc into a loop wrapped in a bare except, then is the thread alive 200 ms " +
    "later? Then through the controller: pyleash_experiments.x:swallow_once as a task, stopped with async-exc (which " +
    "re-raises after each swallowed delivery); the report's outcome and `swallowed` count.",
  params: { quick: {}, full: {} },
  async run(ctx) {
    const single = await ctx.call<Swallowed["single"]>(`${MOD}:single_delivery_swallowed`);
    const worker = await ctx.worker();
    const task = await worker.start(`${MOD}:swallow_once`);
    await reached(task, "swallow_once");
    const report = await task.stop({ strategy: "async-exc", deadlineMs: 10_000 });
    await task.result.catch(() => undefined);
    return { single, pyleash: stopFigures(report) };
  },
  judge(f) {
    const once = f.single.swallowed && f.single.threadAlive;
    const stopped = f.pyleash.outcome === "stopped" && f.pyleash.swallowed >= 1;
    const evidence =
      `One delivery: ${f.single.swallowed ? "swallowed" : "not swallowed"}, thread ${f.single.threadAlive ? "alive" : "dead"} ${f.single.aliveAfterMs} ms later. ` +
      `pyleash async-exc: ${f.pyleash.outcome} after ${ms(f.pyleash.latencyMs)}, ${f.pyleash.swallowed} delivery(ies) swallowed on the way.`;
    return { verdict: once && stopped ? "holds" : "fails", evidence };
  },
  key: (f) => `${f.pyleash.outcome}, ${f.pyleash.swallowed} swallowed`,
});

interface MonitorKill {
  plainRate: number;
  monitor: StopFigures & { rate: number | null; ratio: number | null };
  trace: StopFigures & { rate: number | null; ratio: number | null };
  /** The same loop under article 003's own thread_with_trace, for pyleash's trace: true to be compared with. */
  article?: { rate: number | null; ratio: number | null };
}

/** Iterations per second of counting_spin while it runs as a task, from two counter readings. */
async function taskRate(worker: Worker, sampleMs: number): Promise<number | null> {
  const a = await worker.call<{ n: number; t: number }>(`${MOD}:read_counter`);
  await delay(sampleMs);
  const b = await worker.call<{ n: number; t: number }>(`${MOD}:read_counter`);
  return b.t > a.t ? Math.round((b.n - a.n) / (b.t - a.t)) : null;
}

export const monitorKill = define<MonitorKill, { sample_ms: number }>({
  id: "x-monitor-kill",
  article: "x",
  claim: {
    quote: "（文章未提）Python 3.12 的 sys.monitoring 可以只在停止时才打开事件。",
    gloss: "CPython ≥ 3.12: the sys.monitoring stop ends a pure-Python loop and costs nothing before the stop, unlike settrace.",
  },
  method:
    "Through the controller: counting_spin (a loop that publishes its count) as a task; its speed is read twice " +
    "`sample_ms` apart, then it is stopped with `monitor`. The same with `trace: true` and the `trace` strategy. Plain: " +
    "the same loop on a call thread; and the same loop under article 003's own thread_with_trace (article_counting_spin), " +
    "so pyleash's trace: true and the article's are read side by side. n/a where the monitor stop reports `unavailable`. Holds when the monitored task ran " +
    "at ≥ half the plain speed and stopped.",
  params: { quick: { sample_ms: 300 }, full: { sample_ms: 1_000 } },
  async run(ctx, p) {
    const worker = await ctx.worker();
    const plainRate = Math.round(await worker.call<number>(`${MOD}:plain_rate`, [p.sample_ms / 1000]));
    const measure = async (traced: boolean): Promise<StopFigures & { rate: number | null; ratio: number | null }> => {
      const task = await worker.start(`${MOD}:counting_spin`, { trace: traced });
      await reached(task, "counting_spin");
      const rate = await taskRate(worker, p.sample_ms);
      const report = await task.stop({ strategy: traced ? "trace" : "monitor", deadlineMs: 5_000 });
      if (report.outcome !== "stopped") await task.stop({ strategy: "async-exc", deadlineMs: 5_000 });
      await task.result.catch(() => undefined);
      return { ...stopFigures(report), rate, ratio: rate === null || !plainRate ? null : round(rate / plainRate, 2) };
    };
    const articleRate = async (): Promise<NonNullable<MonitorKill["article"]>> => {
      const task = await worker.start(`${MOD}:article_counting_spin`);
      await reached(task, "counting_spin");
      const rate = await taskRate(worker, p.sample_ms);
      await worker.call(`${MOD}:article_kill`); // its SystemExit at the next line ends the task
      if ((await task.stop({ strategy: "async-exc", deadlineMs: 5_000 })).outcome !== "stopped") await task.stop({ deadlineMs: 5_000 });
      await task.result.catch(() => undefined);
      return { rate, ratio: rate === null || !plainRate ? null : round(rate / plainRate, 2) };
    };
    return { plainRate, monitor: await measure(false), trace: await measure(true), article: await articleRate() };
  },
  judge(f) {
    if (f.monitor.outcome === "unavailable") {
      return { verdict: "n/a", evidence: `The monitor stop is unavailable here: ${f.monitor.reason ?? "no reason given"}.` };
    }
    const free = f.monitor.ratio !== null && f.monitor.ratio >= 0.5;
    const evidence =
      `Before the stop the task ran at ${f.monitor.ratio ?? "?"}× plain speed; monitor: ${f.monitor.outcome} in ${ms(f.monitor.latencyMs)}. ` +
      `Under settrace: ${f.trace.ratio ?? "?"}× plain speed, trace stop ${f.trace.outcome} in ${ms(f.trace.latencyMs)}; ` +
      `the same loop under the article's own thread_with_trace: ${f.article?.ratio ?? "?"}× plain speed.`;
    return { verdict: free && f.monitor.outcome === "stopped" ? "holds" : "fails", evidence };
  },
  key: (f) => (f.monitor.outcome === "unavailable" ? "unavailable" : `${ms(f.monitor.latencyMs)}, ${f.monitor.ratio}× speed`),
});

/** Each blocker, and its innermost Python frame once it sits in the blocking C call. */
const BLOCKERS = { sleep_long: "sleep_long", lock_wait: "lock_wait", queue_wait: "wait", subprocess_wait: "_try_wait" } as const;

interface MainLane {
  main: Record<string, StopFigures>;
  thread: Record<string, StopFigures>;
}

export const mainLaneSignal = define<MainLane, { thread_deadline_ms: number }>({
  id: "x-main-lane-signal",
  article: "x",
  claim: {
    quote: "（文章未提）信号只在主线程处理——那就把任务放在主线程上。",
    gloss:
      "On the main thread, a signal stops time.sleep(100), lock and queue waits and subprocess waits in milliseconds; on a worker thread the same blocks wait it out.",
  },
  method:
    "Through the controller: each blocker (sleep_long, lock_wait, queue_wait, subprocess_wait) as a `main` task stopped " +
    "with `signal`, and as a `thread` task stopped with `async-exc` and a short deadline (a fresh agent for each side).",
  params: { quick: { thread_deadline_ms: 300 }, full: { thread_deadline_ms: 2_000 } },
  async run(ctx, p) {
    const out: MainLane = { main: {}, thread: {} };
    for (const side of ["main", "thread"] as const) {
      const worker = await ctx.worker();
      for (const [fn, innermost] of Object.entries(BLOCKERS)) {
        const task = await worker.start(`${MOD}:${fn}`, { kind: side });
        await reached(task, fn, innermost);
        const report =
          side === "main"
            ? await task.stop({ strategy: "signal", deadlineMs: 5_000 })
            : await task.stop({ strategy: "async-exc", deadlineMs: p.thread_deadline_ms });
        if (report.outcome === "stopped") await task.result.catch(() => undefined);
        out[side][fn] = stopFigures(report);
      }
    }
    return out;
  },
  judge(f) {
    const main = Object.values(f.main);
    const thread = Object.values(f.thread);
    if (!main.length || !thread.length) return { verdict: "n/a", evidence: "Nothing measured." };
    const ok = main.every((s) => s.outcome === "stopped") && thread.every((s) => s.outcome === "blocked");
    const evidence =
      `Main thread + signal: ${Object.entries(f.main)
        .map(([k, s]) => `${k} ${s.outcome === "stopped" ? ms(s.latencyMs) : s.outcome}`)
        .join(", ")}. ` +
      `Worker thread + async-exc: ${Object.entries(f.thread)
        .map(([k, s]) => `${k} ${s.outcome}`)
        .join(", ")}.`;
    return { verdict: ok ? "holds" : "fails", evidence };
  },
  key(f) {
    const worst = Math.max(...Object.values(f.main).map((s) => s.latencyMs ?? Infinity));
    const blocked = Object.values(f.thread).filter((s) => s.outcome === "blocked").length;
    return `main ≤ ${ms(worst)}; thread ${blocked}/${Object.keys(f.thread).length} blocked`;
  },
});

interface SwitchRow {
  switchIntervalMs: number;
  busy: number;
  latencyMs: number | null;
  e2eMs: number | null;
}

interface SwitchInterval {
  rows: SwitchRow[];
}

export const switchInterval = needsGil<SwitchInterval, { busy: number[]; reps: number }>({
  id: "x-switch-interval",
  article: "x",
  claim: {
    quote: "（文章未提）忙碌的线程会让控制线程等待 GIL。",
    gloss:
      "With busy threads competing for the GIL, Python's default 5 ms switch interval slows a stop through the controller; a 0.2 ms interval keeps it short.",
  },
  method:
    "Through the controller: agents with Python's switch interval (5 ms) and with 0.2 ms (pyleash's default); with 0, 1 and " +
    "8 busy pure-Python thread tasks running, a spinning target is stopped with async-exc. e2eMs is the controller's time " +
    "for task.stop() to resolve, latencyMs the agent's. Holds when, at the most busy threads, the 5 ms agent's median e2e is the larger.",
  params: { quick: { busy: [0, 8], reps: 5 }, full: { busy: [0, 1, 8], reps: 15 } },
  async run(ctx, p) {
    const rows: SwitchRow[] = [];
    for (const interval of [5, 0.2]) {
      const worker = await ctx.worker({ switchIntervalMs: interval === 5 ? null : interval });
      let running = 0;
      for (const busy of p.busy) {
        for (; running < busy; running++) await (await worker.start("pyleash.demo:spin")).started;
        const latencies: number[] = [];
        const e2es: number[] = [];
        for (let rep = 0; rep < p.reps; rep++) {
          const task = await worker.start("pyleash.demo:spin");
          await reached(task, "spin");
          const began = performance.now();
          const report = await task.stop({ strategy: "async-exc", deadlineMs: 10_000 });
          e2es.push(performance.now() - began);
          if (report.latencyMs !== null) latencies.push(report.latencyMs);
          await task.result.catch(() => undefined);
        }
        const lat = median(latencies);
        const e2e = median(e2es);
        rows.push({
          switchIntervalMs: interval,
          busy,
          latencyMs: lat === null ? null : round(lat),
          e2eMs: e2e === null ? null : round(e2e),
        });
      }
    }
    return { rows };
  },
  judge(f) {
    const most = Math.max(...f.rows.map((r) => r.busy));
    const slow = f.rows.find((r) => r.busy === most && r.switchIntervalMs === 5)?.e2eMs;
    const fast = f.rows.find((r) => r.busy === most && r.switchIntervalMs !== 5)?.e2eMs;
    if (slow === undefined || fast === undefined || slow === null || fast === null)
      return { verdict: "n/a", evidence: "A stop did not complete." };
    const evidence =
      f.rows.map((r) => `${r.switchIntervalMs} ms/${r.busy} busy: ${ms(r.e2eMs)}`).join("; ") +
      `. With ${most} busy threads: ${ms(slow)} at 5 ms against ${ms(fast)} at 0.2 ms.`;
    return { verdict: slow > fast ? "holds" : "fails", evidence };
  },
  key(f) {
    const most = Math.max(...f.rows.map((r) => r.busy));
    const pick = (i: number) =>
      f.rows.find((r) => r.busy === most && (i === 5 ? r.switchIntervalMs === 5 : r.switchIntervalMs !== 5))?.e2eMs;
    return `${most} busy: ${ms(pick(5))} vs ${ms(pick(0))}`;
  },
});

interface GilFreeze {
  threadsCallTimedOut: boolean;
  outcome: StopReport["outcome"];
  agentResponsive: boolean;
  steps: string[];
  stackFunctions: string[];
  restartedWorkerAnswers: boolean;
}

export const gilFreeze = needsGil<GilFreeze, { deadline_ms: number }>({
  id: "x-gil-freeze",
  article: "x",
  claim: {
    quote: "（文章未提）持有 GIL 的 C 代码会冻结进程里的每一个线程。",
    gloss:
      "C code that holds the GIL (catastrophic regex backtracking) freezes every thread, so no in-process strategy acts; faulthandler still dumps the stacks, and only a process-level stop ends it.",
  },
  method:
    "Through the controller: x:regex_freeze as a thread task; then w.threads() with a 1 s timeout (the control loop must " +
    "answer it), then stop with `auto` and restartWorkerIfBlocked. The controller reads faulthandler's dump when the agent " +
    "does not answer, restarts the agent, and the new agent answers a call.",
  params: { quick: { deadline_ms: 1_000 }, full: { deadline_ms: 3_000 } },
  timeoutMs: { quick: 60_000, full: 120_000 },
  async run(ctx, p) {
    const worker = await ctx.worker();
    const task = await worker.start(`${MOD}:regex_freeze`);
    await task.started;
    await delay(100); // the regex needs no signal to start; this gives it the GIL before we probe
    let threadsCallTimedOut = false;
    try {
      await worker.threads({ timeoutMs: 1_000 });
    } catch {
      threadsCallTimedOut = true;
    }
    const report = await task.stop({ strategy: "auto", deadlineMs: p.deadline_ms, restartWorkerIfBlocked: true });
    let restartedWorkerAnswers = false;
    try {
      restartedWorkerAnswers = (await worker.call("math:floor", [2.5], {}, { timeoutMs: 10_000 })) === 2;
    } catch {
      restartedWorkerAnswers = false;
    }
    return {
      threadsCallTimedOut,
      outcome: report.outcome,
      agentResponsive: report.agentResponsive,
      steps: report.steps.map((s) => s.strategy),
      stackFunctions: (report.stack ?? []).map((f) => f.function),
      restartedWorkerAnswers,
    };
  },
  judge(f) {
    const dumped = f.stackFunctions.includes("regex_freeze");
    const ok = f.threadsCallTimedOut && !f.agentResponsive && dumped && f.outcome === "worker-restarted" && f.restartedWorkerAnswers;
    const evidence =
      `threads() ${f.threadsCallTimedOut ? "timed out" : "answered"}; the stop (${f.steps.join(" → ")}) ended ${f.outcome}, agent ` +
      `${f.agentResponsive ? "responsive" : "unresponsive"}; faulthandler's stack ${dumped ? "shows regex_freeze" : `shows ${f.stackFunctions.join(" > ") || "nothing"}`}; ` +
      `the restarted agent ${f.restartedWorkerAnswers ? "answers" : "does not answer"}.`;
    return { verdict: ok ? "holds" : "fails", evidence };
  },
  key: (f) => `${f.outcome}${f.stackFunctions.includes("regex_freeze") ? ", stack dumped" : ""}`,
});

export const experiments: Experiment[] = [swallowedAsyncExc, monitorKill, mainLaneSignal, define(switchInterval), define(gilFreeze)];
