import { describe, expect, it } from "vitest";
import { InvalidArgumentError, Pool, Worker } from "../ts/index.js";
import { startWorker, track } from "./support/cleanup.js";

/** The InvalidArgumentError `run` throws or rejects with. */
async function refused(run: () => unknown): Promise<InvalidArgumentError> {
  const error = await (async () => run())().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

describe("unknown option keys", () => {
  it("refuses { pythonpath } on Worker.start, naming pythonPath, and starts nothing", async () => {
    const error = await refused(() => Worker.start({ pythonpath: ["/tmp"] } as never));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain('Unknown worker option "pythonpath": did you mean "pythonPath"?');
  });

  it("refuses { timeout } on worker.call, naming timeoutMs, and sends nothing", async () => {
    const worker = await startWorker();
    const error = await refused(() => worker.call("calls:add", [1, 2], {}, { timeout: 100 } as never));
    expect(error.message).toContain('Unknown call option "timeout": did you mean "timeoutMs"?');
    await expect(worker.call("calls:add", [1, 2])).resolves.toBe(3);
  });

  it("refuses unknown keys of stream, start, stop, threads and ping options", async () => {
    const worker = await startWorker();
    expect((await refused(() => worker.stream("calls:add", [], {}, { highWatermark: 4 } as never))).message).toContain('did you mean "highWaterMark"?');
    expect((await refused(() => worker.start("calls:add", { kwarg: {} } as never))).message).toContain('Unknown start option "kwarg": did you mean "kwargs"?');
    expect((await refused(() => worker.call("calls:add", [1, 2], {}, { stop: { grace: 5 } } as never))).message).toContain('did you mean "graceMs"?');
    expect((await refused(() => worker.ping({ timeout: 5 } as never))).message).toContain('did you mean "timeoutMs"?');
    expect((await refused(() => worker.threads({ sginal: 5 } as never))).message).toContain('did you mean "signal"?');
  });

  it("lists the valid keys when none is near", async () => {
    const error = await refused(() => Worker.start({ zzzzzzzz: 1 } as never));
    expect(error.message).not.toContain("did you mean");
    expect(error.message).toContain('"startTimeoutMs"');
  });

  it("refuses unknown keys of Pool.start (its own and the worker's) and of pool.call", async () => {
    expect((await refused(() => Pool.start({ sizes: 1 } as never))).message).toContain('Unknown pool option "sizes": did you mean "size"?');
    expect((await refused(() => Pool.start({ size: 1, pythonpath: [] } as never))).message).toContain('did you mean "pythonPath"?');
    const pool = track(await Pool.start({ size: 1, pythonPath: [new URL("./fixtures", import.meta.url).pathname] }));
    expect((await refused(() => pool.call("calls:add", [1, 2], {}, { timeout: 1 } as never))).message).toContain('did you mean "timeoutMs"?');
    await expect(pool.call("calls:add", [1, 2])).resolves.toBe(3);
  });
});
