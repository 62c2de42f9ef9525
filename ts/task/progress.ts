/**
 * Progress that Python code reports with `pyleash.progress(done, total, message)`: the agent rate-limits it
 * (docs/protocol.md, `progress`); here it reaches `onProgress` callbacks and `task.progress` iterators.
 */
import type { ProgressEvent } from "../protocol.js";

/** One progress update, as `pyleash.progress(done, total=None, message=None)` gave it. */
export interface Progress {
  done: number;
  total?: number;
  message?: string;
}

/** A progress callback (`onProgress`); what it throws is reported with process.emitWarning, never raised into pyleash. */
export type ProgressListener = (progress: Progress) => void;

/** @internal The update an event carries, without the wire's fields. */
export function progressOf(event: ProgressEvent): Progress {
  const progress: Progress = { done: event.done };
  if (event.total !== undefined) progress.total = event.total;
  if (event.message !== undefined) progress.message = event.message;
  return progress;
}

/** @internal Call a user's listener; its exception must not break the connection's event loop. */
export function notify(listener: ProgressListener, progress: Progress): void {
  try {
    listener(progress);
  } catch (error) {
    process.emitWarning(`pyleash: an onProgress listener threw: ${String((error as Error)?.stack ?? error)}`);
  }
}

/**
 * @internal The updates of one task for `for await`: each iterator sees those that arrive after it was made,
 * and ends once the task has ended (after the updates sent before its end).
 */
export class ProgressFeed implements AsyncIterable<Progress> {
  readonly #readers = new Set<Reader>();
  #ended = false;

  push(progress: Progress): void {
    for (const reader of this.#readers) reader.push(progress);
  }

  end(): void {
    this.#ended = true;
    for (const reader of this.#readers) reader.end();
    this.#readers.clear();
  }

  [Symbol.asyncIterator](): AsyncIterator<Progress> {
    const reader = new Reader(() => this.#readers.delete(reader));
    if (this.#ended) reader.end();
    else this.#readers.add(reader);
    return reader;
  }
}

/** One iterator of a ProgressFeed: a queue (progress is rate-limited at the source, so it stays short). */
class Reader implements AsyncIterator<Progress> {
  readonly #queue: Progress[] = [];
  readonly #leave: () => void;
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(leave: () => void) {
    this.#leave = leave;
  }

  push(progress: Progress): void {
    this.#queue.push(progress);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async next(): Promise<IteratorResult<Progress>> {
    while (this.#queue.length === 0 && !this.#ended) await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = undefined;
    const value = this.#queue.shift();
    return value === undefined ? { value: undefined, done: true } : { value, done: false };
  }

  async return(): Promise<IteratorResult<Progress>> {
    this.#ended = true;
    this.#queue.length = 0;
    this.#leave();
    return { value: undefined, done: true };
  }
}
