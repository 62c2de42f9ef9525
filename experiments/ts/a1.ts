/** Article 001: StoppableThread, the two `_async_raise` versions, threads outside the interpreter. */
import { waitedOut } from "./a0.js";
import { define, ms, type Experiment } from "./types.js";

const MOD = "pyleash_experiments.a1";

interface Stoppable {
  points: { intervalMs: number; sleepLatencyMs: number | null; waitLatencyMs: number | null }[];
}

/** Slack for "stopped at its next check": scheduling on a loaded machine, not the interval itself. */
export const CHECK_SLACK_MS = 250;

export const stoppableThread = define<Stoppable, { intervals: number[] }>({
  id: "a1-stoppable-thread",
  article: "001",
  claim: {
    quote: "管理自己的线程,最好的处理方式是拥有一个请求退出标志,这样每个线程依据一定的时间间隔检查规则,看是不是需要退出。",
    gloss: "The Event-based StoppableThread stops when it next checks its flag.",
  },
  method:
    "In the agent: the article's StoppableThread with the loop it describes (check stopped(), then time.sleep(interval)), " +
    "stopped 30% into an interval; latency from stop() to join() returning. The same with `_stop_event.wait(interval)` " +
    `instead of sleep. Holds when every thread stopped within its interval (+${CHECK_SLACK_MS} ms of scheduling slack).`,
  params: { quick: { intervals: [0.05, 0.2, 0.4] }, full: { intervals: [0.05, 0.2, 0.5, 1, 2] } },
  run: (ctx, p) => ctx.call(`${MOD}:stoppable_thread`, p),
  judge(f) {
    if (!f.points.length) return { verdict: "n/a", evidence: "No interval measured." };
    const ok = f.points.every((p) => p.sleepLatencyMs !== null && p.sleepLatencyMs <= p.intervalMs + CHECK_SLACK_MS);
    const evidence =
      "stop() → join(): " +
      f.points.map((p) => `interval ${ms(p.intervalMs)}: ${ms(p.sleepLatencyMs)} (with Event.wait ${ms(p.waitLatencyMs)})`).join("; ") +
      ".";
    return { verdict: ok ? "holds" : "fails", evidence };
  },
  key(f) {
    const p = f.points[f.points.length - 1];
    return p ? `${ms(p.intervalMs)} → ${ms(p.sleepLatencyMs)}; wait ${ms(p.waitLatencyMs)}` : "–";
  },
});

interface RaiseOutcomes {
  instance: string;
  deadThreadId: string;
  liveThreadId: string;
}

interface RaiseErrors {
  deadIdent: number;
  identAbove32Bits: boolean;
  v1: RaiseOutcomes;
  v2: RaiseOutcomes;
  liveThreadHit: number;
}

export const asyncRaiseErrors = define<RaiseErrors, Record<string, never>>({
  id: "a1-async-raise-errors",
  article: "001",
  claim: {
    quote:
      'Python线程可以抛出异常来结束: 传参分别是线程id号和退出标识 … raise TypeError("Only types can be raised (not instances)") … raise ValueError("invalid thread id")',
    gloss: "_async_raise rejects an exception instance with TypeError and an unknown thread id with ValueError.",
  },
  method:
    "In the agent: the article's first _async_raise (bare int id, TypeError for instances) and its 'simplified' one " +
    "(c_long id, instances turned into their type), each called with an instance, a finished thread's ident, and a live " +
    "thread's ident (a thread that absorbs SystemExit). The verdict is on the first version, whose sentence this is.",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:async_raise_errors`),
  judge(f) {
    const ok = f.v1.instance === "TypeError" && f.v1.deadThreadId === "ValueError";
    const evidence =
      `First version: instance → ${f.v1.instance}, finished thread's id → ${f.v1.deadThreadId}, and a live thread's id → ` +
      `${f.v1.liveThreadId}${f.v1.liveThreadId === "ValueError" && f.identAbove32Bits ? " too (the bare int is truncated to a C int: idents here exceed 32 bits)" : ""}. ` +
      `Simplified (c_long): instance → ${f.v2.instance}, finished → ${f.v2.deadThreadId}, live → ${f.v2.liveThreadId}.`;
    return { verdict: ok ? "holds" : "fails", evidence };
  },
  key: (f) => `${f.v1.instance}/${f.v1.deadThreadId}; live→${f.v1.liveThreadId}`,
});

interface OutsideRun {
  threadEnded: boolean;
  latencyMs: number | null;
  /** Whether the thread's own `except SystemExit` saw it (on some versions it escapes the try). */
  caughtInThread: boolean;
  leftMs: number;
}

interface Outside {
  blockS: number;
  cCall: OutsideRun;
  pythonLoop: OutsideRun;
}

export const outsideInterpreter = define<Outside, { block_s: number }>({
  id: "a1-outside-interpreter",
  article: "001",
  claim: {
    quote: "如果线程在python解释器外运行时,它将不会捕获中断,即抛出异常后,不能对线程进行中断。",
    gloss: "A thread running outside the interpreter (in a C call) does not catch the exception until the call returns.",
  },
  method:
    "In the agent: the article's stop_thread (c_long _async_raise, SystemExit) 50 ms into a thread's time.sleep(S), " +
    "and into a pure-Python loop of the same length; latency until join() sees the thread end, and whether the thread's " +
    "own `except SystemExit` saw the exception.",
  params: { quick: { block_s: 0.5 }, full: { block_s: 5 } },
  run: (ctx, p) => ctx.call(`${MOD}:outside_interpreter`, p),
  judge(f) {
    if (!f.cCall.threadEnded || !f.pythonLoop.threadEnded) return { verdict: "n/a", evidence: "One of the threads never ended." };
    const waited = waitedOut(f.cCall.latencyMs, f.cCall.leftMs);
    const prompt = !waitedOut(f.pythonLoop.latencyMs, f.pythonLoop.leftMs);
    const evidence =
      `In time.sleep with ${ms(f.cCall.leftMs)} left, SystemExit landed after ${ms(f.cCall.latencyMs)}; in a Python loop after ${ms(f.pythonLoop.latencyMs)}.` +
      (f.cCall.caughtInThread && f.pythonLoop.caughtInThread
        ? ""
        : " The thread's own `except SystemExit` did not see it in the " +
          [f.cCall.caughtInThread ? "" : "C-call", f.pythonLoop.caughtInThread ? "" : "loop"].filter(Boolean).join(" and ") +
          " case: it ended the thread past its handler.");
    return { verdict: waited && prompt ? "holds" : "fails", evidence };
  },
  key: (f) => `C ${ms(f.cCall.latencyMs)} / Py ${ms(f.pythonLoop.latencyMs)}`,
});

export const experiments: Experiment[] = [stoppableThread, asyncRaiseErrors, outsideInterpreter];
