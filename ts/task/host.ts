/** What a Task needs from the worker that started it: a narrow seam, so the task never holds the Worker. */
import type { AgentEvent, RequestBody, Strategy } from "../protocol.js";
import type { RequestOptions } from "../worker/pending.js";
import type { StopReport } from "./report.js";

export interface TaskHost {
  /** Send a request to the agent that runs the task (the one it started on, even after a restart). */
  request(body: RequestBody, options?: RequestOptions): Promise<unknown>;
  /** Every thread's stack from the agent's faulthandler; answers while C code holds the GIL. */
  dumpThreads(): Promise<string>;
  /** Whether the agent's control loop answers within `timeoutMs` (false while C code holds the GIL). */
  ping(timeoutMs: number): Promise<boolean>;
  /** The largest share of the agent's CPU time over `windowMs` that one of its threads took (0..1); undefined where the platform cannot tell. */
  busiestThreadShare(windowMs: number): Promise<number | undefined>;
  /** The agent's process is stopped by a signal or a debugger (false where the platform cannot tell). */
  suspended(): boolean;
  /** Why the agent cannot be reached (a remote agent declared lost); undefined while it can. */
  unreachable?(): string | undefined;
  /** The agent's Python version. */
  readonly python: string;
  /** The strategies the agent's interpreter supports. */
  readonly strategies: readonly Strategy[];
  /** Route the agent's events about call or stream `id` to `listener` (tasks get theirs already); returns the unsubscribe. Absent: no events (pyleash/pythonia). */
  listen?(id: string, listener: (event: AgentEvent) => void): () => void;
  /** The task could not be stopped and its caller wants the worker recycled: true once a fresh agent is up. */
  restartBlocked(reason: string): Promise<boolean>;
  /** A stop ended `blocked` and nothing restarted the agent: the work still runs there (a pool retires such a worker). */
  gaveUp(report: StopReport): void;
}
