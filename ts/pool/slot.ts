/** One agent of a pool: its Worker once started, its state, and the work it holds. */
import type { Worker } from "../worker/worker.js";

export type PoolWorkerState = "starting" | "ready" | "retiring" | "dead";

/** What `pool.workers` says of one agent. */
export interface PoolWorkerInfo {
  /** The agent's process id; null while it starts. */
  pid: number | null;
  /** Its Python version, e.g. "3.11.7"; null while it starts. */
  python: string | null;
  /** Its ZeroMQ client; null while it starts. */
  transport: "pyzmq" | "builtin" | null;
  /** The agent's host name; null while it starts. */
  host: string | null;
  /** Joined over the network (Pool.listen) rather than spawned by the pool. */
  remote: boolean;
  /** `starting`; `ready` (takes work); `retiring` (takes none, closes once its work has settled); `dead`. */
  state: PoolWorkerState;
  /** Calls sent to it and not yet settled. */
  inFlight: number;
  /** Tasks started on it that have not ended. */
  tasks: number;
  /** Calls and tasks it has settled. */
  done: number;
}

export class Slot {
  worker: Worker | undefined;
  state: PoolWorkerState = "starting";
  /** A remote agent (Pool.listen): never replaced, only dropped when lost. */
  remote = false;
  inFlight = 0;
  tasks = 0;
  done = 0;
  /** Calls and tasks given to it, for maxCallsPerWorker. */
  given = 0;
  /** Unsubscribes the pool from the worker's news. */
  unwatch: () => void = () => {};

  /** Work it holds: the pool gives new work to the least loaded ready agent. */
  get load(): number {
    return this.inFlight + this.tasks;
  }

  get idle(): boolean {
    return this.inFlight === 0 && this.tasks === 0;
  }

  info(): PoolWorkerInfo {
    const worker = this.worker;
    return {
      pid: worker?.pid ?? null,
      python: worker?.python ?? null,
      transport: worker?.transport ?? null,
      host: worker?.host ?? null,
      remote: this.remote,
      state: this.state,
      inFlight: this.inFlight,
      tasks: this.tasks,
      done: this.done,
    };
  }
}
