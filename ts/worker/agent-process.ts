/** Spawning the agent process and killing its whole process group. */
import { type ChildProcess, spawn } from "node:child_process";
import { delimiter } from "node:path";
import { fileURLToPath } from "node:url";
import type { Readable, Writable } from "node:stream";
import { type AgentConfig, CONTRACT } from "../protocol.js";
import type { ResolvedWorkerOptions } from "./options.js";

/** The directory holding the `pyleash` Python package (shipped inside the npm package). */
export const AGENT_PYTHONPATH = fileURLToPath(new URL("../../py", import.meta.url));

const STDERR_TAIL_BYTES = 8192;

/** The agent registers faulthandler on this signal. */
const DUMP_SIGNAL = CONTRACT.signals.threadDump satisfies NodeJS.Signals;
const { config: CONFIG_FD, threadDump: DUMP_FD } = CONTRACT.fds;
/**
 * A pause this long after a whole line ends a dump. faulthandler writes it in one go, but piece by piece (a
 * write per name and number), and an agent starved of the CPU can pause between pieces: at 30 ms, a dump under
 * load once ended before the frozen call's thread came.
 */
const DUMP_QUIET_MS = 100;

export interface AgentProcess {
  child: ChildProcess;
  /** Signal the agent's faulthandler and collect the dump of every thread's stack it writes to fd 4. */
  dumpThreads(timeoutMs: number): Promise<string>;
  /** The last few KB the agent wrote to stderr, kept for error reports. */
  stderrTail(): string;
}

/**
 * Start `python -m pyleash` in its own process group (a terminal's Ctrl-C must not reach it),
 * with the config written to fd 3, which then stays open as the agent's lifeline; fd 4 carries
 * faulthandler's thread dumps, readable even when the agent is frozen.
 */
export function spawnAgent(python: string, options: ResolvedWorkerOptions, config: AgentConfig): AgentProcess {
  const pythonPath = [AGENT_PYTHONPATH, ...(options.pythonPath ?? [])];
  const inherited = options.env?.PYTHONPATH ?? process.env.PYTHONPATH;
  if (inherited) pythonPath.push(inherited);
  const stdio: ("ignore" | "pipe")[] = ["ignore", "pipe", "pipe"];
  for (let fd = stdio.length; fd <= Math.max(CONFIG_FD, DUMP_FD); fd++) stdio.push("pipe");
  const child = spawn(python, ["-m", "pyleash"], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env, PYTHONPATH: pythonPath.join(delimiter), PYTHONUNBUFFERED: "1" },
    stdio,
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
  const lifeline = child.stdio[CONFIG_FD] as Writable | null;
  lifeline?.on("error", () => {}); // EPIPE when the agent is gone: its exit is reported elsewhere
  lifeline?.write(`${JSON.stringify(config)}\n`);
  return { child, dumpThreads: dumper(child), stderrTail: () => tail };
}

/** Thread dumps arrive on fd 4 from faulthandler's C handler, which works even while C code holds the GIL. */
export function dumper(child: ChildProcess): (timeoutMs: number) => Promise<string> {
  const stream = child.stdio[DUMP_FD] as Readable | null;
  let text = "";
  let onData: (() => void) | undefined;
  stream?.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
    onData?.();
  });
  stream?.on("error", () => {});
  let under: Promise<string> | undefined; // concurrent stops of one frozen agent share one dump
  return (timeoutMs) => {
    under ??= dump(timeoutMs).finally(() => (under = undefined));
    return under;
  };
  function dump(timeoutMs: number): Promise<string> {
    return new Promise((resolve) => {
      text = "";
      let quiet: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(quiet);
        clearTimeout(limit);
        onData = undefined;
        resolve(text);
      };
      const limit = setTimeout(done, timeoutMs);
      onData = () => {
        clearTimeout(quiet);
        if (text.endsWith("\n")) quiet = setTimeout(done, DUMP_QUIET_MS);
      };
      if (!stream || !signalProcess(child, DUMP_SIGNAL)) done();
    });
  }
}

/** Signal the agent process alone; false when it is gone. */
export function signalProcess(child: ChildProcess, signal: NodeJS.Signals): boolean {
  try {
    return child.kill(signal);
  } catch {
    return false;
  }
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
