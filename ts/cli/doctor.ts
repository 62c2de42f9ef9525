/** `pyleash doctor`: which interpreters there are, and whether an agent runs on each (and Ray imports there). */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type PythonInfo, resolvePythons } from "../python/discover.js";
import { median } from "../util/stats.js";
import { Worker } from "../worker/worker.js";
import { errorJson, printJson, table } from "./output.js";
import { errorText } from "./call.js";

/** What `doctor` accepts, after parsing. */
export interface DoctorOptions {
  python?: string[];
  json?: boolean;
}

interface Finding {
  path: string;
  version: string;
  freeThreaded: boolean;
  pyzmq: boolean;
  /** `ray.__version__` when `import ray` works in it (the `launcher: { kind: "ray" }` driver needs it), else null. */
  ray: string | null;
  transport: string | null;
  roundTripUs: number | null;
  error?: Record<string, unknown>;
}

const ROUND_TRIPS = 50;
const run = promisify(execFile);

/** A real `import ray` (a broken install fails here, as it would in the driver), or null. */
async function rayVersion(python: string): Promise<string | null> {
  try {
    const { stdout } = await run(python, ["-c", "import ray; print(ray.__version__)"], { timeout: 60_000 });
    return stdout.trim().split("\n").pop() || null;
  } catch {
    return null;
  }
}

export async function doctor(options: DoctorOptions): Promise<number> {
  let pythons: PythonInfo[];
  try {
    pythons = await resolvePythons(options.python ?? []);
  } catch (error) {
    if (options.json) printJson({ pythons: [], error: errorJson(error) });
    else process.stderr.write(`${errorText(error)}\n`);
    return 1;
  }
  const findings: Finding[] = [];
  for (const info of pythons) findings.push(await examine(info));
  if (options.json) {
    printJson({ pythons: findings });
  } else {
    const rows = findings.map((f) => [
      f.version,
      f.freeThreaded ? "yes" : "no",
      f.path,
      f.pyzmq ? "yes" : "no",
      f.ray ?? "no",
      f.transport ?? `FAILED: ${String(f.error?.message).split("\n")[0]}`,
      f.roundTripUs === null ? "-" : `${f.roundTripUs.toFixed(0)} µs`,
    ]);
    process.stdout.write(`${table(["python", "free-threaded", "path", "pyzmq", "ray", "transport", "call round trip (median)"], rows)}\n`);
  }
  return findings.every((f) => f.transport !== null) ? 0 : 1;
}

/** Start a real agent on the interpreter and time a few no-op calls through it. */
async function examine(info: PythonInfo): Promise<Finding> {
  const finding: Finding = {
    path: info.path,
    version: info.version,
    freeThreaded: info.freeThreaded,
    pyzmq: info.pyzmq,
    ray: await rayVersion(info.path),
    transport: null,
    roundTripUs: null,
  };
  let worker: Worker | undefined;
  try {
    worker = await Worker.start({ python: info.path });
    finding.transport = worker.transport;
    const times: number[] = [];
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const start = process.hrtime.bigint();
      await worker.call("math:floor", [i]);
      times.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    finding.roundTripUs = median(times);
  } catch (error) {
    finding.error = errorJson(error);
  } finally {
    await worker?.close();
  }
  return finding;
}
