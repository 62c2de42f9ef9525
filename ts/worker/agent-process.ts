/** Spawning the agent process and killing its whole process group. */
import { type ChildProcess, spawn } from "node:child_process";
import { delimiter } from "node:path";
import { fileURLToPath } from "node:url";
import type { Writable } from "node:stream";
import type { AgentConfig } from "../protocol.js";
import type { ResolvedWorkerOptions } from "./options.js";

/** The directory holding the `pyleash` Python package (shipped inside the npm package). */
export const AGENT_PYTHONPATH = fileURLToPath(new URL("../../py", import.meta.url));

const STDERR_TAIL_BYTES = 8192;

export interface AgentProcess {
  child: ChildProcess;
  /** The last few KB the agent wrote to stderr, kept for error reports. */
  stderrTail(): string;
}

/**
 * Start `python -m pyleash` in its own process group (a terminal's Ctrl-C must not reach it),
 * with the config written to fd 3, which then stays open as the agent's lifeline.
 */
export function spawnAgent(python: string, options: ResolvedWorkerOptions, config: AgentConfig): AgentProcess {
  const pythonPath = [AGENT_PYTHONPATH, ...(options.pythonPath ?? [])];
  const inherited = options.env?.PYTHONPATH ?? process.env.PYTHONPATH;
  if (inherited) pythonPath.push(inherited);
  const child = spawn(python, ["-m", "pyleash"], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, PYTHONPATH: pythonPath.join(delimiter), PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    detached: true,
  });
  let tail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
  });
  if (options.output === "forward") {
    child.stdout?.pipe(process.stderr, { end: false });
    child.stderr?.pipe(process.stderr, { end: false });
  } else {
    child.stdout?.resume();
  }
  const lifeline = child.stdio[3] as Writable | null;
  lifeline?.on("error", () => {}); // EPIPE when the agent is gone: its exit is reported elsewhere
  lifeline?.write(JSON.stringify(config) + "\n");
  return { child, stderrTail: () => tail };
}

/** Signal the agent and everything it started (tasks' child processes); false if none was left. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when the process has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}
