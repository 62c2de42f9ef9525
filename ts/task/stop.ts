/**
 * Stopping a task: the agent runs the strategy or the escalation ladder and reports; the controller
 * watches the deadline itself, because C code holding the GIL freezes the agent's control loop too.
 */
import { AbortError } from "../errors.js";
import type { Worker } from "../worker/worker.js";
import { parseDump } from "./faulthandler.js";
import { type StopOptions, resolveStopOptions } from "./options.js";
import type { Frame, StopReport } from "./report.js";
import type { Task } from "./task.js";

/** How long past the deadline the agent has to deliver its report before it counts as frozen. */
const ANSWER_SLACK_MS = 1_000;
/** The task's end event leaves the agent beside the report; wait this long for it so `status` is current. */
const SETTLE_WAIT_MS = 2_000;

export async function stopTask(task: Task, worker: Worker, options: StopOptions): Promise<StopReport> {
  const resolved = resolveStopOptions(options);
  const { strategy, graceMs, deadlineMs, restartWorkerIfBlocked } = resolved;
  if (task.endReported) return endedFirst(task, strategy); // the agent keeps only its latest ended tasks
  const asked = performance.now();
  let report: StopReport;
  try {
    const reply = (await task.connection.request(
      { type: "stop", task: task.id, strategy, graceMs, deadlineMs },
      { timeoutMs: deadlineMs + Math.max(ANSWER_SLACK_MS, graceMs) },
    )) as Omit<StopReport, "agentResponsive">;
    report = { ...reply, agentResponsive: true };
  } catch (error) {
    if (!(error instanceof AbortError)) throw error;
    report = await frozenAgentReport(task, strategy, performance.now() - asked);
  }
  if (report.outcome === "blocked") task.markBlocked();
  if (report.outcome === "stopped" || report.outcome === "finished-first") await task.settled(SETTLE_WAIT_MS);
  if (report.outcome === "blocked" && restartWorkerIfBlocked && task.connection === worker.connection) {
    const atMs = performance.now() - asked;
    const where = report.blockedIn ? ` in ${report.blockedIn.function} (${report.blockedIn.file}:${report.blockedIn.line})` : "";
    await worker.restart(`task ${task.id} (${task.target}) could not be stopped: blocked${where}`);
    report = {
      ...report,
      outcome: "worker-restarted",
      steps: [...report.steps, { strategy: "restart-worker", atMs: round(atMs) }],
      latencyMs: round(performance.now() - asked),
      finallyRan: false,
    };
  }
  return report;
}

/** What the agent answers for a task that had ended before the stop: told here, without asking it. */
function endedFirst(task: Task, strategy: StopReport["strategy"]): StopReport {
  return {
    strategy,
    steps: [],
    outcome: "finished-first",
    latencyMs: null,
    swallowed: 0,
    finallyRan: null,
    blockedIn: null,
    reason: `the task had already ended (${task.status})`,
    agentResponsive: true,
  };
}

/** The agent did not answer in time: take its stacks from faulthandler, which runs without the GIL. */
async function frozenAgentReport(task: Task, strategy: StopReport["strategy"], elapsedMs: number): Promise<StopReport> {
  const dump = await task.connection.dumpThreads();
  const threads = parseDump(dump);
  const mine = task.ident === null ? undefined : threads.find((t) => t.ident === BigInt(task.ident!));
  const stack = [...((mine ?? threads.find((t) => t.current))?.frames ?? [])].reverse();
  const blockedIn: Frame | null = stack.at(-1) ?? null;
  return {
    strategy,
    steps: [{ strategy, atMs: 0 }],
    outcome: "blocked",
    latencyMs: null,
    swallowed: 0,
    finallyRan: null,
    blockedIn,
    stack,
    reason:
      `the agent did not answer within ${Math.round(elapsedMs)} ms: C code holding the GIL has frozen every ` +
      `thread of the process; the stack comes from faulthandler` + (dump ? "" : " (which wrote nothing)"),
    agentResponsive: false,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
