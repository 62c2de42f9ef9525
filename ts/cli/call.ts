/** `pyleash call <mod:func>`: one call in a fresh agent, result on stdout; --timeout stops the call's Python work. */
import { AbortError } from "../errors.js";
import type { Lane, Strategy } from "../protocol.js";
import { Worker } from "../worker/worker.js";
import { errorJson, printJson } from "./output.js";
import { describeStop } from "./run.js";
import type { TargetOptions } from "./target-options.js";

/** What `call` accepts, after parsing. */
export interface CallCommandOptions extends TargetOptions {
  timeout?: number;
  strategy: Strategy;
  grace?: number;
  deadline?: number;
  lane: Lane;
}

export async function call(target: string, options: CallCommandOptions): Promise<number> {
  let worker: Worker | undefined;
  try {
    worker = await Worker.start({
      python: options.python,
      pythonPath: options.pythonpath,
      transport: options.transport,
      output: "forward",
    });
    const result = await worker.call(target, options.args, options.kwargs, {
      timeoutMs: options.timeout,
      lane: options.lane,
      stop: { strategy: options.strategy, graceMs: options.grace, deadlineMs: options.deadline },
    });
    if (options.json) printJson({ ok: true, result, python: worker.python, transport: worker.transport });
    else process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    const stop = error instanceof AbortError ? error.stopReport : undefined;
    if (options.json) printJson({ ok: false, error: { ...errorJson(error), ...(stop && { stop }) } });
    else process.stderr.write(`${[errorText(error), ...(stop ? describeStop(stop) : [])].join("\n")}\n`);
    return 1;
  } finally {
    await worker?.close();
  }
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const traceback = (error as { traceback?: string }).traceback;
  return traceback ? traceback.trimEnd() : `${error.name}: ${error.message}`;
}
