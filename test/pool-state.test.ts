import { describe, expect, it } from "vitest";
import { InitializerError, Pool, type PoolOptions, PythonError } from "../ts/index.js";
import { FIXTURES, track } from "./support/cleanup.js";

async function startPool(options: PoolOptions = {}): Promise<Pool> {
  return track(await Pool.start({ pythonPath: [FIXTURES], output: "ignore", ...options }));
}

/** Polls until `check` holds; throws after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("state on every agent of a pool", () => {
  it("runs the initializer on every agent before it takes work, and on a replacement", async () => {
    const pool = await startPool({ size: 2, initializer: { target: "calls:load_model", args: ["m1"] } });
    const answers = await pool.broadcast("calls:model");
    expect(answers).toHaveLength(2);
    expect(answers.map((a) => a.status === "fulfilled" && a.value)).toEqual(["m1", "m1"]);
    const victim = answers[0]!.pid;
    process.kill(victim, "SIGKILL");
    await until(() => pool.workers.filter((w) => w.state === "ready" && w.pid !== victim).length === 2, "a replacement is ready");
    const again = await pool.broadcast("calls:model");
    expect(again.map((a) => a.status === "fulfilled" && a.value)).toEqual(["m1", "m1"]);
    expect(again.map((a) => a.pid)).not.toContain(victim);
  });

  it("broadcast answers per agent, with each agent's rejection apart", async () => {
    const pool = await startPool({ size: 2 });
    const answers = await pool.broadcast("calls:failing_init");
    expect(answers).toHaveLength(2);
    for (const answer of answers) {
      expect(answer.status).toBe("rejected");
      expect((answer as { reason: unknown }).reason).toBeInstanceOf(PythonError);
    }
    expect(new Set(answers.map((a) => a.pid))).toEqual(new Set(pool.workers.map((w) => w.pid)));
  });

  it("rejects Pool.start with an InitializerError when the initializer raises, and leaves no agent", async () => {
    const error = await Pool.start({
      size: 2,
      pythonPath: [FIXTURES],
      output: "ignore",
      initializer: { target: "calls:failing_init" },
    }).then(
      (pool) => {
        track(pool);
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InitializerError);
    expect((error as InitializerError).code).toBe("INITIALIZER_FAILED");
    expect((error as InitializerError).cause).toBeInstanceOf(PythonError);
    expect((error as Error).message).toContain("the model file is missing");
  });

  it("refuses an initializer that is not { target, args?, kwargs? }", async () => {
    await expect(Pool.start({ size: 1, initializer: { target: "no target" } })).rejects.toThrow(/Expected a target/);
    await expect(Pool.start({ size: 1, initializer: { target: "calls:model", arg: [] } as never })).rejects.toThrow(/did you mean "args"/);
  });
});
