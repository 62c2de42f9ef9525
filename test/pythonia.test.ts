/**
 * pyleash/pythonia on real pythonia and real Python: a leash attached inside pythonia's own process stops its hung
 * calls, and the bridge works on. pythonia is one process per test file (a CommonJS singleton): each test starts it
 * with its first `python()` call and ends it with `python.exit()`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { findAllPythons } from "../ts/python/discover.js";
import { CallTimeoutError, type Leash, leash } from "../ts/pythonia/index.js";

const root = new URL("..", import.meta.url).pathname;
const WORK = join(root, "test/fixtures/pythonia_work.py");
const require = createRequire(import.meta.url);
const PYTHONIA = require.resolve("pythonia");
const run = promisify(execFile);

// pythonia gives up on a call after REQ_TIMEOUT (read when it loads); a test's hung call must not outlive it by much.
process.env.REQ_TIMEOUT = "30000";
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Py = any;
let python: Py;
let com: { proc: unknown };
let open: Leash | undefined;

beforeAll(async () => {
  ({ python, com } = (await import("pythonia")) as unknown as { python: Py; com: { proc: unknown } });
});

afterEach(async () => {
  await open?.close();
  open = undefined;
  exitPython();
  delete process.env.PYTHON_BIN;
});

/** End pythonia's Python process, if it runs (pythonia's own exit() throws when it does not). */
function exitPython(): void {
  if (com.proc) python.exit();
}

async function attach(): Promise<Leash> {
  open = await leash(python);
  return open;
}

/** A pythonia call that the test stops: its rejection is expected, and looked at through `settled`. */
function hung(call: Promise<unknown>): Promise<{ value?: unknown; error?: Error }> {
  return call.then(
    (value) => ({ value }),
    (error: Error) => ({ error }),
  );
}

/** Wait until pythonia's main thread is inside a call (pythonia's dispatch is on its stack) and its innermost frame satisfies `inside`. */
async function runningIn(l: Leash, inside: (code: string, fn: string) => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const frames = (await l.stack()).frames;
    const top = frames.at(-1);
    if (top && frames.some((f) => f.function === "onMessage") && inside(top.code ?? "", top.function)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("the call never started");
}

/** Wait until pythonia's main thread runs `fn` (anywhere on its stack: a lock or queue wait sits deeper, in threading.py). */
async function inFunction(l: Leash, fn: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await l.stack()).frames.some((f) => f.function === fn)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${fn} never started`);
}

/** pythonia calls a builtin from Bridge.call's `v = v(*args, **kwargs)`: no Python frame of its own. */
const inBuiltin = (code: string): boolean => code.includes("v(*args, **kwargs)");

// First in the file, on the pythonia process started by its import: pythonia numbers the JavaScript functions it
// hands to Python and the Python objects it hands to JavaScript alike, and numbers again from 1 in each new process,
// so a proxy from an earlier process, when garbage-collected, can delete a later process's function of that number.
describe("a call waiting for JavaScript", () => {
  it("is reported blocked, not stopped, and finishes normally once JavaScript answers", async () => {
    const work = await python(WORK);
    const l = await attach();
    let answer!: (value: number) => void;
    const call = hung(work.call_back(() => new Promise<number>((resolve) => (answer = resolve))));
    // pythonia has called the JavaScript function, and Python waits for its answer in Executor.ipc
    for (let i = 0; i < 500 && !(answer !== undefined && (await l.stack()).frames.some((f) => f.function === "ipc")); i++)
      await new Promise((r) => setTimeout(r, 10));
    const report = await l.stopCurrent({ deadlineMs: 500 });
    expect(report.outcome).toBe("blocked");
    expect(report.reason).toMatch(/waiting for JavaScript/);
    answer(5);
    expect((await call).value).toBe(5);
    expect(await (await python("math")).floor(2.7)).toBe(2);
  });
});

describe("stopCurrent", () => {
  it("stops a pythonia call stuck in time.sleep(1000) by signal; the promise rejects with CallStopped and the next call answers", async () => {
    const time = await python("time");
    const math = await python("math");
    const l = await attach();
    const call = hung(time.sleep(1000));
    await runningIn(l, inBuiltin);
    const report = await l.stopCurrent();
    expect(report.outcome).toBe("stopped");
    expect(report.steps.map((s) => s.strategy)).toEqual(["signal"]);
    expect(report.finallyRan).toBe(true);
    expect(String((await call).error?.stack)).toContain("pyleash.attach.CallStopped");
    expect(await math.floor(2.7)).toBe(2);
  });

  it.each([
    ["a pure-Python CPU loop", "spin"],
    ["a threading.Lock wait", "lock_wait"],
    ["a queue.Queue().get()", "queue_wait"],
  ])("stops %s on pythonia's main thread, and the next call answers", async (_, fn) => {
    const work = await python(WORK);
    const math = await python("math");
    const l = await attach();
    const call = hung(work[fn]());
    await inFunction(l, fn);
    const report = await l.stopCurrent();
    expect(report.outcome).toBe("stopped");
    expect(String((await call).error?.stack)).toContain("CallStopped");
    expect(await math.floor(2.7)).toBe(2);
  });

  it("delivers again after the call catches CallStopped with `except Exception`, and counts it swallowed", async () => {
    const work = await python(WORK);
    const l = await attach();
    const call = hung(work.swallow_then_sleep());
    await runningIn(l, (code) => code.includes("time.sleep(1000)"));
    const report = await l.stopCurrent();
    expect(report.outcome).toBe("stopped");
    expect(report.swallowed).toBe(1);
    expect(String((await call).error?.stack)).toContain("CallStopped");
  });

  it("keeps pythonia alive and its report true when stops race calls that end on their own (returning or raising)", async () => {
    const work = await python(WORK);
    const time = await python("time");
    const math = await python("math");
    const l = await attach();
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const seconds = Math.random() * 0.01;
      const call = hung(i % 2 ? work.fail_after(seconds) : time.sleep(seconds));
      await new Promise((r) => setTimeout(r, Math.random() * 12));
      const report = await l.stopCurrent({ deadlineMs: 2_000 });
      const { error } = await call;
      const ended = !error
        ? "returned"
        : String(error.stack).includes("CallStopped")
          ? "stopped"
          : String(error.stack).includes("failed on its own")
            ? "failed"
            : String(error.stack);
      seen.add(`${report.outcome}/${ended}`);
      expect(report.outcome === "stopped").toBe(ended === "stopped"); // a stop is claimed exactly when the call got it
      expect(await math.floor(2.7)).toBe(2);
    }
    expect(seen.size).toBeGreaterThan(1);
  }, 120_000);

  it("says finished-first when pythonia's main thread runs no call, and the next call is untouched", async () => {
    const math = await python("math");
    const l = await attach();
    // pythonia answers a call before its dispatch returns: wait until its main thread is back reading
    for (let i = 0; i < 100 && (await l.stack()).frames.some((f) => f.function === "onMessage"); i++)
      await new Promise((r) => setTimeout(r, 10));
    const report = await l.stopCurrent();
    expect(report.outcome).toBe("finished-first");
    expect(report.reason).toMatch(/not running a call|ended before a stop reached it/); // pythonia's GC batch may run
    expect(await math.floor(2.7)).toBe(2);
  });

  it("refuses the in-thread strategies that could land in pythonia's own reply writing", async () => {
    await python("math");
    const l = await attach();
    const report = await l.stopCurrent({ strategy: "async-exc" });
    expect(report.outcome).toBe("unavailable");
    expect(report.reason).toMatch(/by signal only/);
    await expect(l.stopCurrent({ restartWorkerIfBlocked: true } as never)).rejects.toThrow(/python.exit/);
  });
});

describe("other threads", () => {
  it("lists a spinning thread that the user's Python code started, and stops it with stopThread", async () => {
    const work = await python(WORK);
    const l = await attach();
    const ident = (await work.start_spinner("user-spinner")) as number;
    const threads = await l.threads();
    const spinner = threads.find((t) => t.ident === ident);
    expect(spinner).toMatchObject({ name: "user-spinner", agent: false, alive: true });
    expect(threads.find((t) => t.name === "MainThread")).toMatchObject({ agent: false, task: "main" });
    expect(threads.find((t) => t.name === "pyleash-control")).toMatchObject({ agent: true });
    const report = await l.stopThread(ident);
    expect(report.outcome).toBe("stopped");
    expect(report.steps.map((s) => s.strategy)).toEqual(["async-exc"]);
    expect(await work.spinner_alive(ident)).toBe(false);
  });

  it("will not stop pythonia's main thread or pyleash's own threads as a thread", async () => {
    await python("math");
    const l = await attach();
    const control = (await l.threads()).find((t) => t.name === "pyleash-control")!;
    await expect(l.stopThread(control.ident)).rejects.toThrow(/pyleash's own/);
  });
});

describe("C code that holds the GIL", () => {
  it("shows the stack from faulthandler and reports the stop blocked, the agent unresponsive", async () => {
    const work = await python(WORK);
    const l = await attach();
    const call = hung(work.regex_freeze());
    let stack = await l.stack({ timeoutMs: 500 });
    for (let i = 0; i < 20 && !stack.frames.some((f) => f.function === "regex_freeze"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      stack = await l.stack({ timeoutMs: 500 });
    }
    expect(stack.source).toBe("faulthandler");
    expect(stack.frames.map((f) => f.function)).toContain("regex_freeze");
    const report = await l.stopCurrent({ deadlineMs: 500 });
    expect(report.outcome).toBe("blocked");
    expect(report.agentResponsive).toBe(false);
    expect(report.stack?.map((f) => f.function)).toContain("regex_freeze");
    expect(report.reason).toMatch(/faulthandler/);
    void call; // ends with pythonia's process (python.exit() after the test)
  }, 60_000);
});

describe("withTimeout", () => {
  it("stops a call that outlives its bound for real, rejecting with CallTimeoutError and the report", async () => {
    const time = await python("time");
    const math = await python("math");
    const l = await attach();
    const error = await l.withTimeout(time.sleep(1000), 300).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as CallTimeoutError).code).toBe("CALL_TIMEOUT");
    expect((error as CallTimeoutError).stopReport?.outcome).toBe("stopped");
    expect(String(((error as CallTimeoutError).cause as Error).stack)).toContain("CallStopped");
    expect(await math.floor(2.7)).toBe(2);
  });

  it("resolves with the value of a call that answers in time", async () => {
    const math = await python("math");
    const l = await attach();
    expect(await l.withTimeout(math.floor(3.7), 5_000)).toBe(3);
  });
});

describe("attaching", () => {
  it("gives up after startTimeoutMs while pythonia's main thread is busy, and the late attach then refuses itself", async () => {
    const time = await python("time");
    const builtins = await python("builtins");
    const busy = time.sleep(2);
    await expect(leash(python, { startTimeoutMs: 300 })).rejects.toMatchObject({ name: "WorkerStartError" });
    await busy;
    expect(
      await builtins.eval("__import__('sys').modules.get('pyleash.attach') is None or not __import__('pyleash.attach').attach.attached()"),
    ).toBe(true);
    expect(await (await python("math")).floor(2.7)).toBe(2);
  });

  it("refuses something that is not pythonia's python function", async () => {
    await expect(leash(42 as never)).rejects.toMatchObject({ name: "InvalidArgumentError" });
  });
});

describe("close", () => {
  it("ends the agent's threads and gives SIGUSR2 back; pythonia works on", async () => {
    const builtins = await python("builtins");
    const before = await builtins.eval("str(__import__('signal').getsignal(__import__('signal').SIGUSR2))");
    const l = await attach();
    await l.close();
    const names = await (await builtins.eval("[t.name for t in __import__('threading').enumerate()]")).valueOf();
    expect(names).toEqual(["MainThread"]);
    expect(await builtins.eval("str(__import__('signal').getsignal(__import__('signal').SIGUSR2))")).toBe(before);
    expect(await builtins.eval("__import__('pyleash.attach').attach.attached()")).toBe(false);
    expect(await (await python("math")).floor(2.7)).toBe(2);
  });

  it("closes itself when pythonia's process ends", async () => {
    await python("math");
    const l = await attach();
    exitPython();
    for (let i = 0; i < 50 && !l.closed; i++) await new Promise((r) => setTimeout(r, 100));
    expect(l.closed).toBe(true);
    await expect(l.threads()).rejects.toThrow();
  });

  it("closes at once after python.exit(), without waiting for the next liveness tick", async () => {
    await python("math");
    const l = await attach();
    exitPython();
    const start = performance.now();
    await l.close();
    // The liveness tick is 1 s; the close follows the process's end (polled every 20 ms) instead.
    expect(performance.now() - start).toBeLessThan(800);
  });
});

describe("on every CPython found", async () => {
  const pythons = await findAllPythons();
  it.each(pythons.map((p) => [p.version, p.path]))("stops time.sleep(1000) on %s and the next call answers", async (_, path) => {
    process.env.PYTHON_BIN = path; // pythonia starts its next process with it
    exitPython();
    const time = await python("time");
    const l = await attach();
    expect(l.python).toBe(_);
    const call = hung(time.sleep(1000));
    await runningIn(l, inBuiltin);
    expect((await l.stopCurrent()).outcome).toBe("stopped");
    expect(String((await call).error?.stack)).toContain("CallStopped");
    expect(await (await python("math")).floor(2.7)).toBe(2);
  });
});

describe("package", () => {
  it("exports pyleash/pythonia with its types, and keeps pythonia an optional peer (a devDependency for the tests)", async () => {
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
    expect(pkg.exports["./pythonia"]).toEqual({ types: "./dist/pythonia/index.d.ts", import: "./dist/pythonia/index.js" });
    expect(pkg.peerDependenciesMeta.pythonia.optional).toBe(true);
    expect(pkg.peerDependencies.pythonia).toBe(pkg.devDependencies.pythonia);
    const code = `const m = await import("pyleash/pythonia"); if (typeof m.leash !== "function") process.exit(3);`;
    await run(process.execPath, ["--input-type=module", "-e", code], { cwd: root, timeout: 30_000 });
  });
});

describe("README", () => {
  it("runs the 'Already on pythonia?' example as written", async () => {
    const readme = await readFile(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Already on pythonia?"));
    const code = /```ts\n([\s\S]*?)```/
      .exec(section)![1]!
      .replace('from "pythonia"', `from ${JSON.stringify(PYTHONIA)}`)
      .replace('from "pyleash/pythonia"', `from ${JSON.stringify(join(root, "dist/pythonia/index.js"))}`);
    expect(code.trim().split("\n").length).toBeLessThanOrEqual(10);
    const dir = await mkdtemp(join(tmpdir(), "pyleash-readme-"));
    try {
      await writeFile(join(dir, "example.mjs"), code);
      const { stdout } = await run(process.execPath, [join(dir, "example.mjs")], { timeout: 60_000 });
      expect(stdout.trim().split("\n")).toEqual(["stopped [ 'signal' ]", "2"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
