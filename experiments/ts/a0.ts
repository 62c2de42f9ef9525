/** Article 000: daemon threads, SetAsyncExc's sleep(100) caveat, pthread_kill, terminate, asyncio cancel, signals. */
import type { StopReport } from "../../dist/task/report.js";
import type { Strategy, TaskKind } from "../../dist/task/options.js";
import { reached, round } from "./tasks.js";
import { define, ms, type Experiment } from "./types.js";

const MOD = "pyleash_experiments.a0";

interface DaemonDies {
  exitedByItself: boolean;
  exitCode: number | null;
  mainReturnedAtS: number | null;
  exitedAtS: number;
  begun: boolean;
  finallyRan: boolean;
  circles: number;
  error: string | null;
}

export const daemonDies = define<DaemonDies, { wait: number; period: number }>({
  id: "a0-daemon-dies-with-process",
  article: "000",
  claim: {
    quote: "如果你设置一个线程为守护线程,就表示你在说这个线程是不重要的,在进程退出的时候,不用等待这个线程退出。",
    gloss: "A daemon thread does not keep the process alive; it dies with the process (its finally does not run).",
  },
  method:
    "Runs the article's circle() (try/finally printing 'end') as a setDaemon(True) thread in a sacrificial child; the " +
    "snippet's endless main loop is replaced by a return after `wait` s (parentheses the article left open are closed). " +
    "Observes whether the process exits by itself and whether 'end' is printed.",
  params: { quick: { wait: 0.3, period: 3 }, full: { wait: 1, period: 3 } },
  run: (ctx, p) => ctx.call(`${MOD}:daemon_dies`, p),
  judge(f) {
    if (!f.begun) return { verdict: "n/a", evidence: `The daemon thread never printed 'begin'${f.error ? ` (${f.error})` : ""}.` };
    const lag = f.mainReturnedAtS === null ? null : (f.exitedAtS - f.mainReturnedAtS) * 1000;
    const evidence =
      `Main returned at ${f.mainReturnedAtS ?? "?"} s; the process ${f.exitedByItself ? `exited by itself ${ms(lag)} later` : "did not exit"}` +
      ` while the daemon slept; its finally ${f.finallyRan ? "ran" : "did not run"}.`;
    return { verdict: f.exitedByItself && !f.finallyRan ? "holds" : "fails", evidence };
  },
  key: (f) => (f.exitedByItself ? `exit, finally ${f.finallyRan ? "ran" : "skipped"}` : "kept alive"),
});

interface OutlivesParent {
  parentEndedAtS: number | null;
  parentEndedBy: string | null;
  circlesAfterParentEnded: number;
  circlesTotal: number;
  windowS: number;
  error: string | null;
}

export const daemonOutlivesParent = define<OutlivesParent, { wait: number; period: number; window: number }>({
  id: "a0-daemon-outlives-parent-thread",
  article: "000",
  claim: {
    quote: "替换main函数执行,发现打印了 stoped 3这个标志后circle线程还在继续执行。",
    gloss: "A daemon thread started from a non-main thread keeps running after that thread has ended.",
  },
  method:
    "Runs the article's Daemon_thread() snippet (closing parentheses mended) in a sacrificial child and counts circle() " +
    "lines printed after the parent thread ended. As printed, `running` is assigned only after the main thread's sleep, " +
    "so Daemon_thread dies at once of a NameError, having already started circle(); the parent's end is taken from that " +
    "traceback (or from its 'end' line). circle()'s 3 s period is shortened in quick runs; the child is killed after the window.",
  params: { quick: { wait: 0.3, period: 0.05, window: 0.5 }, full: { wait: 3, period: 3, window: 7 } },
  run: (ctx, p) => ctx.call(`${MOD}:daemon_outlives_parent`, p),
  judge(f) {
    if (f.parentEndedAtS === null) return { verdict: "n/a", evidence: "The parent thread was never seen to end." };
    const evidence =
      `The parent thread ended at ${f.parentEndedAtS} s (${f.parentEndedBy === "NameError" ? "NameError: `running` undefined, as printed" : "returned"}); ` +
      `circle() printed ${f.circlesAfterParentEnded} more line(s) after that.`;
    return { verdict: f.circlesAfterParentEnded > 0 ? "holds" : "fails", evidence };
  },
  key: (f) => `${f.circlesAfterParentEnded} lines after`,
});

interface SetDaemon {
  works: boolean;
  daemon: boolean | null;
  error: string | null;
  warnings: string[];
}

export const setDaemon = define<SetDaemon, Record<string, never>>({
  id: "a0-setdaemon",
  article: "000",
  claim: {
    quote: "在线程开始(thread.start())之前,调用setDeamon()函数,设定线程的daemon标志。(thread.setDaemon(True))就表示这个线程“不重要”。",
    gloss: "`thread.setDaemon(True)` before start() makes the thread a daemon.",
  },
  method: "In the agent: `t.setDaemon(True)` on a new thread, then start and join it, recording every warning raised.",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:setdaemon`),
  judge(f) {
    const warned = f.warnings.find((w) => w.startsWith("DeprecationWarning"));
    if (!f.works) return { verdict: "fails", evidence: `setDaemon(True) did not make a daemon: ${f.error ?? `daemon=${f.daemon}`}.` };
    return { verdict: "holds", evidence: `setDaemon(True) made a daemon thread${warned ? `, with ${warned}` : ", without any warning"}.` };
  },
  key: (f) => (f.works ? (f.warnings.some((w) => w.startsWith("DeprecationWarning")) ? "works, deprecated" : "works") : "broken"),
});

export interface CaveatPoint {
  strategy: Strategy;
  kind: TaskKind;
  sleepS: number;
  leftMs: number;
  latencyMs: number | null;
  outcome: StopReport["outcome"];
  reason?: string;
}

interface Caveat {
  points: CaveatPoint[];
}

/** Whether a stop waited out (most of) the time left in the blocking call, rather than cutting it short. */
export function waitedOut(latencyMs: number | null, leftMs: number): boolean {
  return latencyMs !== null && latencyMs >= leftMs * 0.5;
}

export const sleepCaveat = define<Caveat, { sleeps: number[]; strategies: Strategy[] }>({
  id: "a0-async-exc-sleep-caveat",
  article: "000",
  claim: {
    quote: "尝试sleep(100)用你的方法杀死一个。它将在 100 秒后被“杀死”。",
    gloss: "A thread in time.sleep(S) is 'killed' by PyThreadState_SetAsyncExc only when the sleep returns.",
  },
  method:
    "Through the controller: starts pyleash_experiments.a0:sleep_for(S) as a task, waits until its stack shows the sleep, " +
    "then stops it with each strategy (async-exc on a thread; trace on a traced thread and monitor where available in full " +
    "runs; signal on the main thread for contrast) with a deadline past the sleep. Time left = S minus the time from " +
    "`started` to the stop request; latency is the agent's, from the request to the thread observed dead. " +
    "A point 'waited out' the sleep when latency ≥ half the time left.",
  params: {
    quick: { sleeps: [0.25, 0.5, 1], strategies: ["async-exc", "signal"] },
    full: { sleeps: [0.5, 1, 2, 5, 100], strategies: ["async-exc", "trace", "monitor", "signal"] },
  },
  timeoutMs: { quick: 60_000, full: 900_000 },
  async run(ctx, p) {
    const points: CaveatPoint[] = [];
    for (const strategy of p.strategies) {
      const worker = await ctx.worker();
      const kind: TaskKind = strategy === "signal" ? "main" : "thread";
      for (const sleepS of p.sleeps) {
        const task = await worker.start(`${MOD}:sleep_for`, { args: [sleepS], kind, trace: strategy === "trace" });
        await task.started;
        const startedAt = performance.now();
        await reached(task, "sleep_for");
        const askedAt = performance.now();
        const report = await task.stop({ strategy, deadlineMs: Math.ceil(sleepS * 1000) + 5_000 });
        await task.result.catch(() => undefined);
        const point: CaveatPoint = {
          strategy,
          kind,
          sleepS,
          leftMs: round(sleepS * 1000 - (askedAt - startedAt)),
          latencyMs: report.latencyMs === null ? null : round(report.latencyMs),
          outcome: report.outcome,
        };
        if (report.reason) point.reason = report.reason;
        points.push(point);
        if (report.outcome === "unavailable") break;
      }
    }
    return { points };
  },
  judge(f) {
    const asyncExc = f.points.filter((p) => p.strategy === "async-exc" && p.outcome === "stopped");
    if (!asyncExc.length) return { verdict: "n/a", evidence: "No async-exc stop completed." };
    const all = asyncExc.every((p) => waitedOut(p.latencyMs, p.leftMs));
    const longest = asyncExc.reduce((a, b) => (b.sleepS > a.sleepS ? b : a));
    const signal = f.points.filter((p) => p.strategy === "signal" && p.outcome === "stopped");
    const evidence =
      `async-exc ${all ? "waited out the sleep at every point" : "cut at least one sleep short"}: ` +
      `sleep(${longest.sleepS}) with ${ms(longest.leftMs)} left → stopped after ${ms(longest.latencyMs)}.` +
      (signal.length ? ` A signal to the main thread stopped the same sleep in ${signal.map((p) => ms(p.latencyMs)).join(", ")}.` : "");
    return { verdict: all ? "holds" : "fails", evidence };
  },
  key(f) {
    const p = f.points
      .filter((q) => q.strategy === "async-exc")
      .reduce<CaveatPoint | undefined>((a, b) => (!a || b.sleepS > a.sleepS ? b : a), undefined);
    return p ? `${ms(p.leftMs)} left → ${ms(p.latencyMs)}` : "–";
  },
});

interface PthreadKillMissing {
  hasPthreadKill: boolean;
  hasSIGTSTP: boolean;
}

export const pthreadKillMissing = define<PthreadKillMissing, Record<string, never>>({
  id: "a0-pthread-kill-missing",
  article: "000",
  claim: {
    quote: "我自己本身是python3.10,没有pthread_kill,可能是后续版本又做了去除。",
    gloss: "Python 3.10 has no signal.pthread_kill (perhaps removed in later versions).",
  },
  method: "In the agent: `hasattr(signal, 'pthread_kill')`. (The article's snippet fails for another reason: see a0-pthread-kill-sigtstp.)",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:pthread_kill_missing`),
  judge: (f) =>
    f.hasPthreadKill
      ? { verdict: "fails", evidence: "signal.pthread_kill exists on this interpreter." }
      : { verdict: "holds", evidence: "signal.pthread_kill is missing on this interpreter." },
  key: (f) => (f.hasPthreadKill ? "present" : "missing"),
});

interface Sigtstp {
  asWritten: { error: string | null; ran: boolean };
  processStopped: boolean;
  stateAfter: string | null;
  linesWhileStopped: number;
  mainLinesWhileStopped: number;
  targetLinesWhileStopped: number;
  observeS: number;
  error: string | null;
}

export const pthreadKillSigtstp = define<Sigtstp, { wait: number; period: number; observe: number }>({
  id: "a0-pthread-kill-sigtstp",
  article: "000",
  claim: {
    quote: "signal.pthread_kill操作:这个是最接近与 unix中pthread kill操作",
    gloss: "signal.pthread_kill(thread.ident, SIGTSTP) acts on that one thread, like a Unix pthread kill.",
  },
  method:
    "Runs the article's snippet in a sacrificial child (own process group, so SIGTSTP is not discarded as for an orphaned " +
    "group): first as printed (it calls `signal.pthread_kill` after importing only `pthread_kill`), then with the call mended " +
    "to the imported name and a main-thread heartbeat appended. Reads the child's state from /proc and counts, while it " +
    "should be stopped, the main thread's heartbeat lines and the target's counts apart; then SIGCONT + SIGKILL. Quick " +
    "runs shorten its sleep(5) and 1 s period.",
  params: { quick: { wait: 0.3, period: 0.05, observe: 0.3 }, full: { wait: 5, period: 1, observe: 1 } },
  run: (ctx, p) => ctx.call(`${MOD}:pthread_kill_sigtstp`, p),
  judge(f) {
    const written = f.asWritten.ran ? "As printed it ran." : `As printed it fails with ${f.asWritten.error}.`;
    const seen =
      `in ${f.observeS} s the main thread printed ${f.mainLinesWhileStopped} heartbeat line(s), ` +
      `the target thread ${f.targetLinesWhileStopped} count(s)`;
    if (f.processStopped && f.mainLinesWhileStopped === 0) {
      return { verdict: "fails", evidence: `${written} Mended, SIGTSTP stopped the whole process (state ${f.stateAfter}): ${seen}.` };
    }
    if (!f.processStopped && f.mainLinesWhileStopped > 0 && f.targetLinesWhileStopped === 0) {
      return { verdict: "holds", evidence: `${written} Mended, only the target thread stopped (state ${f.stateAfter}): ${seen}.` };
    }
    return {
      verdict: "n/a",
      evidence: `${written} Mended, neither the whole process nor the thread alone was seen stopped (state ${f.stateAfter}): ${seen}.`,
    };
  },
  key: (f) =>
    f.processStopped && f.mainLinesWhileStopped === 0
      ? "whole process stopped"
      : f.targetLinesWhileStopped === 0
        ? "thread stopped"
        : "not stopped",
});

interface Terminate {
  begun: boolean;
  childExitcode: number | null;
  stopped: boolean;
  bySignal: string | null;
  finallyRan: boolean;
  latencyMs: number | null;
  error: string | null;
}

export const terminate = define<Terminate, { wait: number; period: number }>({
  id: "a0-terminate",
  article: "000",
  claim: {
    quote: "我们可以调用它内部的函数terminate帮我们释放。例如t.terminate(),这样就可以强制让子进程退出了。",
    gloss: "multiprocessing's Process.terminate() forces the child process to exit.",
  },
  method:
    "Runs the article's multiprocessing snippet (parentheses mended) in a sacrificial child; its endless main loop becomes " +
    "a join that prints the exit code. Latency is from the 'stoped after' line to the join. 'end' shows whether circle()'s finally ran.",
  params: { quick: { wait: 0.3, period: 3 }, full: { wait: 1, period: 3 } },
  run: (ctx, p) => ctx.call(`${MOD}:terminate`, p),
  judge(f) {
    if (!f.begun) return { verdict: "n/a", evidence: `The child never began${f.error ? ` (${f.error})` : ""}.` };
    const evidence = f.stopped
      ? `The child exited with code ${f.childExitcode}${f.bySignal ? ` (${f.bySignal})` : ""} ${ms(f.latencyMs)} after terminate(); its finally ${f.finallyRan ? "ran" : "did not run"}.`
      : "The child was still alive after terminate() and a 10 s join.";
    return { verdict: f.stopped ? "holds" : "fails", evidence };
  },
  key: (f) => (f.stopped ? `${ms(f.latencyMs)}, finally ${f.finallyRan ? "ran" : "skipped"}` : "alive"),
});

interface CancelPoint {
  cancelled: boolean;
  latencyMs: number | null;
  blockS: number;
  leftMs: number | null;
}

interface AsyncioCancel {
  asWritten: { cancelPrinted: boolean; error: string | null; exitCode: number | null; warnings: string[] };
  atAwait: CancelPoint;
  inTimeSleep: CancelPoint;
}

export const asyncioCancel = define<AsyncioCancel, { block_s: number }>({
  id: "a0-asyncio-cancel",
  article: "000",
  claim: {
    quote: "使用协程取消,有两个重要部分:第一,替换旧的休眠函数为多协程的休眠函数;第二取消使用cancel()函数。",
    gloss: "cancel() stops a coroutine at its await; one stuck in the old blocking time.sleep cannot be cancelled until it returns.",
  },
  method:
    "Runs the article's asyncio snippet as printed in a sacrificial child (it passes bare coroutines to asyncio.wait). Then, in " +
    "the agent, cancels a coroutine from another thread 50 ms into `await asyncio.sleep(S)` and 50 ms into a blocking " +
    "`time.sleep(S)`, timing when CancelledError reaches it.",
  params: { quick: { block_s: 0.5 }, full: { block_s: 2 } },
  run: (ctx, p) => ctx.call(`${MOD}:asyncio_cancel`, p),
  judge(f) {
    const a = f.atAwait;
    const b = f.inTimeSleep;
    if (!a.cancelled || a.leftMs === null || b.leftMs === null) return { verdict: "n/a", evidence: "The await case was not cancelled." };
    const prompt = !waitedOut(a.latencyMs, a.leftMs);
    const blocked = b.cancelled && waitedOut(b.latencyMs, b.leftMs);
    const written = f.asWritten.cancelPrinted
      ? "As printed the snippet cancels its task."
      : `As printed the snippet fails: ${f.asWritten.error ?? `exit ${f.asWritten.exitCode}`}.`;
    const evidence = `At an await, cancel landed in ${ms(a.latencyMs)}; in time.sleep with ${ms(b.leftMs)} left, after ${ms(b.latencyMs)}. ${written}`;
    return { verdict: prompt && blocked ? "holds" : "fails", evidence };
  },
  key: (f) => `await ${ms(f.atAwait.latencyMs)} / sleep ${ms(f.inTimeSleep.latencyMs)}`,
});

interface SignalsMain {
  targets: string[];
  handlerThreads: string[];
  handlerDelaysMs: number[];
  mainSleepS: number;
  error: string | null;
}

export const signalsMainThread = define<SignalsMain, { main_sleep: number }>({
  id: "a0-signals-main-thread",
  article: "000",
  claim: {
    quote: "结论:处理信号靠的就是主线程,只有保证他活着,信号才能正确处理。",
    gloss: "Signal handling relies on the main thread: Python handlers run there, only while it can run.",
  },
  method:
    "A sacrificial child installs a SIGUSR1 handler that records its thread, sends SIGUSR1 to the process (os.kill) and " +
    "to a worker thread (pthread_kill) while the main thread is in time.sleep, and reports which thread ran each handler " +
    "and how long after the send.",
  params: { quick: { main_sleep: 0.5 }, full: { main_sleep: 2 } },
  run: (ctx, p) => ctx.call(`${MOD}:signals_main_thread`, p),
  judge(f) {
    if (!f.handlerThreads.length) return { verdict: "n/a", evidence: `No handler ran${f.error ? ` (${f.error})` : ""}.` };
    const allMain = f.handlerThreads.every((t) => t === "MainThread");
    const evidence = `${f.targets.map((t, i) => `aimed at ${t}: ran on ${f.handlerThreads[i] ?? "–"} after ${ms(f.handlerDelaysMs[i])}`).join("; ")}.`;
    return { verdict: allMain && f.handlerThreads.length === f.targets.length ? "holds" : "fails", evidence };
  },
  key: (f) => f.handlerThreads.join(", ") || "–",
});

export const experiments: Experiment[] = [
  daemonDies,
  daemonOutlivesParent,
  setDaemon,
  sleepCaveat,
  pthreadKillMissing,
  pthreadKillSigtstp,
  terminate,
  asyncioCancel,
  signalsMainThread,
];
