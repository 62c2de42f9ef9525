import { describe, expect, it } from "vitest";
import { PythonError, ResultNotSerializableError, TargetNotFoundError } from "../ts/index.js";
import { startWorker } from "./support/cleanup.js";
import { testPythons } from "./support/pythons.js";

const pythons = await testPythons();

describe.each(pythons)("the call path on Python $label", ({ python, transport }) => {
  it("returns the JSON-decoded result of a call with positional and keyword arguments", async () => {
    const worker = await startWorker({ python, transport });
    expect(worker.transport).toBe(transport);
    expect(await worker.call("calls:echo", [1, "two", [3]], { four: { five: null } })).toEqual({
      args: [1, "two", [3]],
      kwargs: { four: { five: null } },
    });
    expect(await worker.call("math:floor", [2.7])).toBe(2);
  });

  it("rejects with a PythonError carrying the exception type and traceback", async () => {
    const worker = await startWorker({ python, transport });
    const error = await worker.call("calls:raise_value_error", ["bad value"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonError);
    expect(error).toMatchObject({ type: "ValueError", code: "PYTHON_ERROR" });
    expect((error as PythonError).message).toContain("bad value");
    expect((error as PythonError).traceback).toContain("raise_value_error");
  });

  it("rejects an unknown module or attribute with a TargetNotFoundError and keeps serving", async () => {
    const worker = await startWorker({ python, transport });
    await expect(worker.call("no_such_module_xyz:f")).rejects.toBeInstanceOf(TargetNotFoundError);
    await expect(worker.call("calls:no_such_function")).rejects.toThrow(/no attribute 'no_such_function'/);
    expect(await worker.call("calls:add", [2, 3])).toBe(5);
  });

  it("reports a module whose own import fails as the user's exception, not a missing target", async () => {
    const worker = await startWorker({ python, transport });
    const error = await worker.call("broken_import:f").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonError);
    expect(error).not.toBeInstanceOf(TargetNotFoundError);
    expect(error).toMatchObject({ type: "ModuleNotFoundError" });
  });

  it("names the Python type of a result that JSON cannot carry", async () => {
    const worker = await startWorker({ python, transport });
    await expect(worker.call("calls:returns_set")).rejects.toMatchObject({
      constructor: ResultNotSerializableError,
      pythonType: "set",
    });
    await expect(worker.call("calls:returns_nan")).rejects.toMatchObject({ pythonType: "float (nan)" });
    await expect(worker.call("calls:returns_nested_object")).rejects.toMatchObject({ pythonType: "object" });
  });

  it("carries payloads larger than a socket buffer both ways", async () => {
    const worker = await startWorker({ python, transport });
    const big = "y".repeat(3_000_000);
    expect(((await worker.call("calls:echo", [big])) as { args: string[] }).args[0]).toHaveLength(big.length);
    expect(await worker.call("calls:blob", [70_000])).toHaveLength(70_000);
  });

  it("runs calls concurrently off the main thread, a short one on the control thread itself", async () => {
    const worker = await startWorker({ python, transport });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 8 }, () => worker.call("calls:sleep", [0.5])));
    expect(results).toEqual(Array(8).fill(0.5));
    expect(Date.now() - started).toBeLessThan(8 * 500); // serial would take 4 s
    // Calls that outlast 2 ms there hand the reading to another thread, which carries on as pyleash-control.
    expect(await worker.call("calls:thread_name")).toBe("pyleash-control");
  });

  it("keeps hundreds of calls in flight and answers each with its own result", async () => {
    const worker = await startWorker({ python, transport });
    const results = await Promise.all(Array.from({ length: 500 }, (_, i) => worker.call("calls:add", [i, 1])));
    expect(results).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });

  it("sends a burst of calls in parts as it is made: the agent runs the first ones before the tick that makes them ends", async () => {
    const worker = await startWorker({ python, transport });
    const calls = Array.from({ length: 200 }, () => worker.call("time:time") as Promise<number>);
    const spinUntil = Date.now() + 1500; // the same tick, busy: nothing queued for its end can leave meanwhile
    while (Date.now() < spinUntil);
    const tickEnded = Date.now() / 1000;
    const ranAt = await Promise.all(calls);
    expect(ranAt[100]).toBeLessThan(tickEnded); // in the second part, sent at the 129th call
    expect(ranAt.at(-1)).toBeGreaterThan(tickEnded); // the last part waits for the tick's end
  });

  it("answers 40,000 calls made in one tick in order, past the sends zeromq.js takes at once (then EBUSY)", async () => {
    const worker = await startWorker({ python, transport });
    const results = await Promise.all(Array.from({ length: 40_000 }, (_, i) => worker.call("operator:add", [i, 1])));
    expect(results).toEqual(Array.from({ length: 40_000 }, (_, i) => i + 1));
  });
});
