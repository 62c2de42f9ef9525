import { describe, expect, it } from "vitest";
import { AbortError } from "../ts/index.js";
import { startWorker } from "./support/cleanup.js";
import { testPythons } from "./support/pythons.js";

const pythons = (await testPythons()).filter((p) => p.transport === "builtin");

describe.each(pythons)("calls of an async def, on Python $label", ({ python }) => {
  it("awaits the coroutine on the agent's loop and resolves to what it returns, on the thread and main lanes", async () => {
    const worker = await startWorker({ python });
    await expect(worker.call("calls:async_add", [1, 2])).resolves.toBe(3);
    await expect(worker.call("calls:async_add", [3, 4], {}, { lane: "main" })).resolves.toBe(7);
    await expect(worker.call("calls:async_add", [5, 6], {}, { timeoutMs: 30_000 })).resolves.toBe(11);
  });

  it("runs an async def started as a thread task to its end", async () => {
    const worker = await startWorker({ python });
    const task = await worker.start("calls:async_add", { args: [2, 2] });
    await expect(task.result).resolves.toBe(4);
  });

  it("stops an awaiting call on timeout: the report says stopped and the agent answers on", async () => {
    const worker = await startWorker({ python });
    const error = await worker.call("calls:async_sleep_long", [], {}, { timeoutMs: 300 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).stopReport).toMatchObject({ outcome: "stopped" });
    await expect(worker.call("calls:async_add", [1, 1])).resolves.toBe(2);
  });
});
