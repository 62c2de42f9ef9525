import { describe, expect, it } from "vitest";
import { WorkerCrashedError } from "../ts/index.js";
import { startWorker } from "./support/cleanup.js";

/** What `promise` rejects with. */
function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe("after the agent crashes", () => {
  it("keeps the agent's earlier stderr out of the crash's message, in its stderr", async () => {
    const worker = await startWorker({ output: "ignore" });
    await worker.call("sys:stderr.write", ["UNRELATED-NOISE\n"]);
    await worker.call("sys:stderr.flush");
    const error = await rejection(worker.call("os:_exit", [3]));
    expect(error).toBeInstanceOf(WorkerCrashedError);
    const crash = error as WorkerCrashedError;
    expect(crash.exitCode).toBe(3);
    expect(crash.message).not.toContain("UNRELATED-NOISE");
    expect(crash.stderr).toContain("UNRELATED-NOISE");
  });

  it("restart() starts a fresh agent that answers calls", async () => {
    const worker = await startWorker({ output: "ignore" });
    const first = worker.pid;
    expect(await rejection(worker.call("os:_exit", [3]))).toBeInstanceOf(WorkerCrashedError);
    await worker.restart("recover from the crash");
    expect(worker.closed).toBe(false);
    expect(worker.pid).not.toBe(first);
    await expect(worker.call("operator:add", [1, 2])).resolves.toBe(3);
  });

  it("restart() after the agent was killed from outside (SIGKILL, nothing in flight) starts a fresh agent", async () => {
    const worker = await startWorker({ output: "ignore" });
    const first = worker.pid;
    process.kill(first, "SIGKILL");
    for (let i = 0; i < 500 && !worker.closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(worker.closed).toBe(true);
    await worker.restart("recover from the kill");
    expect(worker.pid).not.toBe(first);
    await expect(worker.call("operator:add", [1, 2])).resolves.toBe(3);
  });
});
