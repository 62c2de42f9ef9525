/** `pyleash doctor`: which interpreters there are, and whether an agent runs on each. */
import { parseArgs } from "node:util";
import { type PythonInfo, resolvePythons } from "../python/discover.js";
import { Worker } from "../worker/worker.js";
import { errorJson, printJson, table } from "./output.js";
import { errorText } from "./call.js";

export const usage = "pyleash doctor [--python P|all]... [--json]";

interface Finding {
  path: string;
  version: string;
  pyzmq: boolean;
  transport: string | null;
  roundTripUs: number | null;
  error?: Record<string, unknown>;
}

export async function doctor(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { python: { type: "string", multiple: true, default: [] }, json: { type: "boolean", default: false } },
  });
  let pythons: PythonInfo[];
  try {
    pythons = await resolvePythons(values.python);
  } catch (error) {
    if (values.json) printJson({ pythons: [], error: errorJson(error) });
    else process.stderr.write(`${errorText(error)}\n`);
    return 1;
  }
  const findings: Finding[] = [];
  for (const info of pythons) findings.push(await examine(info));
  if (values.json) {
    printJson({ pythons: findings });
  } else {
    const rows = findings.map((f) => [
      f.version,
      f.path,
      f.pyzmq ? "yes" : "no",
      f.transport ?? `FAILED: ${String(f.error?.message).split("\n")[0]}`,
      f.roundTripUs === null ? "-" : `${f.roundTripUs.toFixed(0)} µs`,
    ]);
    process.stdout.write(table(["python", "path", "pyzmq", "transport", "call round trip"], rows) + "\n");
  }
  return findings.every((f) => f.transport !== null) ? 0 : 1;
}

/** Start a real agent on the interpreter and time a few no-op calls through it. */
async function examine(info: PythonInfo): Promise<Finding> {
  const finding: Finding = { path: info.path, version: info.version, pyzmq: info.pyzmq, transport: null, roundTripUs: null };
  let worker: Worker | undefined;
  try {
    worker = await Worker.start({ python: info.path });
    finding.transport = worker.transport;
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = process.hrtime.bigint();
      await worker.call("math:floor", [i]);
      times.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    finding.roundTripUs = times.sort((a, b) => a - b)[times.length >> 1] ?? null;
  } catch (error) {
    finding.error = errorJson(error);
  } finally {
    await worker?.close();
  }
  return finding;
}
