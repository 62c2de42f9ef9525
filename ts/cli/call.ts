/** `pyleash call <mod:func>`: one call in a fresh agent, result on stdout. */
import { Worker } from "../worker/worker.js";
import { errorJson, printJson } from "./output.js";
import type { TargetOptions } from "./target-options.js";

export async function call(target: string, options: TargetOptions): Promise<number> {
  let worker: Worker | undefined;
  try {
    worker = await Worker.start({
      python: options.python,
      pythonPath: options.pythonpath,
      transport: options.transport,
      output: "forward",
    });
    const result = await worker.call(target, options.args, options.kwargs);
    if (options.json) printJson({ ok: true, result, python: worker.python, transport: worker.transport });
    else process.stdout.write(JSON.stringify(result) + "\n");
    return 0;
  } catch (error) {
    if (options.json) printJson({ ok: false, error: errorJson(error) });
    else process.stderr.write(`${errorText(error)}\n`);
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
