/**
 * Stopping a task: the agent runs the strategy or the escalation ladder and builds the report; the controller
 * only passes it on. It watches the deadline itself, because C code holding the GIL freezes the agent's control
 * loop too: then, and only then, the controller builds the report from faulthandler's dump and says so.
 */
import { TaskStoppedError } from "../errors.js";
import { CONTRACT, type Strategy, type TaskKind } from "../protocol.js";
import { roundMs, settlesWithin } from "../util/time.js";
import { type DumpedThread, parseDump } from "./faulthandler.js";
import type { TaskHost } from "./host.js";
import { type StopOptions, resolveStopOptions } from "./options.js";
import type { StopReport } from "./report.js";

/** How long past the deadline the agent's own report (sent at its deadline) has to arrive before the controller reports. */
const REPORT_SLACK_MS = 250;
/** Over how much of the time before that the agent is pinged and its threads watched on the CPU, should no report have come. */
const PROBE_MS = 500;
/** How much longer the report of an agent that answered the probe's ping is awaited: it is alive, its report is near. */
const ALIVE_SLACK_MS = 1_000;
/**
 * How much longer the report of a starved agent (no pong, but its threads take turns on the CPU) is awaited: its
 * Python runs, so its ladder goes on and its report is on its way behind the busy threads (100 spinning tasks
 * stopped at once: the last report ~7 s after the stops on a quiet machine). Only a frozen agent is reported at once.
 */
const STARVED_SLACK_MS = 10_000;
/** Dumps taken at most for a report: one more when the first lacks the task's thread. */
const DUMP_TRIES = 2;
/** How often a suspended process is checked for while the report is awaited. */
const SUSPEND_CHECK_MS = 1_000;
/** One thread took this share of the agent's CPU time over the probe window, while the control loop could not answer: frozen. */
const FROZEN_SHARE = 0.8;
/**
 * The agent sends a task's end event before (or in the same message as) a report that says it ended, so this
 * wait normally returns at once; it only bounds the wait should the agent break that promise.
 */
const END_EVENT_SLACK_MS = 5_000;

/** The task as the stop sees it. */
export interface StopSubject {
  readonly id: string;
  readonly kind: TaskKind;
  readonly target: string;
  readonly ident: number | null;
  readonly status: string;
  /** The agent has reported the task's end (it may since have forgotten the task). */
  readonly endReported: boolean;
  /** Settles when the task's result does. */
  readonly result: Promise<unknown>;
  markBlocked(): void;
}

export async function stopTask(task: StopSubject, host: TaskHost, options: StopOptions): Promise<StopReport> {
  const { strategy, graceMs, deadlineMs, restartWorkerIfBlocked } = resolveStopOptions(options, task.kind);
  if (task.endReported) return localReport(strategy, "finished-first", `the task had already ended (${task.status})`);
  const unreachable = host.unreachable?.();
  if (unreachable !== undefined) return { ...localReport(strategy, "unreachable", unreachable), agentResponsive: false };
  if (strategy !== "auto" && !host.strategies.includes(strategy)) {
    return localReport(strategy, "unavailable", unsupportedReason(strategy, host.python));
  }
  const asked = performance.now();
  const answer = host.request({ type: "stop", task: task.id, strategy, graceMs, deadlineMs }) as Promise<
    Omit<StopReport, "agentResponsive">
  >;
  // The task's end event, should it arrive while the agent's report does not: then the controller knows how it ended.
  let endedAs: "stopped" | "finished-first" | undefined;
  task.result.then(
    () => (endedAs = "finished-first"),
    (error: unknown) => (endedAs = error instanceof TaskStoppedError ? "stopped" : "finished-first"),
  );
  const answered = await answerOrSilence(answer, host, asked + deadlineMs + REPORT_SLACK_MS);
  let report: StopReport;
  // The end may arrive meanwhile. A stopped process cannot write a dump: the signal would only wait, and fire at a
  // random moment after SIGCONT, with faulthandler walking the stacks of threads that are busy freeing them.
  const dump = typeof answered === "string" && answered !== "suspended" ? await taskDump(task, host) : NO_DUMP;
  if (typeof answered !== "string") report = answered;
  else if (endedAs) {
    const how = endedAs === "stopped" ? "it was stopped" : "it had ended on its own";
    const why = `the agent's report did not come (its control loop could not get the GIL), but the task's end did: ${how}`;
    report = { ...localReport(strategy, endedAs, why), steps: [{ strategy, atMs: 0 }], agentResponsive: false };
  } else report = frozenAgentReport(strategy, performance.now() - asked, dump, answered);
  if (report.outcome === "blocked") task.markBlocked();
  if (report.outcome === "stopped" || report.outcome === "finished-first") await settlesWithin(task.result, END_EVENT_SLACK_MS);
  if (report.outcome === "blocked" && restartWorkerIfBlocked) {
    const atMs = performance.now() - asked;
    const where = report.blockedIn ? ` in ${report.blockedIn.function} (${report.blockedIn.file}:${report.blockedIn.line})` : "";
    if (await host.restartBlocked(`task ${task.id} (${task.target}) could not be stopped: blocked${where}`)) {
      report = {
        ...report,
        outcome: "worker-restarted",
        steps: [...report.steps, { strategy: "restart-worker", atMs: roundMs(atMs) }],
        latencyMs: roundMs(performance.now() - asked),
        finallyRan: false,
      };
    }
  }
  if (report.outcome === "blocked") host.gaveUp(report);
  return report;
}

/**
 * The agent's report, or why it did not come by `dueAt` (the deadline and a little slack): the controller honours
 * the deadline whatever the agent does. Over the last PROBE_MS before `dueAt` the agent is pinged and its threads
 * are watched on the CPU, so that at `dueAt` the controller knows a frozen agent (no pong, one thread alone on the
 * CPU) from a starved one (no pong, threads taking turns) or a slow one (pong: its report is awaited ALIVE_SLACK_MS
 * more). The agent's ladder goes on regardless: a later end still reaches the task (and its health).
 */
async function answerOrSilence(
  answer: Promise<Omit<StopReport, "agentResponsive">>,
  host: TaskHost,
  dueAt: number,
): Promise<StopReport | Silence> {
  const settled = answer.then(
    (reply) => ({ reply }),
    (error: unknown) => ({ error }),
  );
  const until = async (at: number): Promise<Awaited<typeof settled> | "suspended" | undefined> => {
    for (;;) {
      const left = at - performance.now();
      if (left <= 0) return undefined;
      // Wake now and then anyway: a suspended process will not answer, however long it is given.
      const outcome = await Promise.race([settled, delay(Math.min(SUSPEND_CHECK_MS, left))]);
      if (outcome) return outcome;
      if (host.suspended()) return "suspended";
    }
  };
  const answered = (outcome: Awaited<typeof settled>): StopReport => {
    if ("error" in outcome) throw outcome.error;
    return { ...outcome.reply, agentResponsive: true };
  };
  const probeAt = dueAt - PROBE_MS;
  let outcome = await until(probeAt);
  if (outcome === "suspended") return outcome;
  if (outcome) return answered(outcome);
  const window = Math.max(1, Math.round(dueAt - performance.now()));
  const probe = sharedProbe(host, window);
  outcome = await until(dueAt);
  if (outcome === "suspended") return outcome;
  if (outcome) return answered(outcome);
  const [pong, share] = await Promise.race([probe, delay(PROBE_MS).then(() => [false, undefined] as const)]);
  if (pong) {
    outcome = await until(performance.now() + ALIVE_SLACK_MS);
    if (outcome === "suspended") return outcome;
    return outcome ? answered(outcome) : "unanswered";
  }
  if (share === undefined) return "unresponsive";
  if (share >= FROZEN_SHARE) return "frozen";
  outcome = await until(performance.now() + STARVED_SLACK_MS);
  if (outcome === "suspended") return outcome;
  return outcome ? answered(outcome) : "starved";
}

type Probe = Promise<[pong: boolean, share: number | undefined]>;
const probes = new WeakMap<TaskHost, Probe>();

/**
 * The ping and the look at the agent's threads, shared by the stops of one agent whose probes overlap: 100 tasks
 * stopped at once would otherwise send a starved agent 100 pings to answer, and read every thread's /proc stat
 * 100 times over, while the machine is short of CPU already.
 */
function sharedProbe(host: TaskHost, windowMs: number): Probe {
  let probe = probes.get(host);
  if (probe === undefined) {
    const made: Probe = Promise.all([host.ping(windowMs), host.busiestThreadShare(windowMs)]);
    const forget = (): void => {
      if (probes.get(host) === made) probes.delete(host);
    };
    made.then(forget, forget);
    probes.set(host, made);
    probe = made;
  }
  return probe;
}

/** Why the agent's report did not come: see frozenAgentReport. */
type Silence = "frozen" | "unresponsive" | "starved" | "unanswered" | "suspended";

const SILENCE: Record<Silence, string> = {
  frozen: `nor a ping in the last ${PROBE_MS} ms before that, and one of its threads held the CPU alone meanwhile: C code holding the GIL has frozen it`,
  unresponsive: `nor a ping in the last ${PROBE_MS} ms before that: its control loop cannot get the GIL (C code holds it, or busy threads starve it; the controller could not tell which: no /proc, or too little CPU time to share out)`,
  starved: `nor a ping in the last ${PROBE_MS} ms before that, though its threads took turns on the CPU, nor in ${STARVED_SLACK_MS / 1000} s more: its busy threads starve the stop of the GIL (the stop goes on there)`,
  suspended: "because its process is stopped (SIGSTOP, or a debugger holds it): nothing in it runs until it is continued",
  unanswered: `though it answered a ping: it is alive, but its busy threads held its report ${ALIVE_SLACK_MS / 1000} s more (the stop goes on there)`,
};

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

/** A report the controller can give without asking the agent. */
function localReport(
  strategy: Strategy,
  outcome: "stopped" | "finished-first" | "unavailable" | "unreachable",
  reason: string,
): StopReport {
  return { strategy, steps: [], outcome, latencyMs: null, swallowed: 0, finallyRan: null, blockedIn: null, reason, agentResponsive: true };
}

/** pyleash's task wrapper: a call's own frames begin below it (py/pyleash/tasks/kind.py own_frames). */
const WRAPPER = /[\\/]pyleash[\\/]tasks[\\/]task\.py$/;

/**
 * A call's thread in the dump, when the call sent no ident (a pool thread takes it; telling the controller
 * which one would cost a message per call): the thread in pyleash's wrapper whose next frame is the target's
 * function, with its frames from there inward (the call's own frames, as the agent reports them). The
 * "current" thread of the dump is the one that took the signal (the idle main thread), never the frozen call.
 */
function callThread(threads: DumpedThread[], target: string): DumpedThread | undefined {
  const name = target
    .slice(target.lastIndexOf(":") + 1)
    .split(".")
    .pop();
  for (const thread of threads) {
    const at = thread.frames.findIndex((f, i) => WRAPPER.test(f.file) && thread.frames[i + 1]?.function === name);
    if (at >= 0) return { ...thread, frames: thread.frames.slice(at + 1) };
  }
  return undefined;
}

/** The task's thread in a dump: its own ident, or for a call (no ident known) the thread running its target. */
function taskThread(threads: DumpedThread[], task: StopSubject): DumpedThread | undefined {
  return task.ident === null ? callThread(threads, task.target) : threads.find((t) => t.ident === BigInt(task.ident!));
}

/**
 * faulthandler's dump, taken again once if it lacks the task's thread: an agent starved of the CPU in the middle
 * of writing it can pause long enough for the read to end early (seen under CI load: an empty stack).
 */
async function taskDump(task: StopSubject, host: TaskHost): Promise<Dump> {
  let dump = NO_DUMP;
  for (let i = 0; i < DUMP_TRIES; i++) {
    const text = await host.dumpThreads();
    const threads = parseDump(text);
    dump = { text, threads, mine: taskThread(threads, task) };
    if (!text || dump.mine) break;
  }
  return dump;
}

/** A dump as read for a report: its text, its threads, and the task's among them. */
interface Dump {
  text: string;
  threads: DumpedThread[];
  mine: DumpedThread | undefined;
}
const NO_DUMP: Dump = { text: "", threads: [], mine: undefined };

function unsupportedReason(strategy: Strategy, python: string): string {
  const spec = CONTRACT.strategies[strategy] as { minPython?: readonly number[]; posixOnly?: boolean };
  if (spec.minPython) return `strategy "${strategy}" needs CPython >= ${spec.minPython.join(".")}; this agent runs ${python}`;
  if (spec.posixOnly) return `strategy "${strategy}" needs POSIX signals, which this platform lacks`;
  return `strategy "${strategy}" is not supported by this agent's interpreter (${python})`;
}

/**
 * The agent did not answer in time: its stacks come from faulthandler, which runs without the GIL; the reason
 * says what the controller saw, and claims a freeze only when one thread alone used the CPU.
 */
function frozenAgentReport(strategy: Strategy, elapsedMs: number, { text: dump, threads, mine }: Dump, silence: Silence): StopReport {
  const current = mine ? undefined : threads.find((t) => t.current);
  const stack = (mine ?? current)?.frames ?? [];
  const missing = !dump
    ? " (which wrote nothing)"
    : mine
      ? ""
      : current
        ? ", which lacks the task's thread: the stack is the signalled thread's"
        : ", which lacks the task's thread";
  return {
    strategy,
    steps: [{ strategy, atMs: 0 }],
    outcome: "blocked",
    latencyMs: null,
    swallowed: 0,
    finallyRan: null,
    blockedIn: stack.at(-1) ?? null,
    stack,
    reason:
      `the agent did not answer the stop within ${Math.round(elapsedMs)} ms ${SILENCE[silence]}; ` +
      (silence === "suspended"
        ? "the controller made this report without stacks (a stopped process cannot dump them)"
        : `the controller made this report from faulthandler's dump${missing}`),
    agentResponsive: false,
  };
}
