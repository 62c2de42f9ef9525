/**
 * The contenders, each behind the same face: `call()` runs one math.floor(7) round trip,
 * `agentPid` is the Python process doing the work, `close()` leaves no process behind; pyleash's also have
 * `threadNames()`.
 */
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { openAgentFloor, openFloor, openZeromqFloor } from "./floor.mjs";

export const DIST = new URL("../../dist/index.js", import.meta.url).href;

/**
 * `python` is the interpreter to use (pyleash-pyzmq: the venv's; pythonia reads env PYTHON_BIN,
 * which the harness sets to the same interpreter before pythonia is first imported).
 */
export async function openContender(name, python) {
  if (name === "pyleash-builtin" || name === "pyleash-pyzmq" || name === "baseline") {
    // baseline: pyleash-builtin from another checkout's build (bench.mjs --baseline DIR), measured beside this one
    const { Worker } = await import(name === "baseline" ? process.env.PYLEASH_BENCH_BASELINE : DIST);
    const transport = name === "pyleash-pyzmq" ? "pyzmq" : "builtin";
    const worker = await Worker.start({ python, transport, output: "ignore" });
    if (worker.transport !== transport) {
      await worker.close();
      throw new Error(`${name}: the agent chose transport ${worker.transport}`);
    }
    return {
      agentPid: worker.pid,
      call: () => worker.call("math:floor", [7]),
      /** native thread id → Python thread name, to label the agent's context switches. */
      async threadNames() {
        return new Map((await worker.threads()).map((t) => [t.nativeId, t.name]));
      },
      close: () => worker.close(),
    };
  }
  if (name === "pythonia") return openPythonia(python);
  if (name === "floor") {
    const floor = await openFloor(python);
    return { agentPid: floor.pid, call: floor.call, close: floor.close };
  }
  if (name === "floor-zeromq") {
    const floor = await openZeromqFloor(python);
    return { agentPid: floor.pid, call: floor.call, close: floor.close };
  }
  if (name === "floor-zeromq-agent") {
    const floor = await openAgentFloor(python, DIST);
    return { agentPid: floor.pid, call: floor.call, close: floor.close };
  }
  throw new Error(`unknown contender ${name}`);
}

async function openPythonia(python) {
  if (process.env.PYTHON_BIN !== python) throw new Error(`pythonia: set PYTHON_BIN=${python} before the first import`);
  const mod = await import("pythonia");
  const pythonia = mod.default ?? mod;
  const math = await pythonia.python("math");
  const proc = /** @type {any} */ (pythonia).com.proc; // pythonia's own handle, kept to await its exit
  const found = childPythons(process.pid);
  if (!found.includes(proc.pid)) {
    throw new Error(`pythonia: its Python (${proc.pid}) is not among the python children of ${process.pid}: ${JSON.stringify(found)}`);
  }
  return {
    agentPid: proc.pid,
    call: () => math.floor(7),
    async close() {
      const gone = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : once(proc, "exit");
      pythonia.python.exit(); // SIGTERM to its Python, clears its GC interval
      const timer = setTimeout(() => proc.kill("SIGKILL"), 2000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Pids of live python processes whose parent is `ppid` (from /proc/PID/stat). */
export function childPythons(ppid) {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const [state, parent] = stat.slice(close + 2).split(" ");
      if (Number(parent) === ppid && state !== "Z" && comm.startsWith("python")) out.push(Number(entry));
    } catch {}
  }
  return out;
}

/** VmRSS of a process in MiB (kB / 1024), or null when it is gone. */
export function rssMb(pid) {
  try {
    const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}
