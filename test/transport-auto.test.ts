/** `transport: "auto"`: the built-in client for local agents even where pyzmq is importable; pyzmq only on request. */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { startWorker } from "./support/cleanup.js";

const PYZMQ: string[] = JSON.parse(process.env.PYLEASH_TEST_PYZMQ ?? "[]");
const VENV_PYTHON = PYZMQ.find((p) => existsSync(p)) ?? "";
if (!VENV_PYTHON) console.log("[transport-auto] no pyzmq venv (PYLEASH_TEST_PYZMQ is empty): skipped");

describe.skipIf(!VENV_PYTHON)("transport auto on an interpreter with pyzmq (needs the pyzmq venv)", () => {
  it("picks the built-in client for a local agent: it is faster and smaller than pyzmq on every local figure", async () => {
    const worker = await startWorker({ python: VENV_PYTHON });
    expect(worker.transport).toBe("builtin");
    expect(await worker.call("math:factorial", [5])).toBe(120);
  });

  it("still gives pyzmq to whoever asks for it", async () => {
    const worker = await startWorker({ python: VENV_PYTHON, transport: "pyzmq" });
    expect(worker.transport).toBe("pyzmq");
    expect(await worker.call("math:factorial", [5])).toBe(120);
  });
});
