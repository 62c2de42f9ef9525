/** Waiting for a task to reach a line: shared by the experiments and the tests (not part of the API). */
import type { Task } from "../task/task.js";

/**
 * Resolves once a frame of `fn` is on the task's stack and, when `innermost` is given, the innermost
 * frame is that function (the blocking call has begun); polls the stack, never a blind sleep. For process
 * tasks each poll is a faulthandler dump of the child (about 20 ms).
 */
export async function reached(task: Task, fn: string, innermost?: string, timeoutMs = 20_000): Promise<void> {
  await task.started;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const frames = await task.stack();
    const inside = frames.some((f) => f.function === fn);
    if (inside && (innermost === undefined || frames.at(-1)?.function === innermost)) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`task ${task.id} never reached ${fn}`);
}
