import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { FIXTURES } from "./support/cleanup.js";

const exec = promisify(execFile);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;

/** Run the built CLI; resolves with its exit status and parsed --json stdout. */
async function pyleash(...args: string[]): Promise<{ status: number; json: Record<string, any> }> {
  try {
    const { stdout } = await exec(process.execPath, [CLI, ...args, "--json"], { timeout: 60_000 });
    return { status: 0, json: JSON.parse(stdout) };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { status: failed.code, json: JSON.parse(failed.stdout) };
  }
}

describe("the pyleash command", () => {
  it("prints one JSON object with the result, the Python version and the transport for call --json", async () => {
    const { status, json } = await pyleash("call", "math:floor", "--args", "[2.7]");
    expect(status).toBe(0);
    expect(json).toMatchObject({ ok: true, result: 2, transport: expect.stringMatching(/^(builtin|pyzmq)$/) });
    expect(json.python).toMatch(/^3\.\d+\.\d+$/);
  });

  it("exits 1 with a typed error for a Python exception, a crash and a missing interpreter", async () => {
    const raised = await pyleash("call", "calls:raise_value_error", "--args", '["no"]', "--pythonpath", FIXTURES);
    expect(raised.status).toBe(1);
    expect(raised.json.error).toMatchObject({ type: "PythonError", exception: "ValueError", code: "PYTHON_ERROR" });
    expect(raised.json.error.traceback).toContain("raise_value_error");
    const crashed = await pyleash("call", "calls:exit_hard", "--args", "[9]", "--pythonpath", FIXTURES);
    expect(crashed.json).toMatchObject({ ok: false, error: { type: "WorkerCrashedError", exitCode: 9 } });
    const missing = await pyleash("call", "math:floor", "--python", "/no/python");
    expect(missing.json.error).toMatchObject({ type: "PythonNotFoundError", code: "PYTHON_NOT_FOUND" });
  });

  it("runs a task, stops it after --stop-after and prints the stop report", async () => {
    const { status, json } = await pyleash("run", "pyleash.demo:spin", "--stop-after", "100", "--strategy", "async-exc");
    expect(status).toBe(0);
    expect(json).toMatchObject({ status: "stopped", stop: { outcome: "stopped", strategy: "async-exc" } });
  });

  it("reports a blocked task with where it sits, and exits 1", async () => {
    const { status, json } = await pyleash("run", "pyleash.demo:sleep", "--stop-after", "100", "--deadline", "400");
    expect(status).toBe(1);
    expect(json).toMatchObject({ status: "blocked", stop: { outcome: "blocked", blockedIn: { function: "sleep" } } });
  });

  it("lists interpreters with doctor --json", async () => {
    const { status, json } = await pyleash("doctor");
    expect(status).toBe(0);
    expect(json.pythons[0]).toMatchObject({ path: expect.any(String), version: expect.any(String), pyzmq: expect.any(Boolean) });
  });
});
