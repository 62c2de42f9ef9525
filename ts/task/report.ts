/** What a stop reports, and what the agent says about its threads. */
import type { StopOutcome, Strategy } from "../protocol.js";

export type { StopOutcome };

/** One frame of a Python stack: innermost last in lists, or alone as `blockedIn`. */
export interface Frame {
  file: string;
  /** null where the interpreter could not tell (faulthandler prints ???). */
  line: number | null;
  function: string;
  /** The source line, when the file could be read. */
  code: string | null;
}

export interface StopStep {
  /** The strategy applied at this step (or "restart-worker"). */
  strategy: Strategy | "restart-worker";
  /** When the step began, in ms since the stop was asked. */
  atMs: number;
}

export interface StopReport {
  /** The strategy asked for. */
  strategy: Strategy;
  /** Every step taken, in order; `auto` shows its escalation here. */
  steps: StopStep[];
  outcome: StopOutcome;
  /** From the stop request to the thread (or process) observed gone, by the agent's monotonic clock; null if it never went. */
  latencyMs: number | null;
  /** How many TaskStopped deliveries the task caught and carried on after (bare `except:`). */
  swallowed: number;
  /**
   * Whether the task's stack unwound (its `finally` blocks ran): `true` once the stop's exception propagated out of
   * the task's function; `false` when it was killed (a process task's SIGKILL); `null` when it did not end, or when
   * it is not known: the exception left a `try` where this interpreter can skip the `finally` (CPython 3.13.0, a
   * `while <condition>:` that opens the `try`; docs/stop-strategies.md).
   */
  finallyRan: boolean | null;
  /** Where the task sits when it could not be stopped (innermost frame); null otherwise. */
  blockedIn: Frame | null;
  /** The whole stack of a blocked task, innermost last. */
  stack?: Frame[];
  /** Why the outcome is `unavailable`, or other facts about how the stop went. */
  reason?: string;
  /** False when the agent itself stopped answering (C code holding the GIL); the report then comes from the controller. */
  agentResponsive: boolean;
}

export interface ThreadInfo {
  name: string;
  ident: number;
  nativeId: number | null;
  daemon: boolean;
  alive: boolean;
  /** The task this thread runs, if any. */
  task: string | null;
  /** True for pyleash's own threads (control loop, call pool, lifeline). */
  agent: boolean;
  /** A stop gave up on the call or task this thread runs (blocked): the call pool no longer counts on it. */
  abandoned: boolean;
  /** Innermost last. */
  frames: Frame[];
}

/** A call or task that a stop gave up on (outcome `blocked`) and that still runs in the agent. */
export interface AbandonedWork {
  /** The task id (calls get one when they can be stopped: `c1`, `c2`…). */
  task: string;
  target: string;
  /** The Python thread that runs it. */
  ident: number | null;
  /** Its stack when asked, innermost last. */
  frames: Frame[];
}
