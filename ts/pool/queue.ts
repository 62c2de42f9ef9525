/** A waiting line of the pool: work no agent could take yet, oldest first, leaving early on abort or timeout. */
import { AbortError } from "../errors.js";
import type { Slot } from "./slot.js";

/** One piece of work waiting for an agent. */
export interface Waiting {
  /** Hand the work to `slot`'s agent; settles as the caller's promise should. */
  run(slot: Slot, waitedMs: number): Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Entry {
  job: Waiting;
  since: number;
  gone: boolean;
  dispose(): void;
}

export class WaitingLine {
  #entries: Entry[] = [];
  #head = 0;
  #size = 0;

  /** Work waiting, not counting what left on abort or timeout. */
  get size(): number {
    return this.#size;
  }

  /** Queue `job`; an abort of `signal` or `timeoutMs` spent waiting rejects it with an AbortError and removes it. */
  push(job: Waiting, signal: AbortSignal | undefined, timeoutMs: number | undefined): void {
    const entry: Entry = { job, since: performance.now(), gone: false, dispose: () => {} };
    const leave = (message: string, cause: unknown): void => {
      if (entry.gone) return;
      entry.gone = true;
      this.#size--;
      entry.dispose();
      job.reject(new AbortError(message, cause)); // no stopReport: nothing ran in Python
    };
    const onAbort = (): void => leave("The call was aborted while it waited for a worker in the pool", signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            const message = `The call timed out after ${timeoutMs} ms while it waited for a worker in the pool`;
            leave(message, new DOMException(message, "TimeoutError"));
          }, timeoutMs);
    entry.dispose = () => {
      signal?.removeEventListener("abort", onAbort);
      if (timer) clearTimeout(timer);
    };
    this.#entries.push(entry);
    this.#size++;
  }

  /** The oldest waiting job, taken out of the line, with how long it waited. */
  take(): { job: Waiting; waitedMs: number } | undefined {
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head]!;
      this.#advance();
      if (entry.gone) continue;
      entry.gone = true;
      this.#size--;
      entry.dispose();
      return { job: entry.job, waitedMs: performance.now() - entry.since };
    }
    return undefined;
  }

  /** Reject everything waiting with `error`. */
  clear(error: unknown): void {
    const entries = this.#entries.slice(this.#head);
    this.#entries = [];
    this.#head = 0;
    this.#size = 0;
    for (const entry of entries) {
      if (entry.gone) continue;
      entry.gone = true;
      entry.dispose();
      entry.job.reject(error);
    }
  }

  #advance(): void {
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head); // drop the taken head now and then, not on every take
      this.#head = 0;
    }
  }
}
