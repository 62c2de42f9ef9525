/** Waiting for a task to reach the line where it blocks, by reading its stack (never a bare sleep). */
import type { Task } from "../../ts/index.js";

/**
 * Resolves once a frame of `fn` is on the task's stack, and, when `innermost` is given, the innermost
 * frame is that function (the blocking call has begun); process tasks resolve when started.
 */
export async function reached(task: Task, fn: string, innermost?: string, timeoutMs = 20_000): Promise<void> {
  await task.started;
  if (task.kind === "process") return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const frames = await task.stack();
    const inside = frames.some((f) => f.function === fn);
    if (inside && (innermost === undefined || frames.at(-1)?.function === innermost)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`task ${task.id} never reached ${fn}`);
}
