/** Article 003: six ways to kill a thread, each snippet run as printed in a sacrificial child. */
import { waitedOut } from "./a0.js";
import { define, ms, type Experiment } from "./types.js";

const MOD = "pyleash_experiments.a3";
const QUICK_WAIT =
  "Quick runs shorten the main thread's wait (time.sleep(2), (1), (5)) through a parameter; everything else is the article's text.";

interface AsyncExc {
  asPrinted: {
    raised: boolean;
    threadEnded: boolean;
    finallyRan: boolean;
    stopLatencyMs: number | null;
    loops: number;
    hungUntilKilled: boolean;
    error: string | null;
  };
  cLongVariant: { processExited: boolean; exitAfterStopMs: number | null; error: string | null };
}

export const asyncExc = define<AsyncExc, { wait: number; grace: number }>({
  id: "a3-async-exc",
  article: "003",
  claim: {
    quote: "只要函數 raise_exception() 被呼叫，目標函數 run() 就會結束。",
    gloss: "thread_with_exception.raise_exception() ends the busy loop and its finally runs.",
  },
  method:
    "Runs thread_with_exception as printed in a sacrificial child (the harness counts its repeated prints instead of " +
    "piping them all), killing the child `grace` s after the call if join() never returns. Also runs the lucky-heng " +
    `variant (c_long id) for contrast. ${QUICK_WAIT}`,
  params: { quick: { wait: 0.3, grace: 2 }, full: { wait: 2, grace: 5 } },
  run: (ctx, p) => ctx.call(`${MOD}:async_exc`, p),
  judge(f) {
    const a = f.asPrinted;
    if (!a.raised) return { verdict: "n/a", evidence: `raise_exception() was never called${a.error ? ` (${a.error})` : ""}.` };
    const evidence =
      (a.threadEnded
        ? `The loop ended ${ms(a.stopLatencyMs)} after raise_exception(); finally ${a.finallyRan ? "ran" : "did not run"}.`
        : `raise_exception() returned but the loop kept running (${a.loops} iterations) until the harness killed the process: ` +
          "it passes the bare ident, which ctypes truncates to a C int, so no thread matches and res is 0.") +
      ` The c_long variant ${f.cLongVariant.processExited ? `stopped its thread (exit ${ms(f.cLongVariant.exitAfterStopMs)} after stop_thread, when its sleep(1) returned)` : "did not stop its thread"}.`;
    return { verdict: a.threadEnded && a.finallyRan ? "holds" : "fails", evidence };
  },
  key: (f) => (f.asPrinted.threadEnded ? `ended, finally ${f.asPrinted.finallyRan ? "ran" : "skipped"}` : "never stopped"),
});

interface FlagRun {
  stopped: boolean;
  latencyMs: number | null;
  loops: number;
  error: string | null;
}

export const flag = define<{ globalFlag: FlagRun; lambdaFlag: FlagRun }, { wait: number; grace: number }>({
  id: "a3-flag",
  article: "003",
  claim: {
    quote: "一旦設定了全域變數 stop_threads，目標函數 run() 就會結束，並且可以使用 t1.join() 殺死執行緒 t1。",
    gloss: "The global flag, and the lambda flag, stop the loop.",
  },
  method: `Runs both snippets as printed in sacrificial children; 'thread killed' printed means join() returned. ${QUICK_WAIT}`,
  params: { quick: { wait: 0.2, grace: 2 }, full: { wait: 1, grace: 5 } },
  run: (ctx, p) => ctx.call(`${MOD}:flag`, p),
  judge(f) {
    const evidence =
      `Global flag: ${f.globalFlag.stopped ? `stopped ${ms(f.globalFlag.latencyMs)} after it was set` : `not stopped${f.globalFlag.error ? ` (${f.globalFlag.error})` : ""}`}; ` +
      `lambda flag: ${f.lambdaFlag.stopped ? `stopped ${ms(f.lambdaFlag.latencyMs)} after` : `not stopped${f.lambdaFlag.error ? ` (${f.lambdaFlag.error})` : ""}`}.`;
    return { verdict: f.globalFlag.stopped && f.lambdaFlag.stopped ? "holds" : "fails", evidence };
  },
  key: (f) => `${ms(f.globalFlag.latencyMs)} / ${ms(f.lambdaFlag.latencyMs)}`,
});

interface TraceKill {
  killed: boolean;
  stopLatencyMs: number | null;
  printedThreadKilled: boolean;
  error: string | null;
  slowdown: { plain: number; traced: number; factor: number | null };
}

export const traceKill = define<TraceKill, { wait: number; grace: number; slowdown_s: number }>({
  id: "a3-trace-kill",
  article: "003",
  claim: {
    quote: "無論何時設定相應執行緒的終止標誌（已終止），都會引發 SystemExit 異常執行下一行程式碼，結束目標函數func的執行。",
    gloss: "thread_with_trace.kill() ends the busy loop at its next line, and the snippet reports 'thread killed'.",
  },
  method:
    "Runs thread_with_trace in a sacrificial child, mended only where the print lost it (the first line's '#', the class " +
    "and function bodies' indentation); its last lines call t1.isAlive(). Slowdown: iterations per second of a loop in a " +
    `thread, plain against under the article's globaltrace/localtrace, in the agent. ${QUICK_WAIT}`,
  params: { quick: { wait: 0.3, grace: 2, slowdown_s: 0.3 }, full: { wait: 2, grace: 5, slowdown_s: 2 } },
  run: (ctx, p) => ctx.call(`${MOD}:trace_kill`, p),
  judge(f) {
    const evidence =
      `kill() ${f.killed ? `ended the loop (join returned ${ms(f.stopLatencyMs)} later)` : "did not end the loop"}; ` +
      `${f.printedThreadKilled ? "'thread killed' was printed" : `'thread killed' was not printed${f.error ? `: ${f.error}` : ""}`}. ` +
      `The traced loop ran ${f.slowdown.factor ?? "?"}× slower.`;
    return { verdict: f.killed && f.printedThreadKilled ? "holds" : "fails", evidence };
  },
  key: (f) => `${f.killed ? "killed" : "alive"}, isAlive ${f.printedThreadKilled ? "ok" : "✗"}, ${f.slowdown.factor ?? "?"}× slower`,
});

interface TraceBlocked {
  blockS: number;
  leftMs: number;
  threadEnded: boolean;
  stopLatencyMs: number | null;
  error: string | null;
}

export const traceBlocked = define<TraceBlocked, { block_s: number; grace: number }>({
  id: "a3-trace-blocked",
  article: "003",
  claim: {
    quote: "每個 trace 都會在檢測到某些刺激或標誌時自行終止，從而立即終止關聯的執行緒。",
    gloss:
      "Claimed: the trace kill ends the thread immediately. Tested: it cannot while the thread is in time.sleep — 'holds' means the thread is stuck until the sleep returns.",
  },
  method: "thread_with_trace (mended as in a3-trace-kill) running time.sleep(S), killed 50 ms in; latency from kill() to join() returning.",
  params: { quick: { block_s: 0.5, grace: 2 }, full: { block_s: 5, grace: 5 } },
  run: (ctx, p) => ctx.call(`${MOD}:trace_blocked`, p),
  judge(f) {
    if (!f.threadEnded) return { verdict: "n/a", evidence: `The thread never ended${f.error ? ` (${f.error})` : ""}.` };
    const evidence = `With ${ms(f.leftMs)} of sleep left, the traced thread ended ${ms(f.stopLatencyMs)} after kill().`;
    return { verdict: waitedOut(f.stopLatencyMs, f.leftMs) ? "holds" : "fails", evidence };
  },
  key: (f) => `${ms(f.leftMs)} left → ${ms(f.stopLatencyMs)}`,
});

interface TerminateAll {
  exitcodes: (number | null)[];
  prints: number;
  printsIfUninterrupted: number;
  error: string | null;
  startMethod: string;
}

export const terminateAll = define<TerminateAll, Record<string, never>>({
  id: "a3-terminate-all",
  article: "003",
  claim: {
    quote: "假設在上面的程式碼中，我們想要在 0.03s 過去後殺死所有處理程序。",
    gloss: "terminate() on every process after 0.03 s kills all three before they finish counting.",
  },
  method:
    "Runs the snippet as printed in a sacrificial child (it starts processes at module level, fine under the fork start " +
    "method), plus a join that prints each exit code. A negative exit code means ended by a signal.",
  params: { quick: {}, full: {} },
  run: (ctx) => ctx.call(`${MOD}:terminate_all`),
  judge(f) {
    if (f.exitcodes.length !== 3) return { verdict: "n/a", evidence: `No exit codes${f.error ? ` (${f.error})` : ""}.` };
    const killed = f.exitcodes.every((c) => c !== null && c < 0);
    const evidence = `Exit codes ${f.exitcodes.join(", ")}; ${f.prints} of ${f.printsIfUninterrupted} lines printed (start method ${f.startMethod}).`;
    return { verdict: killed ? "holds" : "fails", evidence };
  },
  key: (f) => `${f.exitcodes.join(",")}; ${f.prints}/${f.printsIfUninterrupted} lines`,
});

interface ExitRun {
  exitedByItself: boolean;
  exitAfterSysExitMs: number | null;
  printsAfterSysExit: number | null;
  observedS: number;
}

export const nonDaemonBlocksExit = define<{ nonDaemon: ExitRun; daemon: ExitRun }, { wait: number; observe: number }>({
  id: "a3-non-daemon-blocks-exit",
  article: "003",
  claim: {
    quote: "請注意，執行緒 t1 保持活動狀態並阻止主程序通過 sys.exit() 退出。",
    gloss: "A non-daemon thread keeps the process alive after sys.exit(); a daemon one does not.",
  },
  method:
    "Runs both sys.exit() snippets as printed in sacrificial children, watching each for `observe` s after the main thread's " +
    `sys.exit() (the harness marks that call), then kills what is left. ${QUICK_WAIT}`,
  params: { quick: { wait: 0.3, observe: 1.2 }, full: { wait: 2, observe: 3 } },
  run: (ctx, p) => ctx.call(`${MOD}:non_daemon_blocks_exit`, p),
  judge(f) {
    const blocked = !f.nonDaemon.exitedByItself && (f.nonDaemon.printsAfterSysExit ?? 0) > 0;
    const evidence =
      `Non-daemon: ${f.nonDaemon.exitedByItself ? "exited" : `still running ${f.nonDaemon.observedS} s after sys.exit(), ${f.nonDaemon.printsAfterSysExit} line(s) printed meanwhile`}; ` +
      `daemon: ${f.daemon.exitedByItself ? `exited ${ms(f.daemon.exitAfterSysExitMs)} after sys.exit()` : "kept running"}.`;
    return { verdict: blocked && f.daemon.exitedByItself ? "holds" : "fails", evidence };
  },
  key: (f) =>
    `${f.nonDaemon.exitedByItself ? "exits" : "blocks"} / daemon ${f.daemon.exitedByItself ? ms(f.daemon.exitAfterSysExitMs) : "blocks"}`,
});

interface HiddenStop {
  stopCalled: boolean;
  joinReturned: boolean;
  threadAliveAfterJoin: boolean | null;
  exitCode: number | null;
  hung: boolean;
  error: string | null;
  deprecations: string[];
}

export const hiddenStop = define<HiddenStop, { wait: number; grace: number }>({
  id: "a3-hidden-stop",
  article: "003",
  claim: {
    quote: "為了殺死一個執行緒，我們使用隱藏函數 _stop() 這個函數沒有記錄但可能會在下一版本的 python 中消失。",
    gloss: "The MyThread snippet (an Event stored in self._stop): stop() then join() ends the thread.",
  },
  method: `Runs the snippet as printed in a sacrificial child and reports whether join() returns, and any exception. ${QUICK_WAIT}`,
  params: { quick: { wait: 0.3, grace: 3 }, full: { wait: 5, grace: 5 } },
  run: (ctx, p) => ctx.call(`${MOD}:hidden_stop`, p),
  judge(f) {
    if (!f.stopCalled) return { verdict: "n/a", evidence: `stop() was never reached${f.error ? ` (${f.error})` : ""}.` };
    const ok = f.joinReturned && f.threadAliveAfterJoin === false && f.exitCode === 0;
    const evidence = ok
      ? `stop() then join() returned with the thread dead${f.deprecations.length ? ` (${f.deprecations[0]})` : ""}.`
      : `join() ${f.hung ? "never returned" : `raised ${f.error ?? "?"}`}: threading calls its own _stop(), which the Event now shadows.`;
    return { verdict: ok ? "holds" : "fails", evidence };
  },
  key: (f) => (f.joinReturned ? "join ok" : (f.error ?? "hung").split(":")[0]!),
});

export const experiments: Experiment[] = [asyncExc, flag, traceKill, traceBlocked, terminateAll, nonDaemonBlocksExit, hiddenStop];
