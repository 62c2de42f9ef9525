/** `pyleash run <mod:func>`: start a task, stop it after --stop-after ms if still running, print the outcome. */
import type { Strategy, TaskKind } from "../protocol.js";
import type { StopReport } from "../task/report.js";
import { Worker } from "../worker/worker.js";
import type { TargetOptions } from "./target-options.js";
import { errorJson, printJson } from "./output.js";
import { progressOutput } from "./progress-bar.js";

/** What `run` accepts, after parsing. */
export interface RunOptions extends TargetOptions {
  kind: TaskKind;
  stopAfter?: number;
  strategy: Strategy;
  grace?: number;
  deadline?: number;
  restartWorkerIfBlocked?: boolean;
  trace?: boolean;
}

export async function run(target: string, options: RunOptions): Promise<number> {
  let worker: Worker | undefined;
  const progress = progressOutput(Boolean(options.json));
  const out: { status?: string; result?: unknown; error?: Record<string, unknown>; stop?: StopReport; interrupted?: boolean } = {};
  // Ctrl-C stops the task with the ladder and still prints the report; a second Ctrl-C kills as usual.
  let onInterrupt: (() => void) | undefined;
  const interrupted = new Promise<void>((resolve) => (onInterrupt = resolve));
  process.once("SIGINT", onInterrupt!);
  try {
    const stopAfter = options.stopAfter;
    worker = await Worker.start({
      python: options.python,
      pythonPath: options.pythonpath,
      transport: options.transport,
      output: "forward",
    });
    const task = await worker.start(target, {
      args: options.args,
      kwargs: options.kwargs,
      kind: options.kind,
      trace: options.trace,
      onProgress: progress.onProgress,
    });
    {
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        task.result.then(
          () => true,
          () => true,
        ),
        interrupted.then(() => {
          out.interrupted = true;
          return false;
        }),
        ...(stopAfter === undefined
          ? []
          : [task.started.then(() => new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), stopAfter))))]),
      ]);
      clearTimeout(timer); // a task that ended first must not keep the process alive until --stop-after
      if (!ended) {
        out.stop = await task.stop({
          strategy: options.strategy,
          graceMs: options.grace,
          deadlineMs: options.deadline,
          restartWorkerIfBlocked: options.restartWorkerIfBlocked,
        });
      }
    }
    if (!out.stop || out.stop.outcome === "stopped" || out.stop.outcome === "finished-first") {
      try {
        out.result = await task.result;
      } catch (error) {
        out.error = errorJson(error);
      }
    }
    out.status = task.status;
  } catch (error) {
    out.status ??= "error";
    out.error = errorJson(error);
  } finally {
    process.off("SIGINT", onInterrupt!);
    progress.done();
    await worker?.close();
  }
  if (options.json) printJson(out);
  else process.stdout.write(`${describeRun(out)}\n`);
  if (out.interrupted) return 130; // 128 + SIGINT, as a shell reports a Ctrl-C
  return out.status === "finished" || out.stop?.outcome === "stopped" || out.stop?.outcome === "finished-first" ? 0 : 1;
}

function describeRun(out: { status?: string; result?: unknown; error?: Record<string, unknown>; stop?: StopReport }): string {
  const lines = [`status: ${out.status}`];
  if (out.result !== undefined) lines.push(`result: ${JSON.stringify(out.result)}`);
  if (out.stop) lines.push(...describeStop(out.stop));
  if (out.error && out.status !== "stopped") lines.push(`error: ${String(out.error.message)}`);
  return lines.join("\n");
}

/** A stop report as lines of text, for `run` and `call`. */
export function describeStop(s: StopReport): string[] {
  const lines = [`stop: ${s.outcome} via ${s.steps.map((step) => `${step.strategy}@${step.atMs}ms`).join(" → ") || s.strategy}`];
  if (s.latencyMs !== null) lines.push(`latency: ${s.latencyMs} ms, swallowed: ${s.swallowed}, finally ran: ${s.finallyRan}`);
  if (s.blockedIn) lines.push(`blocked in: ${s.blockedIn.function} (${s.blockedIn.file}:${s.blockedIn.line}) ${s.blockedIn.code ?? ""}`);
  if (s.reason) lines.push(`reason: ${s.reason}`);
  return lines;
}
