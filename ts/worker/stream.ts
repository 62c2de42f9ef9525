/**
 * A stream: a Python generator (or async generator, or any iterable) consumed with `for await`. The agent runs it
 * on a pool thread as a recorded call; items come in batches, at most `highWaterMark` ahead of the consumer
 * (credit-based: the consumer grants credit for the items it has taken). Leaving the loop early, an abort or a
 * timeout stops it with the stop ladder, whose first step closes the generator (docs/protocol.md, Streams).
 */
import { PythonError, TaskStoppedError } from "../errors.js";
import type { AgentEvent } from "../protocol.js";
import type { TaskHost } from "../task/host.js";
import { notify, progressOf } from "../task/progress.js";
import type { StopReport } from "../task/report.js";
import { type StopSubject, stopTask } from "../task/stop.js";
import { cutoffError, whenCutOff } from "../util/abort.js";
import type { ResolvedStream } from "./options.js";

export interface StreamBody {
  target: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** How the stream ended, as far as the consumer is concerned. */
type End = { done: true } | { error: Error };

/**
 * The items of a Python iterator, for `for await`. One consumer: iterating it again continues where it stopped.
 * `close()` (what `break` calls) stops the Python side and resolves with the StopReport, if a stop was needed.
 */
export class Stream<T = unknown> implements AsyncIterableIterator<T>, AsyncDisposable {
  /** The id the agent records the stream under (`s1`, `s2`…), as in `worker.threads()`. */
  readonly id: string;
  readonly #host: TaskHost;
  readonly #options: ResolvedStream;
  readonly #target: string;
  readonly #queue: unknown[] = [];
  #head = 0;
  /** Items taken since credit was last granted. */
  #taken = 0;
  readonly #grantEvery: number;
  /** The agent's reply: the stream ended there (all its items arrived before it). */
  #reply: { count: number } | { error: unknown } | undefined;
  readonly #result: Promise<unknown>;
  /** Set once the consumer's side is over: no more items are handed out. */
  #end: End | undefined;
  #stop: Promise<StopReport> | undefined;
  #stopReport: StopReport | undefined;
  #wake: (() => void) | undefined;
  readonly #forget = new AbortController();
  readonly #cleanups: (() => void)[] = [];
  #chain: Promise<unknown> = Promise.resolve();

  /** @internal Made by worker.stream(). */
  constructor(host: TaskHost, id: string, body: StreamBody, options: ResolvedStream) {
    this.id = id;
    this.#host = host;
    this.#options = options;
    this.#target = body.target;
    this.#grantEvery = Math.max(1, Math.floor(options.highWaterMark / 2));
    if (host.listen) this.#cleanups.push(host.listen(id, (event) => this.#event(event)));
    const reply = host.request({ type: "stream", ...body, task: id, credit: options.highWaterMark }, { signal: this.#forget.signal });
    this.#result = reply.then(
      (count) => {
        this.#reply = { count: count as number };
        this.#nudge();
        return count;
      },
      (error: unknown) => {
        this.#reply = { error };
        this.#nudge();
        // The agent ends a generator that a stop reached with TaskStopped: that is the end a stop waits for.
        throw error instanceof PythonError && error.type === "TaskStopped" ? new TaskStoppedError(id, "TaskStopped", undefined) : error;
      },
    );
    this.#result.catch(() => {});
    const trigger = whenCutOff(options.signal, options.timeoutMs, "stream");
    this.#cleanups.push(() => trigger.dispose());
    void trigger.fired.then((cutoff) => {
      if (this.#end) return;
      // The abort ends the consumer's side now; the stop's report arrives with the error.
      const stopping = this.#stopPython();
      this.#end = { error: cutoffError(cutoff) };
      void stopping
        .then(
          (report) => (this.#end = { error: cutoffError(cutoff, { report }) }),
          (error: Error) => (this.#end = { error: cutoffError(cutoff, { error }) }),
        )
        .then(() => this.#nudge());
    });
  }

  /** The report of the stop that `close()`, `break`, an abort or a timeout made; undefined while none was needed. */
  get stopReport(): StopReport | undefined {
    return this.#stopReport;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    const next = this.#chain.then(() => this.#next());
    this.#chain = next.catch(() => {});
    return next;
  }

  /** What `break` calls: stop the Python side (unless it has ended) and wait for that. */
  async return(): Promise<IteratorResult<T>> {
    await this.close();
    return { value: undefined, done: true };
  }

  /** What a `throw` into the iterator calls: the same as `return()`, then the error. */
  async throw(error?: unknown): Promise<IteratorResult<T>> {
    await this.close();
    throw error;
  }

  /**
   * Stop consuming: unless the generator has ended, stop it in Python (its `flag` step closes it: GeneratorExit,
   * its `finally` runs; a generator that does not end gets the rest of the ladder) and resolve with the StopReport.
   */
  async close(): Promise<StopReport | undefined> {
    if (!this.#end) {
      const stopping = this.#stopPython();
      this.#end = { done: true };
      this.#nudge();
      try {
        return await stopping;
      } finally {
        this.#dispose();
      }
    }
    if (this.#stop) await this.#stop.catch(() => undefined);
    this.#dispose();
    return this.#stopReport;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.#end) {
        if ("error" in this.#end) {
          if (this.#stop) await this.#stop.catch(() => undefined); // the AbortError carries the stop's report
          this.#dispose();
          throw this.#end.error;
        }
        return { value: undefined, done: true };
      }
      if (this.#head < this.#queue.length) return { value: this.#take() as T, done: false };
      if (this.#reply) {
        this.#end = "error" in this.#reply ? { error: this.#reply.error as Error } : { done: true };
        this.#dispose();
        continue;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #take(): unknown {
    const item = this.#queue[this.#head];
    this.#queue[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head); // drop what was taken, now and then, not at every item
      this.#head = 0;
    }
    if (++this.#taken >= this.#grantEvery && !this.#reply) {
      const n = this.#taken;
      this.#taken = 0;
      // A grant that fails means the stream is over (its reply says how): nothing to do with it here.
      this.#host.request({ type: "credit", task: this.id, n }).catch(() => {});
    }
    return item;
  }

  #event(event: AgentEvent): void {
    if (event.type === "stream-items") {
      if (this.#end) return; // the consumer has left: what the generator made meanwhile is dropped
      for (const item of event.items) this.#queue.push(item);
      this.#nudge();
    } else if (event.type === "progress" && this.#options.onProgress) {
      notify(this.#options.onProgress, progressOf(event));
    }
  }

  #nudge(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Stop the generator in Python, once (a generator that had ended gets a `finished-first` report, without a round trip). */
  #stopPython(): Promise<StopReport> {
    this.#stop ??= (async () => {
      this.#queue.length = this.#head = 0;
      const report = await stopTask(this.#subject(), this.#host, this.#options.stop);
      this.#stopReport = report;
      return report;
    })();
    return this.#stop;
  }

  #subject(): StopSubject {
    const stream = this;
    return {
      id: this.id,
      kind: this.#options.kind,
      target: this.#target,
      ident: null,
      get status() {
        return stream.#reply ? "finished" : "running";
      },
      get endReported() {
        return stream.#reply !== undefined;
      },
      result: this.#result,
      markBlocked: () => {},
    };
  }

  #dispose(): void {
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    // Called once any stop has concluded: a reply still to come is not waited for.
    if (this.#reply === undefined) this.#forget.abort();
  }
}
