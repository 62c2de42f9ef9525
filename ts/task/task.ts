/** Task: Python work started in the agent, with its result, its stack, and its stop. */
import { AbortError, PyleashError, PythonError, TaskStoppedError, errorFromPayload, type PythonErrorPayload } from "../errors.js";
import type { Connection } from "../worker/connection.js";
import type { Worker } from "../worker/worker.js";
import type { ResolvedStart, StopOptions, TaskKind } from "./options.js";
import type { Frame, StopReport } from "./report.js";
import { stopTask } from "./stop.js";

export type TaskStatus = "starting" | "running" | "finished" | "failed" | "stopped" | "blocked";

interface Settle<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class Task<T = unknown> {
  readonly id: string;
  readonly target: string;
  readonly kind: TaskKind;
  readonly name: string;
  /** Settles when the task ends: its return value, or a PythonError, TaskStoppedError, AbortError... */
  readonly result: Promise<T>;
  /** Resolves once the function has begun running in the agent (main-lane tasks may queue first). */
  readonly started: Promise<void>;
  /** The connection to the agent that runs this task; internal. */
  readonly connection: Connection;
  /** The Python thread ident running the task, once started (the loop thread for asyncio, null for process). */
  ident: number | null = null;
  /** The child's pid for `process` tasks, once started. */
  pid: number | null = null;

  #status: TaskStatus = "starting";
  readonly #options: ResolvedStart;
  readonly #worker: Worker;
  readonly #result: Settle<T>;
  readonly #started: Settle<void>;
  #stopping: Promise<StopReport> | undefined;
  /** The agent reported the task's end: it may forget the task, so stop and stack are answered here. */
  #endReported = false;
  #abortReason: { reason: unknown } | undefined;
  #removeAbortListener: (() => void) | undefined;

  constructor(id: string, target: string, options: ResolvedStart, connection: Connection, worker: Worker) {
    this.id = id;
    this.target = target;
    this.kind = options.kind;
    this.name = options.name ?? target;
    this.connection = connection;
    this.#options = options;
    this.#worker = worker;
    let result!: Settle<T>;
    this.result = new Promise<T>((resolve, reject) => (result = { resolve, reject }));
    this.#result = result;
    this.result.catch(() => {}); // a caller who only stops the task need not handle its rejection
    let started!: Settle<void>;
    this.started = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
    this.#started = started;
    this.started.catch(() => {});
  }

  /** running | finished | failed | stopped | blocked ("starting" until the agent accepts it). */
  get status(): TaskStatus {
    return this.#status;
  }

  /** Send the start request; resolves with this task once the agent has accepted it. */
  async begin(): Promise<this> {
    const { signal } = this.#options;
    if (signal?.aborted) throw new AbortError("The task was aborted before it started", signal.reason);
    await this.connection.request({
      type: "start",
      task: this.id,
      target: this.target,
      args: this.#options.args,
      kwargs: this.#options.kwargs,
      kind: this.kind,
      name: this.name,
      trace: this.#options.trace,
    });
    if (this.#status === "starting") this.#status = "running";
    if (signal) {
      const onAbort = (): void => {
        this.#abortReason = { reason: signal.reason };
        this.stop().catch(() => {});
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#removeAbortListener = () => signal.removeEventListener("abort", onAbort);
    }
    return this;
  }

  /** Stop the task and report how it went; safe to call again (a second call waits for the first). */
  stop(options: StopOptions = {}): Promise<StopReport> {
    const previous = this.#stopping ?? Promise.resolve(undefined);
    const next = previous
      .catch(() => undefined)
      .then(() => stopTask(this, this.#worker, options));
    this.#stopping = next;
    return next;
  }

  /** Resolves once `result` has settled, or after `timeoutMs`; internal. */
  settled(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.result.then(done, done);
    });
  }

  /** The task's current Python stack, innermost last; empty once it has ended. */
  stack(): Promise<Frame[]> {
    if (this.#endReported) return Promise.resolve([]);
    return this.connection.request({ type: "stack", task: this.id }) as Promise<Frame[]>;
  }

  /** The agent has reported the task's end (not merely lost its connection); internal. */
  get endReported(): boolean {
    return this.#endReported;
  }

  /** Agent news about this task; internal. */
  handle(event: Record<string, unknown>): void {
    if (event.type === "task-started") {
      this.ident = typeof event.ident === "number" ? event.ident : null;
      this.pid = typeof event.pid === "number" ? event.pid : null;
      if (this.#status === "starting") this.#status = "running";
      this.#started.resolve();
    } else if (event.type === "task-ended") {
      this.#end(event.status as "finished" | "failed" | "stopped", event);
    }
  }

  /** Mark the stop's verdict on the status; internal. */
  markBlocked(): void {
    if (this.#status === "running") this.#status = "blocked";
  }

  /** The agent is gone (crash, close, restart): the task ends with that error; internal. */
  abandon(error: PyleashError): void {
    if (this.#settled()) return;
    this.#status = this.#status === "blocked" ? "stopped" : "failed";
    this.#finish(error);
  }

  #end(status: "finished" | "failed" | "stopped", event: Record<string, unknown>): void {
    if (this.#settled()) return;
    this.#endReported = true;
    this.#status = status;
    if (status === "finished") this.#finish(undefined, event.result as T);
    else if (status === "failed") this.#finish(errorFromPayload(event.error as PythonErrorPayload));
    else {
      const value = "result" in event ? event.result : undefined;
      this.#finish(new TaskStoppedError(this.id, event.how as string | undefined, value));
    }
  }

  #settled(): boolean {
    return this.#status === "finished" || this.#status === "failed" || this.#status === "stopped";
  }

  #finish(error: Error | undefined, value?: T): void {
    this.#removeAbortListener?.();
    if (error instanceof PythonError || error === undefined) this.#started.resolve();
    else this.#started.reject(error);
    if (this.#abortReason) {
      this.#result.reject(new AbortError("The task was aborted", this.#abortReason.reason));
    } else if (error) {
      this.#result.reject(error);
    } else {
      this.#result.resolve(value as T);
    }
  }
}
