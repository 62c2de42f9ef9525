import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AbortError, InvalidArgumentError, PythonError, ResultNotSerializableError, type Stream } from "../ts/index.js";
import { startWorker } from "./support/cleanup.js";
import { testPythons } from "./support/pythons.js";
import { threadReached } from "./support/tasks.js";

const pythons = await testPythons();
const first = pythons[0]!.label; // the 100,000-item stream runs here; smaller ones elsewhere

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh path for a generator's side-effect file. */
function sideEffect(): string {
  const dir = mkdtempSync(join(tmpdir(), "pyleash-stream-"));
  dirs.push(dir);
  return join(dir, "effect.txt");
}

/** Every item of the stream, or the error it ended with. */
async function drain<T>(stream: Stream<T>): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of stream) items.push(item);
  } catch (error) {
    return { items, error };
  }
  return { items };
}

describe.each(pythons)("streams on Python $label", ({ label, python, transport }) => {
  const start = () => startWorker({ python, transport });

  it(`yields every item of a generator in order (${label === first ? "100,000" : "5,000"} items)`, async () => {
    const worker = await start();
    const n = label === first ? 100_000 : 5_000;
    let expected = 0;
    for await (const item of worker.stream<number>("streams:numbers", [n])) {
      if (item !== expected) throw new Error(`item ${expected} came as ${item}`);
      expected++;
    }
    expect(expected).toBe(n);
    expect((await worker.threads()).filter((t) => t.task !== null)).toEqual([]);
  });

  it("streams a plain iterable and an async generator run on the agent's asyncio loop", async () => {
    const worker = await start();
    expect((await drain(worker.stream("streams:listing", [3]))).items).toEqual([0, 1, 2]);
    expect((await drain(worker.stream("streams:agen", [4, 0.001]))).items).toEqual([0, 1, 2, 3]);
  });

  it("runs the generator's finally when the loop is left with break, and reports how it stopped", async () => {
    const worker = await start();
    const path = sideEffect();
    const stream = worker.stream<number>("streams:with_finally", [path]);
    for await (const item of stream) if (item === 10) break;
    expect(readFileSync(path, "utf8")).toBe("closed"); // break waited for the close
    expect(stream.stopReport).toMatchObject({ outcome: "stopped", finallyRan: true, steps: [{ strategy: "flag" }] });
  });

  it("closes the generator with GeneratorExit when the loop body throws, and the loop's error propagates", async () => {
    const worker = await start();
    const name = `throw-${label}`;
    const thrown = new Error("the consumer failed");
    const loop = (async () => {
      for await (const item of worker.stream<number>("streams:counted", [name, 1_000_000])) if (item === 3) throw thrown;
    })();
    await expect(loop).rejects.toBe(thrown);
    expect(await worker.call("streams:closed_as", [name])).toBe("GeneratorExit");
  });

  it("stops a generator stuck in a CPU loop between items when the signal aborts: AbortError with outcome stopped", async () => {
    const worker = await start();
    const path = sideEffect();
    const controller = new AbortController();
    const stream = worker.stream<number>("streams:stuck_after", [path, 3], {}, { signal: controller.signal });
    const seen: number[] = [];
    const reason = new Error("enough");
    const error = await (async () => {
      for await (const item of stream) {
        seen.push(item);
        if (item === 2) {
          await threadReached(worker, "stuck_after", "stream");
          controller.abort(reason);
        }
      }
    })().catch((e: unknown) => e);
    expect(seen).toEqual([0, 1, 2]);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toBe(reason);
    expect((error as AbortError).stopReport).toMatchObject({ outcome: "stopped", finallyRan: true });
    expect((error as AbortError).stopReport!.steps.map((s) => s.strategy)).toEqual(["flag", "async-exc"]);
    expect(readFileSync(path, "utf8")).toBe("stopped");
    await expect(worker.call("streams:pid")).resolves.toBe(worker.pid);
  });

  it("sends an item at once, not held back behind a next one that never comes; break then applies the ladder", async () => {
    const worker = await start();
    const path = sideEffect();
    const stream = worker.stream<number>("streams:stuck_after", [path, 1]);
    for await (const item of stream) {
      expect(item).toBe(0);
      break;
    }
    expect(stream.stopReport).toMatchObject({ outcome: "stopped" });
    expect(stream.stopReport!.steps.map((s) => s.strategy)).toEqual(["flag", "async-exc"]);
    expect(existsSync(path)).toBe(true);
  });

  it("stops a generator that goes on after GeneratorExit with the ladder's next step", async () => {
    const worker = await start();
    const path = sideEffect();
    const stream = worker.stream<number>("streams:swallows_close", [path]);
    for await (const item of stream) if (item === 0) break;
    expect(stream.stopReport).toMatchObject({ outcome: "stopped" });
    expect(stream.stopReport!.steps.map((s) => s.strategy)).toEqual(["flag", "async-exc"]);
    expect(readFileSync(path, "utf8")).toBe("stopped");
  });

  it("times out like an abort, with a TimeoutError as the cause", async () => {
    const worker = await start();
    const error = await drain(worker.stream("streams:stuck_after", [sideEffect(), 1], {}, { timeoutMs: 300 }));
    expect(error.items).toEqual([0]);
    expect(error.error).toBeInstanceOf(AbortError);
    expect(((error.error as AbortError).cause as Error).name).toBe("TimeoutError");
    expect((error.error as AbortError).stopReport).toMatchObject({ outcome: "stopped" });
  });

  it("cancels an async generator waiting in an await when the signal aborts; its finally runs", async () => {
    const worker = await start();
    const path = sideEffect();
    const controller = new AbortController();
    const stream = worker.stream<string>("streams:agen_waits", [path], {}, { signal: controller.signal });
    const error = await (async () => {
      for await (const item of stream) {
        expect(item).toBe("first");
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).stopReport).toMatchObject({ outcome: "stopped" });
    expect(readFileSync(path, "utf8")).toBe("cancelled");
  });

  it("rejects with the generator's exception as a PythonError, after the items before it", async () => {
    const worker = await start();
    const { items, error } = await drain(worker.stream("streams:fails_after", [5]));
    expect(items).toEqual([0, 1, 2, 3, 4]);
    expect(error).toBeInstanceOf(PythonError);
    expect(error).toMatchObject({ type: "ValueError", message: expect.stringContaining("bad item 5") });
    expect((error as PythonError).traceback).toContain("fails_after");
  });

  it("yields bytes items, and bytes nested in items, as Buffers in order among plain ones", async () => {
    const worker = await start();
    const size = 100_000;
    const { items, error } = await drain(worker.stream<unknown>("streams:chunks", [9, size], {}, { highWaterMark: 2 }));
    expect(error).toBeUndefined();
    expect(items).toHaveLength(9);
    for (const [i, item] of items.entries()) {
      if (i % 3 === 0) {
        expect(item).toBe(i);
        continue;
      }
      const data = i % 3 === 1 ? item : (item as { i: number; data: Buffer }).data;
      if (i % 3 === 2) expect((item as { i: number }).i).toBe(i);
      expect(Buffer.isBuffer(data)).toBe(true);
      expect((data as Buffer).length).toBe(size);
      expect((data as Buffer).every((b) => b === i % 256)).toBe(true);
    }
  });

  it("rejects with a ResultNotSerializableError naming the item that cannot cross", async () => {
    const worker = await start();
    const { items, error } = await drain(worker.stream("streams:unserializable"));
    expect(items).toEqual([1]);
    expect(error).toBeInstanceOf(ResultNotSerializableError);
    expect(error).toMatchObject({ pythonType: "set", path: "stream[1]" });
  });

  it("never lets the generator run more than highWaterMark items ahead of the consumer", async () => {
    const worker = await start();
    const name = `ahead-${label}`;
    const highWaterMark = 8;
    let consumed = 0;
    let furthest = 0;
    for await (const item of worker.stream<number>("streams:counted", [name, 200], {}, { highWaterMark })) {
      consumed++;
      expect(item).toBe(consumed - 1);
      if (consumed === 20) {
        // Let it run as far ahead as it may: it stops at exactly highWaterMark ahead, and stays there.
        const deadline = Date.now() + 20_000;
        while ((await worker.call<number>("streams:count_of", [name])) < consumed + highWaterMark && Date.now() < deadline);
      }
      const produced = await worker.call<number>("streams:count_of", [name]);
      furthest = Math.max(furthest, produced - consumed);
      expect(produced).toBeLessThanOrEqual(consumed + highWaterMark);
    }
    expect(consumed).toBe(200);
    expect(furthest).toBe(highWaterMark);
  });

  it("validates its options eagerly, naming the option and the value", async () => {
    const worker = await start();
    for (const highWaterMark of [0, -1, 1.5, "4", Number.NaN]) {
      expect(() => worker.stream("streams:numbers", [1], {}, { highWaterMark: highWaterMark as number })).toThrow(InvalidArgumentError);
    }
    expect(() => worker.stream("streams:numbers", [1], {}, { highWaterMark: 0 })).toThrow(
      /"highWaterMark" to be a positive integer, got 0 \(number\)/,
    );
    expect(() => worker.stream("streams:numbers", [1], {}, { timeoutMs: -5 })).toThrow(/"timeoutMs".*-5/);
    expect(() => worker.stream("streams:numbers", [1], {}, { stop: { strategy: "terminate" } })).toThrow(InvalidArgumentError);
    expect(() => worker.stream("not a target")).toThrow(InvalidArgumentError);
    const controller = new AbortController();
    controller.abort();
    expect(() => worker.stream("streams:numbers", [1], {}, { signal: controller.signal })).toThrow(AbortError);
  });
});
