import { describe, expect, it } from "vitest";
import { pthreadKillMissing, pthreadKillSigtstp, sleepCaveat, daemonDies, signalsMainThread } from "../experiments/dist/a0.js";
import { ctypesIdent, lockNotReleased } from "../experiments/dist/a2.js";
import { hiddenStop } from "../experiments/dist/a3.js";
import { reportHtml } from "../experiments/dist/report-html.js";
import { reportMarkdown } from "../experiments/dist/report-md.js";
import { runExperiments } from "../experiments/dist/runner.js";
import { define } from "../experiments/dist/types.js";
import { gilFreeze, monitorKill, switchInterval } from "../experiments/dist/x.js";
import type { PythonInfo } from "../ts/index.js";

// Verdicts are pure functions of the figures: the same claim gets opposite verdicts from opposite observations.
describe("verdicts computed from figures", () => {
  it("says a0-pthread-kill-missing fails when pthread_kill is present and holds when it is missing", () => {
    expect(pthreadKillMissing.judge({ hasPthreadKill: true, hasSIGTSTP: true }).verdict).toBe("fails");
    expect(pthreadKillMissing.judge({ hasPthreadKill: false, hasSIGTSTP: true }).verdict).toBe("holds");
  });

  it("says pthread_kill(SIGTSTP) acts on one thread only when the main thread went on and the target did not", () => {
    const base = { asWritten: { error: null, ran: true }, stateAfter: "T", linesWhileStopped: 0, observeS: 0.3, error: null };
    const whole = { ...base, processStopped: true, mainLinesWhileStopped: 0, targetLinesWhileStopped: 0 };
    const alone = { ...base, stateAfter: "S", processStopped: false, mainLinesWhileStopped: 6, targetLinesWhileStopped: 0 };
    expect(pthreadKillSigtstp.judge(whole).verdict).toBe("fails");
    expect(pthreadKillSigtstp.judge(alone).verdict).toBe("holds");
    expect(pthreadKillSigtstp.judge({ ...alone, targetLinesWhileStopped: 3 }).verdict).toBe("n/a");
  });

  it("says the sleep caveat holds only when async-exc waited out the time left", () => {
    const point = (latencyMs: number) => ({ strategy: "async-exc", kind: "thread", sleepS: 1, leftMs: 900, latencyMs, outcome: "stopped" });
    expect(sleepCaveat.judge({ points: [point(880)] }).verdict).toBe("holds");
    expect(sleepCaveat.judge({ points: [point(3)] }).verdict).toBe("fails");
    expect(sleepCaveat.judge({ points: [] }).verdict).toBe("n/a");
  });

  it("says a daemon dies with the process only if the process exited without running its finally", () => {
    const base = { exitCode: 0, mainReturnedAtS: 0.3, exitedAtS: 0.35, begun: true, circles: 1, error: null };
    expect(daemonDies.judge({ ...base, exitedByItself: true, finallyRan: false }).verdict).toBe("holds");
    expect(daemonDies.judge({ ...base, exitedByItself: false, finallyRan: false }).verdict).toBe("fails");
  });

  it("says signal handlers rely on the main thread only when every handler ran there", () => {
    const base = { targets: ["a", "b"], handlerDelaysMs: [1, 2], mainSleepS: 1, error: null };
    expect(signalsMainThread.judge({ ...base, handlerThreads: ["MainThread", "MainThread"] }).verdict).toBe("holds");
    expect(signalsMainThread.judge({ ...base, handlerThreads: ["MainThread", "worker"] }).verdict).toBe("fails");
  });

  it("says a killed thread keeps its lock only when the bare-acquire lock stayed held", () => {
    const withLock = { killed: true, setAsyncExcResult: 1, lockFreeAfterKill: true };
    expect(lockNotReleased.judge({ bareAcquire: { killed: true, setAsyncExcResult: 1, lockFreeAfterKill: false }, withLock }).verdict).toBe(
      "holds",
    );
    expect(lockNotReleased.judge({ bareAcquire: { killed: true, setAsyncExcResult: 1, lockFreeAfterKill: true }, withLock }).verdict).toBe(
      "fails",
    );
  });

  it("says the article's ctypes calls work only when both reach the thread", () => {
    const base = { ident: 140000000000000, identAbove32Bits: true, cLongResult: 1, bareIdentError: null };
    expect(ctypesIdent.judge({ ...base, bareIdentResult: 1 }).verdict).toBe("holds");
    expect(ctypesIdent.judge({ ...base, bareIdentResult: 0 }).verdict).toBe("fails");
  });

  it("says the hidden _stop works only when join returned with the thread dead", () => {
    const base = { stopCalled: true, hung: false, deprecations: [] };
    expect(hiddenStop.judge({ ...base, joinReturned: true, threadAliveAfterJoin: false, exitCode: 0, error: null }).verdict).toBe("holds");
    const broken = {
      ...base,
      joinReturned: false,
      threadAliveAfterJoin: null,
      exitCode: 1,
      error: "TypeError: 'Event' object is not callable",
    };
    expect(hiddenStop.judge(broken).verdict).toBe("fails");
  });

  it("says the monitor stop is n/a when the report says unavailable, whatever the version", () => {
    const stop = {
      outcome: "unavailable",
      latencyMs: null,
      swallowed: 0,
      steps: ["monitor"],
      reason: "needs 3.12",
      rate: null,
      ratio: null,
    };
    const trace = { outcome: "stopped", latencyMs: 1, swallowed: 0, steps: ["trace"], rate: 1, ratio: 0.1 };
    expect(monitorKill.judge({ plainRate: 10, monitor: stop, trace }).verdict).toBe("n/a");
    expect(monitorKill.judge({ plainRate: 10, monitor: { ...stop, outcome: "stopped", latencyMs: 5, ratio: 0.98 }, trace }).verdict).toBe(
      "holds",
    );
  });

  it("says a smaller switch interval helps only when it measured faster with the most busy threads", () => {
    const rows = (slow: number, fast: number) => [
      { switchIntervalMs: 5, busy: 8, latencyMs: 1, e2eMs: slow },
      { switchIntervalMs: 0.2, busy: 8, latencyMs: 1, e2eMs: fast },
    ];
    expect(switchInterval.judge({ rows: rows(100, 10) }).verdict).toBe("holds");
    expect(switchInterval.judge({ rows: rows(10, 100) }).verdict).toBe("fails");
  });

  it("says the GIL-bound claims are n/a on a free-threaded build, from what the interpreter is, without running them", async () => {
    // No free-threaded CPython is installed here: a made-up one whose path does not exist shows that nothing ran.
    const freeThreaded: PythonInfo = {
      path: "/nonexistent/python3.13t",
      version: "3.13.0",
      implementation: "CPython",
      pyzmq: false,
      freeThreaded: true,
    };
    const report = await runExperiments({ pythons: [freeThreaded], experiments: [define(gilFreeze), define(switchInterval)] });
    expect(report.pythons).toEqual([{ path: freeThreaded.path, version: "3.13.0t", freeThreaded: true }]);
    for (const record of report.experiments) {
      const [result] = record.results;
      expect(result, record.id).toMatchObject({
        python: "3.13.0t",
        verdict: "n/a",
        figures: { freeThreaded: true, python: "3.13.0t" },
        key: "free-threaded",
      });
      expect(result!.evidence).toMatch(/free-threaded build/);
    }
    expect(reportMarkdown(report)).toContain("3.13.0t `/nonexistent/python3.13t` (free-threaded: no GIL)");
    expect(reportHtml(report)).toContain("(free-threaded: no GIL)");
  });

  it("judges the GIL-bound claims from their figures as before on a build with the GIL", () => {
    expect(gilFreeze.judge({ freeThreaded: true, python: "3.13.0t" }).verdict).toBe("n/a");
    const frozen = {
      threadsCallTimedOut: true,
      outcome: "worker-restarted" as const,
      agentResponsive: false,
      steps: ["async-exc"],
      stackFunctions: ["regex_freeze"],
      restartedWorkerAnswers: true,
    };
    expect(gilFreeze.judge(frozen).verdict).toBe("holds");
    expect(gilFreeze.judge({ ...frozen, threadsCallTimedOut: false, agentResponsive: true }).verdict).toBe("fails");
  });
});
