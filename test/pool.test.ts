import { describe, expect, it } from "vitest";
import {
  AbortError,
  InvalidArgumentError,
  Pool,
  type PoolOptions,
  QueueFullError,
  WorkerClosedError,
  WorkerCrashedError,
} from "../ts/index.js";
import { FIXTURES, track } from "./support/cleanup.js";

/** A pool closed after the current test. */
async function startPool(options: PoolOptions = {}): Promise<Pool> {
  return track(await Pool.start({ pythonPath: [FIXTURES], ...options }));
}

/** Polls until `check` holds; throws after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function ready(pool: Pool): number[] {
  return pool.workers.filter((w) => w.state === "ready").map((w) => w.pid!);
}

function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

describe("Pool", () => {
  it("starts `size` agents and spreads calls among them", async () => {
    const pool = await startPool({ size: 2 });
    expect(pool.size).toBe(2);
    expect(pool.workers).toHaveLength(2);
    expect(pool.workers.every((w) => w.state === "ready" && w.pid !== null && w.inFlight === 0)).toBe(true);
    const pids = await Promise.all(Array.from({ length: 8 }, () => pool.call<number>("calls:pid")));
    expect(new Set(pids)).toEqual(new Set(ready(pool)));
    expect(pool.workers.map((w) => w.done)).toEqual([4, 4]);
  });

  it("settles all of 10,000 calls through a pool of 4", async () => {
    const pool = await startPool({ size: 4 });
    const results = await Promise.all(Array.from({ length: 10_000 }, (_, i) => pool.call<number>("math:floor", [i + 0.5])));
    expect(results.every((r, i) => r === i)).toBe(true);
    expect(pool.workers.reduce((sum, w) => sum + w.done, 0)).toBe(10_000);
    expect(pool.queued).toBe(0);
  });

  it("rejects only the calls of a crashed agent among 4 with 100 in flight, and a replacement serves the next calls", async () => {
    const pool = await startPool({ size: 4 });
    const crashes: number[] = [];
    pool.on("crash", ({ pid }) => crashes.push(pid));
    const before = ready(pool);
    const calls = Array.from({ length: 100 }, () => settle(pool.call("calls:sleep", [1])));
    const perWorker = pool.workers.map((w) => w.inFlight);
    expect(perWorker).toEqual([25, 25, 25, 25]);
    const victim = before[1]!;
    process.kill(victim, "SIGKILL");
    const outcomes = await Promise.all(calls);
    const failed = outcomes.filter((o) => o.error !== undefined);
    expect(failed).toHaveLength(25);
    expect(failed.every((o) => o.error instanceof WorkerCrashedError && o.error.signal === "SIGKILL")).toBe(true);
    expect(outcomes.filter((o) => o.value === 1)).toHaveLength(75);
    expect(crashes).toEqual([victim]);
    await until(() => ready(pool).length === 4, "a replacement is ready");
    const now = ready(pool);
    expect(now).not.toContain(victim);
    const fresh = now.find((pid) => !before.includes(pid));
    expect(fresh).toBeDefined();
    const pids = await Promise.all(Array.from({ length: 8 }, () => pool.call<number>("calls:pid")));
    expect(pids).toContain(fresh);
  });

  it("retires exactly the agent whose stop ended blocked, once its other call has settled", async () => {
    const pool = await startPool({ size: 2 });
    const [first, second] = ready(pool);
    const other = pool.call("calls:sleep", [4]); // to the first agent; it outlasts the stop below by seconds
    const elsewhere = pool.call("calls:sleep", [0.1]); // to the second
    const stuck = settle(pool.call("blocking:sleep_long", [], {}, { timeoutMs: 200, stop: { graceMs: 50, deadlineMs: 400 } }));
    const { error } = await stuck;
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).stopReport?.outcome).toBe("blocked");
    expect(pool.workers.find((w) => w.pid === first)?.state).toBe("retiring");
    await expect(other).resolves.toBe(4); // its other work settles normally
    await expect(elsewhere).resolves.toBe(0.1);
    await until(() => ready(pool).length === 2 && !pool.workers.some((w) => w.pid === first), "the blocked agent is gone");
    const now = ready(pool);
    expect(now).toContain(second);
    expect(now).not.toContain(first);
  });

  it("keeps a task on its agent and counts it until it ends", async () => {
    const pool = await startPool({ size: 2 });
    const task = await pool.start("calls:sleep", { args: [0.3] });
    expect(pool.workers.map((w) => w.tasks).sort()).toEqual([0, 1]);
    await expect(task.result).resolves.toBe(0.3);
    await until(() => pool.workers.every((w) => w.tasks === 0), "the task is counted as ended");
  });

  it("recycles an agent after maxCallsPerWorker calls", async () => {
    const pool = await startPool({ size: 1, maxCallsPerWorker: 3 });
    const pids: number[] = [];
    for (let i = 0; i < 7; i++) pids.push(await pool.call<number>("calls:pid"));
    expect(new Set(pids.slice(0, 3)).size).toBe(1);
    expect(new Set(pids.slice(3, 6)).size).toBe(1);
    expect(pids[3]).not.toBe(pids[0]);
    expect(pids[6]).not.toBe(pids[3]);
  });

  it("queues calls past concurrentCallsPerWorker and rejects at once past maxQueue with a QueueFullError", async () => {
    const pool = await startPool({ size: 1, concurrentCallsPerWorker: 1, maxQueue: 2 });
    const running = pool.call("calls:sleep", [0.3]);
    const queued = [pool.call("calls:add", [1, 2]), pool.call("calls:add", [3, 4])];
    expect(pool.queued).toBe(2);
    const refused = await settle(pool.call("calls:add", [5, 6]));
    expect(refused.error).toBeInstanceOf(QueueFullError);
    expect((refused.error as QueueFullError).maxQueue).toBe(2);
    await expect(running).resolves.toBe(0.3);
    await expect(Promise.all(queued)).resolves.toEqual([3, 7]);
  });

  it("counts the time a call waits in the queue against its timeoutMs, and an abort takes it out of the queue", async () => {
    const pool = await startPool({ size: 1, concurrentCallsPerWorker: 1 });
    const running = pool.call("calls:sleep", [0.5]);
    const timedOut = settle(pool.call("calls:add", [1, 1], {}, { timeoutMs: 50 }));
    const controller = new AbortController();
    const aborted = settle(pool.call("calls:add", [2, 2], {}, { signal: controller.signal }));
    controller.abort(new Error("no longer needed"));
    const [t, a] = await Promise.all([timedOut, aborted]);
    expect(t.error).toBeInstanceOf(AbortError);
    expect(((t.error as AbortError).cause as Error).name).toBe("TimeoutError");
    expect((t.error as AbortError).stopReport).toBeUndefined(); // nothing ran
    expect((a.error as AbortError).cause).toEqual(new Error("no longer needed"));
    expect(pool.queued).toBe(0);
    await expect(running).resolves.toBe(0.5);
    expect(pool.workers[0]!.done).toBe(1);
  });

  it("backs off when agents crash again and again, says so on 'error', and recovers after the back-off", async () => {
    const pool = await startPool({ size: 1, maxCrashes: 2, crashWindowMs: 10_000 });
    const errors: Error[] = [];
    pool.on("error", (error) => errors.push(error));
    await expect(pool.call("calls:exit_hard", [3])).rejects.toBeInstanceOf(WorkerCrashedError);
    await until(() => ready(pool).length === 1, "the first replacement is ready");
    await expect(pool.call("calls:exit_hard", [3])).rejects.toBeInstanceOf(WorkerCrashedError);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "WORKER_CRASH_LOOP", crashes: 2, windowMs: 10_000, retryInMs: 1_000 });
    expect(errors[0]!.cause).toBeInstanceOf(WorkerCrashedError);
    await expect(pool.call("calls:add", [1, 1])).rejects.toBe(errors[0]); // nothing is up: no silent wait
    await until(() => ready(pool).length === 1, "the replacement after the back-off is ready");
    await expect(pool.call("calls:add", [1, 1])).resolves.toBe(2);
  });

  it("settles every pending call on close and refuses calls after it; no process is left", async () => {
    const pool = await startPool({ size: 1, concurrentCallsPerWorker: 1 });
    const pids = ready(pool);
    const running = settle(pool.call("calls:sleep", [5]));
    const queued = settle(pool.call("calls:add", [1, 2]));
    await pool.close();
    expect((await running).error).toBeInstanceOf(WorkerClosedError);
    expect((await queued).error).toBeInstanceOf(WorkerClosedError);
    await expect(pool.call("calls:add", [1, 2])).rejects.toBeInstanceOf(WorkerClosedError);
    await expect(pool.start("calls:add")).rejects.toBeInstanceOf(WorkerClosedError);
    expect(pool.workers).toEqual([]);
    expect(() => process.kill(pids[0]!, 0)).toThrow();
  });

  it("closes with `await using`", async () => {
    let pid = 0;
    {
      await using pool = await Pool.start({ size: 1 });
      pid = ready(pool)[0]!;
      await expect(pool.call("math:floor", [2.5])).resolves.toBe(2);
    }
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it.each([
    [{ size: 0 }, /"size" to be a positive integer, got 0 \(number\)/],
    [{ size: 1.5 }, /"size" to be a positive integer, got 1.5/],
    [{ concurrentCallsPerWorker: -1 }, /"concurrentCallsPerWorker" to be a positive integer, got -1/],
    [{ maxCallsPerWorker: 0 }, /"maxCallsPerWorker" to be a positive integer or Infinity, got 0/],
    [{ maxQueue: -2 }, /"maxQueue" to be a non-negative integer or Infinity, got -2/],
    [{ recycleBlocked: "yes" }, /"recycleBlocked" to be a boolean, got "yes" \(string\)/],
    [{ transport: "carrier-pigeon" }, /"transport" to be one of/],
  ])("refuses the pool options %o with an InvalidArgumentError naming the option", async (options, message) => {
    const error = await Pool.start(options as PoolOptions).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(message);
  });

  it("rejects the whole start, leaving no agent, when an agent cannot start", async () => {
    await expect(Pool.start({ size: 2, python: "/nonexistent/python3" })).rejects.toThrow(/No Python interpreter found/);
  });
});
