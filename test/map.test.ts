import { describe, expect, it } from "vitest";
import { AbortError, InvalidArgumentError, type MapResult, Pool, PythonError } from "../ts/index.js";
import { FIXTURES, startWorker, track } from "./support/cleanup.js";
import { testPythons } from "./support/pythons.js";
import { threadReached } from "./support/tasks.js";

const pythons = await testPythons();

/** Every result of the map, in the order they came. */
async function collect<T>(results: AsyncIterable<MapResult<T>>): Promise<MapResult<T>[]> {
  const all: MapResult<T>[] = [];
  for await (const r of results) all.push(r);
  return all;
}

describe.each(pythons)("map on Python $label", ({ python, transport }) => {
  const start = () => startWorker({ python, transport });

  it("yields the result of every item in the order of the items", async () => {
    const worker = await start();
    const items = Array.from({ length: 10_000 }, (_, i) => i);
    const results = await collect(worker.map<number>("mapping:square", items, { chunkSize: 300 }));
    expect(results.map((r) => r.index)).toEqual(items);
    expect(results.every((r) => r.ok && r.value === r.index * r.index)).toBe(true);
    expect((await worker.threads()).filter((t) => t.task !== null)).toEqual([]);
  });

  it("keeps starting chunks while the first one is slow, in order", async () => {
    const worker = await start();
    const results = await collect(worker.map("mapping:first_waits_for_last", [0, 1, 2, 3], { chunkSize: 1 }));
    expect(results.map((r) => r.ok && r.value)).toEqual(["released", 1, 2, 3]);
  });

  it("yields results as they come when ordered is false, each with its index", async () => {
    const worker = await start();
    const items = Array.from({ length: 40 }, (_, i) => i);
    const results = await collect(worker.map<number>("mapping:jittered", items, { chunkSize: 1, ordered: false }));
    expect(results.map((r) => r.index).sort((a, b) => a - b)).toEqual(items);
    expect(results.every((r) => r.ok && r.value === r.index)).toBe(true);
  });

  it("gives an item that raises as a PythonError result and goes on with the others", async () => {
    const worker = await start();
    const items = Array.from({ length: 50 }, (_, i) => i + 1);
    const results = await collect(worker.map<number>("mapping:fail_on_multiples_of_7", items, { chunkSize: 8 }));
    expect(results).toHaveLength(50);
    for (const r of results) {
      const x = items[r.index]!;
      if (x % 7 === 0) {
        expect(r.ok).toBe(false);
        if (r.ok) continue;
        expect(r.error).toBeInstanceOf(PythonError);
        expect(r.error.type).toBe("ValueError");
        expect(r.error.message).toBe(`ValueError: ${x} is a multiple of 7`);
        expect(r.error.traceback).toContain("fail_on_multiples_of_7");
      } else {
        expect(r).toEqual({ index: r.index, ok: true, value: x });
      }
    }
  });

  it("ends with the first item's PythonError under stopOnError", async () => {
    const worker = await start();
    const items = Array.from({ length: 50 }, (_, i) => i + 1);
    const seen: number[] = [];
    const error = await (async () => {
      for await (const r of worker.map<number>("mapping:fail_on_multiples_of_7", items, { chunkSize: 8, stopOnError: true }))
        seen.push(r.index);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonError);
    expect((error as PythonError).message).toBe("ValueError: 7 is a multiple of 7");
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await worker.threads()).filter((t) => t.task !== null)).toEqual([]);
  });

  it("stops the chunk running on abort, drops the rest, and the agent still answers", async () => {
    const worker = await start();
    const controller = new AbortController();
    const items = Array.from({ length: 20 }, (_, i) => i);
    const map = worker.map("mapping:slow_item", items, { chunkSize: 2, signal: controller.signal });
    const first = map.next();
    await threadReached(worker, "slow_item", "map chunk");
    controller.abort(new Error("enough"));
    const error = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toEqual(new Error("enough"));
    expect((error as AbortError).stopReport?.outcome).toBeDefined();
    expect(["stopped", "finished-first"]).toContain((error as AbortError).stopReport?.outcome);
    expect((await worker.threads()).filter((t) => t.task !== null)).toEqual([]);
    expect(await worker.call("mapping:begun")).toBeLessThanOrEqual(4); // the two chunks in flight at most
    expect(await worker.call("mapping:square", [3])).toBe(9);
    expect(await map.next()).toEqual({ value: undefined, done: true });
  });

  it("stops the chunks running when the loop is left early", async () => {
    const worker = await start();
    const items = Array.from({ length: 100_000 }, (_, i) => i);
    let n = 0;
    for await (const r of worker.map<number>("mapping:square", items, { chunkSize: 1000 })) {
      expect(r.index).toBe(n);
      if (++n === 10) break;
    }
    expect((await worker.threads()).filter((t) => t.task !== null)).toEqual([]);
    expect(await worker.call("mapping:square", [4])).toBe(16);
  });

  it("refuses bad options, items and targets with typed errors, sending nothing", async () => {
    const worker = await start();
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    for (const options of [
      { chunkSize: 0 },
      { chunkSize: 1.5 },
      { ordered: "yes" },
      { stopOnError: 1 },
      { timeoutMs: -1 },
      { signal: {} },
      { chunksize: 10 },
    ]) {
      const error = bad(() => worker.map("mapping:square", [1], options as never));
      expect(error, JSON.stringify(options)).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).code).toBe("INVALID_ARGUMENT");
    }
    expect((bad(() => worker.map("mapping:square", [1], { chunksize: 10 } as never)) as Error).message).toContain('"chunksize"');
    expect(bad(() => worker.map("mapping:square", "abc" as never))).toBeInstanceOf(InvalidArgumentError);
    expect(bad(() => worker.map("mapping:square", 5 as never))).toBeInstanceOf(InvalidArgumentError);
    expect(bad(() => worker.map("no colon", [1]))).toBeInstanceOf(InvalidArgumentError);
    expect(bad(() => worker.map("mapping:square", [1], { signal: AbortSignal.abort() }))).toBeInstanceOf(AbortError);
    expect(await worker.call("mapping:square", [5])).toBe(25);
  });

  it("times out as an abort whose cause is a TimeoutError", async () => {
    const worker = await start();
    const error = await collect(worker.map("mapping:slow_item", [1, 2, 3], { chunkSize: 1, timeoutMs: 300 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(((error as AbortError).cause as Error).name).toBe("TimeoutError");
    expect((await worker.threads()).filter((t) => t.task !== null)).toEqual([]);
  });
});

describe("pool.map", () => {
  const { python, transport } = pythons.find((p) => p.label.startsWith("3.11")) ?? pythons[0]!;
  const startPool = async (size: number) => track(await Pool.start({ size, python, transport, pythonPath: [FIXTURES] }));

  it("spreads the chunks over the pool's agents and yields the results in the order of the items", async () => {
    const pool = await startPool(2);
    const items = Array.from({ length: 200 }, (_, i) => i);
    const results = await collect(pool.map<[number, number]>("mapping:pid_of", items, { chunkSize: 10 }));
    expect(results.map((r) => r.index)).toEqual(items);
    expect(results.every((r) => r.ok && r.value[0] === r.index)).toBe(true);
    const pids = new Set(results.map((r) => (r.ok ? r.value[1] : 0)));
    expect(pids).toEqual(new Set(pool.workers.map((w) => w.pid)));
    expect(pool.workers.every((w) => w.tasks === 0)).toBe(true);
  });

  it("stops the chunks running on every agent on abort, and the pool still answers", async () => {
    const pool = await startPool(2);
    const controller = new AbortController();
    const map = pool.map(
      "mapping:slow_item",
      Array.from({ length: 40 }, (_, i) => i),
      { chunkSize: 2, signal: controller.signal },
    );
    const first = map.next();
    const deadline = Date.now() + 20_000;
    while (pool.workers.some((w) => w.tasks === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    const error = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(pool.workers.every((w) => w.tasks === 0)).toBe(true);
    expect(await pool.call("mapping:square", [6])).toBe(36);
  });

  it("refuses bad options with a typed error", async () => {
    const pool = await startPool(1);
    expect(() => pool.map("mapping:square", [1], { chunkSize: -3 })).toThrow(InvalidArgumentError);
  });
});

describe("map's target", () => {
  const { python, transport } = pythons.find((p) => p.label.startsWith("3.11")) ?? pythons[0]!;

  it("ends the loop with a TargetNotFoundError for a missing function, and honours allowedModules", async () => {
    const worker = await startWorker({ python, transport, allowedModules: ["mapping"] });
    await expect(collect(worker.map("mapping:nope", [1, 2]))).rejects.toMatchObject({ code: "TARGET_NOT_FOUND" });
    await expect(collect(worker.map("os:getpid", [1, 2]))).rejects.toMatchObject({ code: "TARGET_NOT_ALLOWED" });
    expect((await collect(worker.map("mapping:square", [3]))).map((r) => r.ok && r.value)).toEqual([9]);
    expect(await collect(worker.map("mapping:square", []))).toEqual([]);
  });
});
