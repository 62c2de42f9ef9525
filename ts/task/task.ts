/** Task: Python work started in the agent, with its result, its stack, and its stop. */
import { type PyleashError, PythonError, TaskStoppedError, errorFromPayload } from "../errors.js";
import type { AgentEvent, EventOf, TaskKind } from "../protocol.js";
import { type Cutoff, abortedBeforeStart, cutoffError, onCutoff } from "../util/abort.js";
import type { TaskHost } from "./host.js";
import type { ResolvedStart, StopOptions } from "./options.js";
import { type Progress, ProgressFeed, notify, progressOf } from "./progress.js";
import type { Frame, StopReport } from "./report.js";
import { type StopSubject, stopTask } from "./stop.js";

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
  /**
   * The task's `pyleash.progress()` updates, for `for await`: each loop sees the updates that arrive after it
   * began, in order, and ends when the task ends (the last update, sent before the end, included).
   */
  readonly progress: AsyncIterable<Progress>;

  #status: TaskStatus = "starting";
  #ident: number | null = null;
  #pid: number | null = null;
  readonly #options: ResolvedStart;
  readonly #host: TaskHost;
  readonly #result: Settle<T>;
  readonly #started: Settle<void>;
  #stopping: Promise<StopReport> | undefined;
  /** The agent reported the task's end: it may forget the task, so stop and stack are answered here. */
  #endReported = false;
  #cutoff: Cutoff | undefined;
  #removeAbortListener: (() => void) | undefined;
  readonly #progress = new ProgressFeed();

  private constructor(id: string, target: string, options: ResolvedStart, host: TaskHost) {
    this.id = id;
    this.target = target;
    this.kind = options.kind;
    this.name = options.name ?? target;
    this.#options = options;
    this.#host = host;
    this.progress = this.#progress;
    let result!: Settle<T>;
    this.result = new Promise<T>((resolve, reject) => (result = { resolve, reject }));
    this.#result = result;
    this.result.catch(() => {}); // a caller who only stops the task need not handle its rejection
    let started!: Settle<void>;
    this.started = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
    this.#started = started;
    this.started.catch(() => {});
  }

  /** @internal Made by Worker.start, which routes the agent's news about the task to `handle`. */
  static create<T>(id: string, target: string, options: ResolvedStart, host: TaskHost): Task<T> {
    return new Task<T>(id, target, options, host);
  }

  /** running | finished | failed | stopped | blocked ("starting" until the agent accepts it). */
  get status(): TaskStatus {
    return this.#status;
  }

  /** The Python thread ident running the task, once started (the loop thread for asyncio, null for process). */
  get ident(): number | null {
    return this.#ident;
  }

  /** The child's pid for `process` tasks, once started. */
  get pid(): number | null {
    return this.#pid;
  }

  /** @internal Send the start request; resolves with this task once the agent has accepted it. */
  async begin(): Promise<this> {
    const { signal } = this.#options;
    if (signal?.aborted) throw abortedBeforeStart("task", signal);
    await this.#host.request({
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
    this.#removeAbortListener = onCutoff(signal, undefined, "task", (cutoff) => {
      this.#cutoff = cutoff;
      this.stop().catch(() => {});
    });
    return this;
  }

  /** Stop the task and report how it went; safe to call again (a second call waits for the first). */
  stop(options: StopOptions = {}): Promise<StopReport> {
    const next = (this.#stopping ?? Promise.resolve(undefined))
      .catch(() => undefined)
      .then(() => stopTask(this.#subject(), this.#host, options));
    this.#stopping = next;
    return next;
  }

  /** What the stop needs to know of this task now. */
  #subject(): StopSubject {
    return {
      id: this.id,
      kind: this.kind,
      target: this.target,
      ident: this.#ident,
      status: this.#status,
      endReported: this.#endReported,
      result: this.result,
      markBlocked: () => {
        if (this.#status === "running") this.#status = "blocked";
      },
    };
  }

  /** The task's current Python stack, innermost last; empty once it has ended. */
  stack(): Promise<Frame[]> {
    if (this.#endReported) return Promise.resolve([]);
    return this.#host.request({ type: "stack", task: this.id }) as Promise<Frame[]>;
  }

  /** @internal The agent's news about this task. */
  handle(event: AgentEvent): void {
    if (event.type === "progress") {
      const progress = progressOf(event);
      this.#progress.push(progress);
      if (this.#options.onProgress) notify(this.#options.onProgress, progress);
    } else if (event.type === "task-started") {
      this.#ident = event.ident ?? null;
      this.#pid = event.pid ?? null;
      if (this.#status === "starting") this.#status = "running";
      this.#started.resolve();
    } else if (event.type === "task-ended") {
      this.#end(event);
    }
  }

  /** @internal The agent is gone (crash, close, restart): the task ends with that error. */
  abandon(error: PyleashError): void {
    if (this.#settled()) return;
    this.#status = this.#status === "blocked" ? "stopped" : "failed";
    this.#finish(error);
  }

  #end(event: EventOf<"task-ended">): void {
    if (this.#settled()) return;
    this.#endReported = true;
    this.#status = event.status;
    if (event.status === "finished") this.#finish(undefined, event.result as T);
    else if (event.status === "failed") this.#finish(errorFromPayload(event.error as never));
    else this.#finish(new TaskStoppedError(this.id, event.how, "result" in event ? event.result : undefined));
  }

  #settled(): boolean {
    return this.#status === "finished" || this.#status === "failed" || this.#status === "stopped";
  }

  #finish(error: Error | undefined, value?: T): void {
    this.#removeAbortListener?.();
    this.#progress.end();
    if (error instanceof PythonError || error === undefined) this.#started.resolve();
    else this.#started.reject(error);
    if (this.#cutoff) {
      this.#result.reject(cutoffError(this.#cutoff));
    } else if (error) {
      this.#result.reject(error);
    } else {
      this.#result.resolve(value as T);
    }
  }
}
