/**
 * Aborts and timeouts, worded once: the signal and the `timeoutMs` of a call, a task, a stream or a map end a
 * wait the same way wherever the wait is (a reply, the pool's line, a stoppable call), each message naming its work.
 */
import { AbortError } from "../errors.js";

/** The work given up on, as the messages name it. */
export type Work = "call" | "task" | "stream" | "map";

/** Why a wait ended: the sentence its AbortError carries, and its cause (the signal's reason, or a TimeoutError). */
export interface Cutoff {
  message: string;
  cause: unknown;
}

const NOTHING = (): void => {};

/** The AbortError of a signal that had aborted before anything was sent. */
export function abortedBeforeStart(work: Work, signal: AbortSignal): AbortError {
  return new AbortError(`The ${work} was aborted before it started`, signal.reason);
}

/** The AbortError a cutoff makes, with what the stop it led to found (`stop`), if any. */
export function cutoffError(cutoff: Cutoff, stop?: ConstructorParameters<typeof AbortError>[2]): AbortError {
  return new AbortError(cutoff.message, cutoff.cause, stop);
}

/**
 * Call `fire` once, when `signal` aborts (at once if it already has) or `timeoutMs` passes, whichever comes first;
 * `where` ends the sentence (" while it waited for a worker in the pool"). Returns the dispose function, which
 * removes the listener and the timer; it costs nothing when there is neither signal nor timeout.
 */
export function onCutoff(
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  work: Work,
  fire: (cutoff: Cutoff) => void,
  where = "",
): () => void {
  if (signal === undefined && timeoutMs === undefined) return NOTHING;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const dispose = (): void => {
    done = true;
    if (timer) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  const once = (cutoff: Cutoff): void => {
    if (done) return;
    dispose();
    fire(cutoff);
  };
  const onAbort = (): void => once({ message: `The ${work} was aborted${where}`, cause: signal?.reason });
  if (signal?.aborted) {
    onAbort();
    return dispose;
  }
  signal?.addEventListener("abort", onAbort, { once: true });
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => {
      const message = `The ${work} timed out after ${timeoutMs} ms${where}`;
      once({ message, cause: new DOMException(message, "TimeoutError") });
    }, timeoutMs);
  }
  return dispose;
}

/** A promise of the cutoff (it never settles when none comes), and the dispose function of `onCutoff`. */
export function whenCutOff(
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  work: Work,
): { fired: Promise<Cutoff>; dispose(): void } {
  let dispose = NOTHING;
  const fired = new Promise<Cutoff>((resolve) => (dispose = onCutoff(signal, timeoutMs, work, resolve)));
  return { fired, dispose };
}
