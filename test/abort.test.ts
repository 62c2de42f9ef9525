import { describe, expect, it } from "vitest";
import { AbortError } from "../ts/errors.js";
import { WaitingLine } from "../ts/pool/queue.js";
import { type Cutoff, abortedBeforeStart, cutoffError, onCutoff, whenCutOff } from "../ts/util/abort.js";

describe("one abort and timeout helper", () => {
  it("names the work in each message, with the signal's reason as the cause", () => {
    for (const work of ["call", "task", "stream", "map"] as const) {
      const controller = new AbortController();
      const fired: Cutoff[] = [];
      onCutoff(controller.signal, undefined, work, (cutoff) => fired.push(cutoff));
      controller.abort("enough");
      controller.abort("again");
      expect(fired).toEqual([{ message: `The ${work} was aborted`, cause: "enough" }]);
    }
  });

  it("times out with a TimeoutError as the cause, its message the AbortError's", async () => {
    const { message, cause } = await whenCutOff(undefined, 5, "stream").fired;
    expect(message).toBe("The stream timed out after 5 ms");
    expect(cause).toMatchObject({ name: "TimeoutError", message });
  });

  it("fires at once for a signal that has already aborted", () => {
    const fired: Cutoff[] = [];
    onCutoff(AbortSignal.abort("before"), 1_000, "task", (cutoff) => fired.push(cutoff));
    expect(fired).toEqual([{ message: "The task was aborted", cause: "before" }]);
  });

  it("removes its listener and its timer when disposed, and never fires after", async () => {
    const controller = new AbortController();
    const fired: Cutoff[] = [];
    const dispose = onCutoff(controller.signal, 5, "call", (cutoff) => fired.push(cutoff));
    dispose();
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired).toEqual([]);
  });

  it("makes AbortErrors with the stop's report and says 'before it started' for a signal aborted first", () => {
    const error = cutoffError({ message: "The call was aborted", cause: "why" }, { error: new Error("stop failed") });
    expect(error).toBeInstanceOf(AbortError);
    expect(error).toMatchObject({ name: "AbortError", code: "ABORT_ERR", cause: "why", stopReport: undefined });
    expect(error.stopError?.message).toBe("stop failed");
    expect(abortedBeforeStart("map", AbortSignal.abort("x")).message).toBe("The map was aborted before it started");
  });

  it("words the pool's waiting line for the work that waits (a task is not a call)", async () => {
    const line = new WaitingLine();
    const controller = new AbortController();
    const errors: unknown[] = [];
    const job = (): Parameters<WaitingLine["push"]>[0] => ({
      run: async () => undefined,
      resolve: () => {},
      reject: (error) => errors.push(error),
    });
    line.push(job(), "task", controller.signal, undefined);
    line.push(job(), "call", undefined, 5);
    expect(line.size).toBe(2);
    controller.abort("stop waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(line.size).toBe(0);
    expect(errors.map((e) => (e as AbortError).message)).toEqual([
      "The task was aborted while it waited for a worker in the pool",
      "The call timed out after 5 ms while it waited for a worker in the pool",
    ]);
    expect(line.take()).toBeUndefined();
  });
});
