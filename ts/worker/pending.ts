/** The requests in flight on one connection: ids, timeouts, abort signals, and settling each exactly once. */
import { InvalidArgumentError, MessageTooLargeError, errorFromPayload, type PyleashError } from "../errors.js";
import type { Reply, RequestBody } from "../protocol.js";
import { abortedBeforeStart, cutoffError, onCutoff } from "../util/abort.js";
import { encode } from "./framing.js";

export interface RequestOptions {
  /** Aborting stops waiting for the reply. */
  signal?: AbortSignal | undefined;
  /** Reject with an AbortError (cause: a TimeoutError) after this long. */
  timeoutMs?: number | undefined;
  /**
   * @internal Filled in with `drop()`, which stops waiting for the reply (it rejects with an AbortError; a late
   * reply is discarded): what a signal does, without an AbortController per request (a stoppable call's).
   */
  forget?: { drop?: () => void } | undefined;
}

interface Entry {
  settle(error: Error | undefined, value?: unknown): void;
}

export class PendingRequests {
  readonly #entries = new Map<number, Entry>();
  #nextId = 0;

  /** A fresh request id. */
  nextId(): number {
    return ++this.#nextId;
  }

  /**
   * Number `body`, encode it (id first: the agent can answer even a request it cannot decode) and hand its frames
   * to `write`; settles with the reply. An aborted signal, a body JSON cannot carry or frames (binary ones
   * included) over `maxBytes` in all rejects at once, and nothing is written.
   */
  send(body: RequestBody, options: RequestOptions, maxBytes: number, write: (frames: Buffer[]) => void): Promise<unknown> {
    if (options.signal?.aborted) return Promise.reject(abortedBeforeStart("call", options.signal));
    const id = this.nextId();
    let frames: Buffer[];
    try {
      frames = encode({ id, ...body });
    } catch (error) {
      return Promise.reject(new InvalidArgumentError(`Arguments are not JSON-serialisable: ${(error as Error).message}`));
    }
    let size = 0;
    for (const frame of frames) size += frame.length;
    if (size > maxBytes) return Promise.reject(new MessageTooLargeError(size, maxBytes));
    const reply = this.wait(id, options);
    write(frames);
    return reply;
  }

  /** Wait for the reply to request `id`; the timer and the abort listener go when it settles. */
  wait(id: number, { signal, timeoutMs, forget }: RequestOptions): Promise<unknown> {
    if (forget !== undefined && signal === undefined && timeoutMs === undefined) {
      return new Promise((resolve, reject) => {
        const settle = (error: Error | undefined, value?: unknown): void =>
          this.#entries.delete(id) ? (error ? reject(error) : resolve(value)) : undefined;
        this.#entries.set(id, { settle });
        forget.drop = () => settle(cutoffError({ message: "The call was aborted", cause: undefined }));
      });
    }
    if (signal === undefined && timeoutMs === undefined) {
      // The usual call: nothing to remove when it settles, so no closures beyond the promise's own.
      return new Promise((resolve, reject) => {
        this.#entries.set(id, {
          settle: (error, value) => (this.#entries.delete(id) ? (error ? reject(error) : resolve(value)) : undefined),
        });
      });
    }
    return new Promise((resolve, reject) => {
      let dispose: (() => void) | undefined;
      const settle = (error: Error | undefined, value?: unknown): void => {
        if (!this.#entries.delete(id)) return;
        dispose?.();
        if (error) reject(error);
        else resolve(value);
      };
      this.#entries.set(id, { settle });
      dispose = onCutoff(signal, timeoutMs, "call", (cutoff) => settle(cutoffError(cutoff)));
    });
  }

  /** Settle the request a reply answers; a reply nobody waits for (aborted, timed out) is dropped. */
  answer(reply: Reply): void {
    const entry = typeof reply.id === "number" ? this.#entries.get(reply.id) : undefined;
    if (!entry) return;
    if (reply.status === "ok") entry.settle(undefined, reply.result);
    else entry.settle(errorFromPayload(reply.error));
  }

  /** Reject every request in flight with `error`. */
  failAll(error: PyleashError): void {
    for (const entry of [...this.#entries.values()]) entry.settle(error);
  }
}
