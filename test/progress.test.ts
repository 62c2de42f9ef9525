import { describe, expect, it } from "vitest";
import { InvalidArgumentError, type Progress } from "../ts/index.js";
import { startWorker } from "./support/cleanup.js";
import { testPythons } from "./support/pythons.js";

const pythons = await testPythons();
/** The agent sends at most one update per task every 50 ms (py/pyleash/progress_events.py INTERVAL_S), plus the last. */
const INTERVAL_MS = 50;

/** Updates come in order: `done` never goes back. */
function inOrder(updates: Progress[]): boolean {
  return updates.every((u, i) => i === 0 || u.done >= updates[i - 1]!.done);
}

describe.each(pythons)("progress on Python $label", ({ python, transport }) => {
  const start = () => startWorker({ python, transport, pythonPath: [new URL("./fixtures", import.meta.url).pathname] });

  it("delivers a call's updates to onProgress in order, rate-limited, the final one last", async () => {
    const worker = await start();
    const updates: Progress[] = [];
    const began = performance.now();
    const result = await worker.call("streams:progress_steps", [2_000, 2_000], {}, { onProgress: (p) => updates.push(p) });
    const elapsedMs = performance.now() - began;
    expect(result).toBe(2_000);
    expect(inOrder(updates)).toBe(true);
    // The call ran for at most elapsedMs: at most one update per interval of it, plus the first and the final.
    expect(updates.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / INTERVAL_MS) + 2);
    expect(updates[0]).toEqual({ done: 1, total: 2_000, message: "step 1" });
    expect(updates.at(-1)).toEqual({ done: 2_000, total: 2_000, message: "step 2000" });
  });

  it("sends the update it held back before the call's end when there is no total", async () => {
    const worker = await start();
    const updates: Progress[] = [];
    await worker.call("streams:progress_steps", [500], {}, { onProgress: (p) => updates.push(p) });
    expect(updates.at(-1)).toEqual({ done: 500, message: "step 500" });
    expect(updates.length).toBeLessThan(500);
  });

  it("lets `for await` read a task's updates from task.progress, ending with the task", async () => {
    const worker = await start();
    const seen: Progress[] = [];
    const task = await worker.start("streams:progress_steps", { args: [6, 6, 0.06] });
    for await (const update of task.progress) seen.push(update);
    expect(task.status).toBe("finished");
    expect(inOrder(seen)).toBe(true);
    expect(seen.at(-1)).toEqual({ done: 6, total: 6, message: "step 6" });
    await expect(task.result).resolves.toBe(6);
  });

  it("gives a task's updates to its onProgress option, and a stream's to the stream's", async () => {
    const worker = await start();
    const taskUpdates: Progress[] = [];
    const task = await worker.start("streams:progress_steps", { args: [50, 50], onProgress: (p) => taskUpdates.push(p) });
    await task.result;
    expect(taskUpdates.at(-1)).toMatchObject({ done: 50, total: 50 });
    const streamUpdates: Progress[] = [];
    const items: number[] = [];
    for await (const item of worker.stream<number>("streams:progress_stream", [300], {}, { onProgress: (p) => streamUpdates.push(p) }))
      items.push(item);
    expect(items).toHaveLength(300);
    expect(inOrder(streamUpdates)).toBe(true);
    expect(streamUpdates.at(-1)).toEqual({ done: 300, total: 300 });
  });

  it("is a no-op in a call made without options, and checks its arguments", async () => {
    const worker = await start();
    await expect(worker.call("streams:progress_outside")).resolves.toBe(true);
    await expect(worker.call("pyleash:progress", ["1"])).rejects.toMatchObject({ type: "TypeError" });
    await expect(worker.call("streams:pid", [], {}, { onProgress: 5 as never })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
