import { describe, expect, it } from "vitest";
import { EXPERIMENTS } from "../experiments/dist/registry.js";
import { runOne } from "../experiments/dist/runner.js";
import { probePython } from "../ts/index.js";
import { defaultPythonSpec } from "../ts/python/discover.js";

// The top-level figures each experiment must report; nested shapes are exercised by its judge.
const SHAPES: Record<string, string[]> = {
  "a0-daemon-dies-with-process": ["begun", "exitedAtS", "exitedByItself", "finallyRan", "mainReturnedAtS"],
  "a0-daemon-outlives-parent-thread": ["circlesAfterParentEnded", "parentEndedAtS", "parentEndedBy"],
  "a0-setdaemon": ["daemon", "warnings", "works"],
  "a0-async-exc-sleep-caveat": ["points"],
  "a0-pthread-kill-missing": ["hasPthreadKill"],
  "a0-pthread-kill-sigtstp": [
    "asWritten",
    "linesWhileStopped",
    "mainLinesWhileStopped",
    "targetLinesWhileStopped",
    "processStopped",
    "stateAfter",
  ],
  "a0-terminate": ["begun", "childExitcode", "finallyRan", "latencyMs", "stopped"],
  "a0-asyncio-cancel": ["asWritten", "atAwait", "inTimeSleep"],
  "a0-signals-main-thread": ["handlerDelaysMs", "handlerThreads", "targets"],
  "a1-stoppable-thread": ["points"],
  "a1-async-raise-errors": ["identAbove32Bits", "v1", "v2"],
  "a1-outside-interpreter": ["cCall", "pythonLoop"],
  "a2-lock-not-released": ["bareAcquire", "withLock"],
  "a2-queue-item-lost": ["consumerDead", "done", "leftInQueue", "taken"],
  "a2-kill-thread-id-kills-process": ["noHandler", "withHandler"],
  "a2-signal-any-thread": ["calls", "tids"],
  "a2-isalive": ["error", "ran", "threadStopped"],
  "a2-ctypes-ident": ["bareIdentResult", "cLongResult"],
  "a3-async-exc": ["asPrinted", "cLongVariant"],
  "a3-flag": ["globalFlag", "lambdaFlag"],
  "a3-trace-kill": ["killed", "printedThreadKilled", "slowdown"],
  "a3-trace-blocked": ["leftMs", "stopLatencyMs", "threadEnded"],
  "a3-terminate-all": ["exitcodes", "prints"],
  "a3-non-daemon-blocks-exit": ["daemon", "nonDaemon"],
  "a3-hidden-stop": ["joinReturned", "stopCalled", "threadAliveAfterJoin"],
  "x-swallowed-async-exc": ["pyleash", "single"],
  "x-monitor-kill": ["monitor", "plainRate", "trace"],
  "x-main-lane-signal": ["main", "thread"],
  "x-switch-interval": ["rows"],
  "x-gil-freeze": ["agentResponsive", "outcome", "stackFunctions", "threadsCallTimedOut"],
};

const python = await probePython(defaultPythonSpec());

describe(`each experiment on the default interpreter (${python.version})`, () => {
  it("lists every experiment id once, each with a shape to check", () => {
    const ids = EXPERIMENTS.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(Object.keys(SHAPES).sort());
  });

  for (const experiment of EXPERIMENTS) {
    it(`runs ${experiment.id} quickly, reports the expected figures, and its verdict follows from them`, { timeout: 120_000 }, async () => {
      const result = await runOne(experiment, python, true);
      expect(result.figures).not.toHaveProperty("measureError");
      for (const key of SHAPES[experiment.id]!) expect(result.figures).toHaveProperty(key);
      expect(["holds", "fails", "n/a"]).toContain(result.verdict);
      // Re-derive from the figures as they travel in experiments.json.
      const figures = JSON.parse(JSON.stringify(result.figures));
      expect(experiment.judge(figures)).toEqual({ verdict: result.verdict, evidence: result.evidence });
      expect(experiment.key(figures)).toBe(result.key);
      expect(result.evidence.length).toBeGreaterThan(10);
      expect(experiment.claim.quote).toMatch(/[\u4e00-\u9fff]/);
    });
  }
});
