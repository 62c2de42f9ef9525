/** `pyleash run <mod:func>`: start a task, stop it after --stop-after ms if still running, print the outcome. */
import { parseArgs } from "node:util";
import { InvalidArgumentError } from "../errors.js";
import { KINDS, STRATEGIES, type Strategy, type TaskKind } from "../protocol.js";
import type { StopReport } from "../task/report.js";
import { Worker } from "../worker/worker.js";
import { TARGET_OPTIONS, onlyTarget, parseJson } from "./target-options.js";
import { errorJson, printJson } from "./output.js";

export const usage = `pyleash run <module:function> [--args J] [--kwargs J] [--kind ${KINDS.join("|")}]
             [--stop-after MS] [--strategy ${STRATEGIES.join("|")}] [--grace MS] [--deadline MS]
             [--restart-worker-if-blocked] [--trace] [--python P] [--pythonpath DIR]... [--transport T] [--json]`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...TARGET_OPTIONS,
      kind: { type: "string", default: "thread" },
      "stop-after": { type: "string" },
      strategy: { type: "string", default: "auto" },
      grace: { type: "string" },
      deadline: { type: "string" },
      "restart-worker-if-blocked": { type: "boolean", default: false },
      trace: { type: "boolean", default: false },
    },
  });
  let worker: Worker | undefined;
  const out: { status?: string; result?: unknown; error?: Record<string, unknown>; stop?: StopReport } = {};
  try {
    const target = onlyTarget(positionals, usage);
    const stopAfter = values["stop-after"] === undefined ? undefined : milliseconds("--stop-after", values["stop-after"]);
    worker = await Worker.start({
      python: values.python,
      pythonPath: values.pythonpath,
      transport: values.transport as "auto" | "pyzmq" | "builtin" | undefined,
      output: "forward",
    });
    const task = await worker.start(target, {
      args: parseJson("--args", values.args, "array") as unknown[],
      kwargs: parseJson("--kwargs", values.kwargs, "object") as Record<string, unknown>,
      kind: values.kind as TaskKind,
      trace: values.trace,
    });
    if (stopAfter !== undefined) {
      await task.started;
      const ended = await Promise.race([
        task.result.then(() => true, () => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), stopAfter)),
      ]);
      if (!ended) {
        out.stop = await task.stop({
          strategy: values.strategy as Strategy,
          graceMs: values.grace === undefined ? undefined : milliseconds("--grace", values.grace),
          deadlineMs: values.deadline === undefined ? undefined : milliseconds("--deadline", values.deadline),
          restartWorkerIfBlocked: values["restart-worker-if-blocked"],
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
    await worker?.close();
  }
  if (values.json) printJson(out);
  else process.stdout.write(describeRun(out) + "\n");
  return out.status === "finished" || out.stop?.outcome === "stopped" || out.stop?.outcome === "finished-first" ? 0 : 1;
}

function describeRun(out: { status?: string; result?: unknown; error?: Record<string, unknown>; stop?: StopReport }): string {
  const lines = [`status: ${out.status}`];
  if (out.result !== undefined) lines.push(`result: ${JSON.stringify(out.result)}`);
  if (out.stop) {
    const s = out.stop;
    lines.push(`stop: ${s.outcome} via ${s.steps.map((step) => `${step.strategy}@${step.atMs}ms`).join(" → ") || s.strategy}`);
    if (s.latencyMs !== null) lines.push(`latency: ${s.latencyMs} ms, swallowed: ${s.swallowed}, finally ran: ${s.finallyRan}`);
    if (s.blockedIn) lines.push(`blocked in: ${s.blockedIn.function} (${s.blockedIn.file}:${s.blockedIn.line}) ${s.blockedIn.code ?? ""}`);
    if (s.reason) lines.push(`reason: ${s.reason}`);
  }
  if (out.error && out.status !== "stopped") lines.push(`error: ${String(out.error.message)}`);
  return lines.join("\n");
}

function milliseconds(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`${flag} must be a non-negative integer of ms, got ${text}`);
  return value;
}

