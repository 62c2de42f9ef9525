import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { FIXTURES } from "./support/cleanup.js";

const exec = promisify(execFile);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;
const PACKAGE = new URL("../package.json", import.meta.url);

/** Run the built CLI as given; resolves with its exit status, stdout and stderr. */
async function raw(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { timeout: 60_000 });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** Every module a file reaches through static `import ... from "./x.js"` (type-only imports are erased by tsc). */
async function staticImports(file: string, seen = new Set<string>()): Promise<Set<string>> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const code = await readFile(file, "utf8");
  for (const match of code.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.{1,2}\/[^"]+)"/gm)) {
    await staticImports(join(dirname(file), match[1]!), seen);
  }
  return seen;
}

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

  it("stops a call that outlives --timeout on the main lane, exits 1 and puts the stop report in error.stop", async () => {
    const { status, json } = await pyleash("call", "pyleash.demo:sleep", "--args", "[100]", "--timeout", "300", "--lane", "main");
    expect(status).toBe(1);
    expect(json).toMatchObject({ ok: false, error: { type: "AbortError", code: "ABORT_ERR", stop: { outcome: "stopped" } } });
    expect(json.error.stop.steps.map((s: { strategy: string }) => s.strategy)).toEqual(["flag", "signal"]);
  });

  it("reports a timed-out call on the thread lane blocked in time.sleep with where it sits", async () => {
    const { status, json } = await pyleash(
      "call",
      "pyleash.demo:sleep",
      "--args",
      "[100]",
      "--timeout",
      "1000", // begun by then even under load: a call stopped before it begins is reported stopped, not blocked
      "--strategy",
      "async-exc",
      "--deadline",
      "400",
    );
    expect(status).toBe(1);
    expect(json.error.stop).toMatchObject({ outcome: "blocked", strategy: "async-exc", blockedIn: { function: "sleep" } });
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
    expect(json.pythons[0]).toMatchObject({
      path: expect.any(String),
      version: expect.any(String),
      freeThreaded: expect.any(Boolean),
      pyzmq: expect.any(Boolean),
    });
    expect(json.pythons[0].ray === null || typeof json.pythons[0].ray === "string").toBe(true);
  });

  it.skipIf(!process.env.PYLEASH_TEST_RAY)(
    "says which Ray an interpreter imports with doctor --python <the Ray venv>",
    async () => {
      const { status, json } = await pyleash("doctor", "--python", process.env.PYLEASH_TEST_RAY!);
      expect(status).toBe(0);
      expect(json.pythons[0].ray).toMatch(/^\d+\.\d+/);
    },
    120_000,
  );

  it("stops the task with the ladder on Ctrl-C of run --json, prints the report and exits 130", async () => {
    const child = spawn(process.execPath, [CLI, "run", "calls:announce_and_spin", "--pythonpath", FIXTURES, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const spinning = new Promise<void>((resolve) =>
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("SPINNING")) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
    try {
      await Promise.race([spinning, exited]);
      child.kill("SIGINT");
      expect(await exited).toBe(130);
    } finally {
      clearTimeout(timer);
    }
    const json = JSON.parse(stdout);
    expect(json).toMatchObject({ interrupted: true, stop: { outcome: "stopped" } });
  });

  it("probes a virtual environment's own interpreter with doctor --python .venv/bin/python, not its base", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pyleash-venv-"));
    try {
      await exec(process.env.PYLEASH_PYTHON || "python3", ["-m", "venv", "--without-pip", join(dir, "venv")], { timeout: 60_000 });
      const venvPython = join(dir, "venv", "bin", "python");
      const { status, json } = await pyleash("doctor", "--python", venvPython);
      expect(status).toBe(0);
      expect(json.pythons).toHaveLength(1);
      expect(json.pythons[0].path).toBe(venvPython);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the pyleash command line", () => {
  it("prints the version from package.json for --version", async () => {
    const { version } = JSON.parse(await readFile(PACKAGE, "utf8")) as { version: string };
    const { status, stdout } = await raw("--version");
    expect(status).toBe(0);
    expect(stdout.trim()).toBe(version);
  });

  it("describes every option of run and shows an example for run --help", async () => {
    const { status, stdout } = await raw("run", "--help");
    expect(status).toBe(0);
    expect(stdout).toMatch(/^Usage: pyleash run \[options\] <module:function>/);
    for (const flag of [
      "--args",
      "--kwargs",
      "--kind",
      "--stop-after",
      "--strategy",
      "--grace",
      "--deadline",
      "--restart-worker-if-blocked",
      "--trace",
      "--python",
      "--pythonpath",
      "--transport",
      "--json",
    ]) {
      expect(stdout).toMatch(new RegExp(`^  ${flag}\\b.*\\S+ \\S+`, "m"));
    }
    expect(stdout).toContain("Examples:\n  $ pyleash run pyleash.demo:spin --stop-after 500");
  });

  it("describes every option of call and shows an example for call --help", async () => {
    const { status, stdout } = await raw("call", "--help");
    expect(status).toBe(0);
    expect(stdout).toContain("Call a Python function once in a fresh agent");
    expect(stdout).toMatch(/^ {2}--args <json> +positional arguments for the function, as a JSON/m);
    expect(stdout).toMatch(/^ {2}--json +print exactly one JSON object on stdout/m);
    expect(stdout).toContain("Examples:\n  $ pyleash call math:floor --args '[2.7]' --json");
  });

  it("exits 2 and suggests the nearest option on stderr for an unknown option", async () => {
    const { status, stdout, stderr } = await raw("run", "pyleash.demo:spin", "--stop-afterr", "100");
    expect(status).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toContain("error: unknown option '--stop-afterr'");
    expect(stderr).toContain("(Did you mean --stop-after?)");
  });

  it("exits 2 and suggests the nearest command for an unknown command", async () => {
    const { status, stderr } = await raw("cal", "math:floor");
    expect(status).toBe(2);
    expect(stderr).toContain("(Did you mean call?)");
  });

  it("prints help on stderr and exits 2 when no command is given", async () => {
    const { status, stderr } = await raw();
    expect(status).toBe(2);
    expect(stderr).toContain("Usage: pyleash [options] [command]");
  });

  it("keeps stdout to exactly one JSON object for a usage error under --json, and exits 2", async () => {
    const missing = await pyleash("call");
    expect(missing.status).toBe(2);
    expect(missing.json).toMatchObject({
      ok: false,
      error: { type: "UsageError", code: "USAGE_ERROR", reason: "commander.missingArgument" },
    });
    const unknown = await raw("call", "math:floor", "--jsno", "--json");
    expect(unknown.status).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { message: expect.stringContaining("Did you mean --json?") } });
    expect(unknown.stderr).toContain("(Did you mean --json?)");
  });

  it("rejects --args that is not a JSON array as a usage error", async () => {
    const { status, json } = await pyleash("call", "math:floor", "--args", "{}");
    expect(status).toBe(2);
    expect(json.error.message).toContain("--args must be a JSON array");
  });

  it("prints exactly one JSON object, and nothing else, on stdout for call --json", async () => {
    const { status, stdout } = await raw("call", "math:floor", "--args", "[2.7]", "--json");
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, result: 2 });
    expect(stdout.trim().startsWith("{") && stdout.trim().endsWith("}")).toBe(true);
  });

  it("does not load the experiments code to run call, run or doctor", async () => {
    const reached = [...(await staticImports(CLI))].map((file) => file.slice(dirname(dirname(CLI)).length + 1));
    expect(reached).toContain("cli/run.js");
    expect(reached.filter((file) => file.startsWith("experiments/") || file === "cli/experiments.js")).toEqual([]);
  });

  it("prints a bash completion script that lists every command and option", async () => {
    const { status, stdout } = await raw("completion", "bash");
    expect(status).toBe(0);
    expect(stdout).toContain("complete -o default -F _pyleash pyleash");
    expect(stdout).toContain("--stop-after");
    await exec("bash", ["-n", "-c", stdout]);
  });
});
