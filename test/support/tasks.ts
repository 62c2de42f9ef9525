/** Task helpers for the tests: the same wait the experiments use, from the library's side (not the experiments'). */
import type { Worker } from "../../ts/index.js";
export { reached } from "../../ts/util/reached.js";

/** Resolves once a thread running a call, stream or map chunk has `fn` as its innermost frame; polls, never a blind sleep. */
export async function threadReached(worker: Worker, fn: string, what = "work", timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const threads = await worker.threads();
    if (threads.some((t) => t.task !== null && t.frames.at(-1)?.function === fn)) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no ${what} reached ${fn}`);
}
