/** A waiting line of the pool: work no agent could take yet, oldest first, leaving early on abort or timeout. */
import { type Work, cutoffError, onCutoff } from "../util/abort.js";
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

  /** Queue `job`; an abort of `signal` or `timeoutMs` spent waiting rejects it with an AbortError naming `work`, and removes it. */
  push(job: Waiting, work: Work, signal: AbortSignal | undefined, timeoutMs: number | undefined): void {
    const entry: Entry = { job, since: performance.now(), gone: false, dispose: () => {} };
    this.#entries.push(entry);
    this.#size++;
    entry.dispose = onCutoff(
      signal,
      timeoutMs,
      work,
      (cutoff) => {
        if (entry.gone) return;
        entry.gone = true;
        this.#size--;
        job.reject(cutoffError(cutoff)); // no stopReport: nothing ran in Python
      },
      " while it waited for a worker in the pool",
    );
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
