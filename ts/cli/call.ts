/** `pyleash call <mod:func>`: one call in a fresh agent, result on stdout. */
import { parseArgs } from "node:util";
import { InvalidArgumentError } from "../errors.js";
import { Worker } from "../worker/worker.js";
import { errorJson, printJson } from "./output.js";

export const usage = `pyleash call <module:function> [--args JSON-array] [--kwargs JSON-object]
              [--python P] [--pythonpath DIR]... [--transport auto|pyzmq|builtin] [--json]`;

export async function call(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      args: { type: "string", default: "[]" },
      kwargs: { type: "string", default: "{}" },
      python: { type: "string" },
      pythonpath: { type: "string", multiple: true, default: [] },
      transport: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const json = values.json;
  let worker: Worker | undefined;
  try {
    const [target, ...extra] = positionals;
    if (!target || extra.length) throw new InvalidArgumentError(`Expected exactly one target, usage:\n${usage}`);
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

export function parseJson(flag: string, text: string, shape: "array" | "object"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`${flag} is not valid JSON (${(error as Error).message}): ${text}`);
  }
  const ok = shape === "array" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value);
  if (!ok) throw new InvalidArgumentError(`${flag} must be a JSON ${shape}, got ${text}`);
  return value;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const traceback = (error as { traceback?: string }).traceback;
  return traceback ? traceback.trimEnd() : `${error.name}: ${error.message}`;
}
