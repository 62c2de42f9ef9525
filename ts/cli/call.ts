/** `pyleash call <mod:func>`: one call in a fresh agent, result on stdout. */
import { parseArgs } from "node:util";
import { Worker } from "../worker/worker.js";
import { errorJson, printJson } from "./output.js";
import { TARGET_OPTIONS, onlyTarget, parseJson } from "./target-options.js";

export const usage = `pyleash call <module:function> [--args JSON-array] [--kwargs JSON-object]
              [--python P] [--pythonpath DIR]... [--transport auto|pyzmq|builtin] [--json]`;

export async function call(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: TARGET_OPTIONS,
  });
  const json = values.json;
  let worker: Worker | undefined;
  try {
    const target = onlyTarget(positionals, usage);
    const args = parseJson("--args", values.args, "array");
    const kwargs = parseJson("--kwargs", values.kwargs, "object");
    worker = await Worker.start({
      python: values.python,
      pythonPath: values.pythonpath,
      transport: values.transport as "auto" | "pyzmq" | "builtin" | undefined,
      output: "forward",
    });
    const result = await worker.call(target, args as unknown[], kwargs as Record<string, unknown>);
    if (json) printJson({ ok: true, result, python: worker.python, transport: worker.transport });
    else process.stdout.write(JSON.stringify(result) + "\n");
    return 0;
  } catch (error) {
    if (json) printJson({ ok: false, error: errorJson(error) });
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
