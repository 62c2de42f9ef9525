/**
 * An agent's lifecycle, the one part of a link that differs by how the agent came to be: spawned here (its process,
 * its own channel), joined a listening pool (ts/pool/listener.ts: heartbeats on a shared channel), or attached inside
 * pythonia's Python (ts/pythonia/link.ts: a process pyleash must never signal). The link itself (hello, requests,
 * replies, events, close) is one Connection for all three.
 */
import { type PyleashError, WorkerCrashedError } from "../errors.js";
import { settlesWithin } from "../util/time.js";
import { type AgentProcess, exited, killGroup } from "./agent-process.js";
import type { Channel } from "./channel.js";
import { release } from "./reaper.js";

export interface AgentLife {
  /** The agent's process has not gone (it may still be frozen). */
  readonly alive: boolean;
  /** A remote agent: whether `kill` has a supervisor start a fresh agent (py/pyleash/supervisor.py). */
  readonly recyclable?: boolean;
  /** Settles once the agent is gone (or let go of). */
  readonly gone: Promise<void>;
  /** Called once when the agent dies on its own, with the error its requests get. */
  onDeath(listener: (error: PyleashError) => void): void;
  /** A polite shutdown was sent; `answered` settles with its reply (or rejects without one). */
  askedToExit(answered: Promise<unknown>): void;
  /** Force it away: signals a spawned agent's process group; a remote or attached agent is let go of. */
  kill(signal: NodeJS.Signals): void;
  dumpThreads(timeoutMs: number): Promise<string>;
  /** Once it is gone: free what it held. */
  release(): Promise<void>;
}

/** The life of an agent this controller spawned: its process and the channel made for it alone. */
export function spawnedLife(agent: AgentProcess, channel: Channel): AgentLife {
  const child = agent.child;
  return {
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    gone: exited(child),
    onDeath(listener) {
      child.once("exit", (code, signal) => {
        release(child);
        // Give stderr a moment to deliver the agent's last words, without waiting on a timeout.
        const drained = child.stderr ? new Promise((r) => child.stderr!.once("close", r)) : Promise.resolve();
        void settlesWithin(drained, 50).then(() => {
          listener(new WorkerCrashedError(code, signal, agent.stderrTail()));
          killGroup(child, "SIGKILL");
          void channel.close();
        });
      });
    },
    askedToExit() {}, // its exit is what `gone` waits for
    kill: (signal) => void killGroup(child, signal),
    dumpThreads: (timeoutMs) => agent.dumpThreads(timeoutMs),
    async release() {
      killGroup(child, "SIGKILL"); // whatever the tasks left in the group
      release(child);
      await channel.close();
    },
  };
}
