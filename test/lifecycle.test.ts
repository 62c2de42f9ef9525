import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  AbortError,
  InvalidArgumentError,
  ProtocolError,
  PythonNotFoundError,
  PythonVersionError,
  Worker,
  WorkerClosedError,
  WorkerCrashedError,
} from "../ts/index.js";
import { findAllPythons } from "../ts/python/discover.js";
import { FIXTURES, startWorker } from "./support/cleanup.js";
import { isAlive } from "./support/orphans.js";

describe("starting a worker", () => {
  it("rejects a missing interpreter with a PythonNotFoundError naming what was tried", async () => {
    const error = await Worker.start({ python: "/no/such/python3" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PythonNotFoundError);
    expect((error as PythonNotFoundError).tried).toContain("/no/such/python3");
    await expect(Worker.start({ python: "9.99" })).rejects.toBeInstanceOf(PythonNotFoundError);
  });

  it("rejects an interpreter older than 3.8 with a PythonVersionError", async (ctx) => {
    const old = await oldPython();
    if (!old) return ctx.skip();
    await expect(Worker.start({ python: old })).rejects.toBeInstanceOf(PythonVersionError);
  });

  it("rejects bad options eagerly, naming the option and the value", async () => {
    await expect(Worker.start({ closeGraceMs: -5 })).rejects.toThrow(
      'Expected "closeGraceMs" to be a non-negative integer, got -5 (number)',
    );
    await expect(Worker.start({ transport: "carrier-pigeon" as "auto" })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("works over tcp on the loopback as well as ipc", async () => {
    const worker = await startWorker({ endpoint: "tcp" });
    expect(await worker.call("calls:add", [1, 2])).toBe(3);
  });
});

describe("a crashed agent", () => {
  for (const [what, target, args, expected] of [
    ["os._exit(3)", "calls:exit_hard", [3], { exitCode: 3, signal: null }],
    ["a SIGKILL", "calls:kill_self", ["SIGKILL"], { signal: "SIGKILL" }],
    ["a segfault", "calls:segfault", [], { signal: "SIGSEGV" }],
  ] as const) {
    it(`rejects every in-flight call with a WorkerCrashedError after ${what}, without waiting for a timeout`, async () => {
      const worker = await startWorker();
      const bystander = worker.call("calls:sleep", [30]);
      const started = Date.now();
      const error = await worker.call(target, [...args]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect(error).toMatchObject(expected);
      await expect(bystander).rejects.toBeInstanceOf(WorkerCrashedError);
      expect(Date.now() - started).toBeLessThan(10_000); // the bystander would take 30 s
      await expect(worker.call("calls:noop")).rejects.toBeInstanceOf(WorkerCrashedError);
    });
  }
});

describe("calls", () => {
  it("rejects an already-aborted signal at once and an aborted call with AbortError whose cause is the reason", async () => {
    const worker = await startWorker();
    const reason = new Error("user gave up");
    await expect(worker.call("calls:noop", [], {}, { signal: AbortSignal.abort(reason) })).rejects.toMatchObject({
      name: "AbortError",
      cause: reason,
    });
    const controller = new AbortController();
    const pending = worker.call("calls:sleep", [5], {}, { signal: controller.signal });
    controller.abort(reason);
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toBe(reason);
    expect(await worker.call("calls:add", [1, 1])).toBe(2);
  });

  it("times out with an AbortError whose cause is a TimeoutError", async () => {
    const worker = await startWorker();
    const error = await worker.call("calls:sleep", [5], {}, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toMatchObject({ name: "TimeoutError" });
  });

  it("rejects arguments that cannot cross, and a malformed target, before sending anything", async () => {
    const worker = await startWorker();
    await expect(worker.call("calls:echo", [new Map()])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(worker.call("not a target")).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("answers an unknown message type with a ProtocolError and keeps serving", async () => {
    const worker = await startWorker();
    await expect(worker.request({ type: "no-such-request" })).rejects.toBeInstanceOf(ProtocolError);
    await expect(worker.request({ type: "call", target: "calls:add", args: "not a list" })).rejects.toBeInstanceOf(ProtocolError);
    expect(await worker.ping()).toMatchObject({ pid: worker.pid });
  });
});

describe("closing", () => {
  it("closes gracefully, rejects later calls, and leaves no process behind", async () => {
    const worker = await startWorker();
    const pid = worker.pid;
    await worker.close();
    expect(await isAlive(pid)).toBe(false);
    await expect(worker.call("calls:noop")).rejects.toBeInstanceOf(WorkerClosedError);
    await worker.close(); // twice is fine
  });

  it("rejects calls still in flight when closed", async () => {
    const worker = await startWorker();
    const pending = expect(worker.call("calls:sleep", [30])).rejects.toBeInstanceOf(WorkerClosedError);
    await worker.close();
    await pending;
  });

  it("kills an agent frozen in C code that holds the GIL", async () => {
    const worker = await startWorker({ closeGraceMs: 300 });
    void worker.call("calls:hold_gil_forever").catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    await worker.close();
    expect(await isAlive(worker.pid)).toBe(false);
  });

  it("supports await using", async () => {
    let pid = 0;
    {
      await using worker = await Worker.start({ pythonPath: [FIXTURES] });
      pid = worker.pid;
      expect(await worker.call("calls:add", [2, 2])).toBe(4);
    }
    expect(await isAlive(pid)).toBe(false);
  });
});

describe("when the controller dies", () => {
  for (const frozen of [false, true]) {
    it(`the agent exits within seconds even under SIGKILL${frozen ? ", and even while C code holds its GIL" : ""}`, async () => {
      // A separate controller process built from dist/ (npm test builds first), so it can be SIGKILLed.
      const script = `
        import { Worker } from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).pathname)};
        const w = await Worker.start({ pythonPath: [${JSON.stringify(FIXTURES)}] });
        ${frozen ? 'w.call("calls:hold_gil_forever").catch(() => {}); await new Promise(r => setTimeout(r, 300));' : ""}
        console.log(w.pid);
        setInterval(() => {}, 1000);
      `;
      const controller = spawn(process.execPath, ["--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const pid = await new Promise<number>((resolve, reject) => {
        controller.stdout.on("data", (d: Buffer) => resolve(Number(d.toString().trim())));
        controller.once("exit", (code) => reject(new Error(`controller exited early (${code})`)));
      });
      expect(await isAlive(pid)).toBe(true);
      controller.kill("SIGKILL");
      const deadline = Date.now() + 5_000;
      while ((await isAlive(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await isAlive(pid)).toBe(false);
    });
  }
});

describe("after a controller was SIGKILLed", () => {
  it("the next controller removes the private ipc directory the dead one left behind", async () => {
    const dist = JSON.stringify(new URL("../dist/index.js", import.meta.url).pathname);
    const first = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `
      import { Worker } from ${dist};
      const w = await Worker.start();
      console.log(JSON.stringify({ pid: w.pid, endpoint: w.endpoint }));
      setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const { pid, endpoint } = await new Promise<{ pid: number; endpoint: string }>((resolve, reject) => {
      first.stdout.on("data", (d: Buffer) => resolve(JSON.parse(d.toString())));
      first.once("exit", (code) => reject(new Error(`controller exited early (${code})`)));
    });
    const dir = dirname(endpoint.replace(/^ipc:\/\//, ""));
    first.kill("SIGKILL");
    const deadline = Date.now() + 5_000;
    while ((await isAlive(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(dir)).toBe(true); // nobody could clean up: SIGKILL, and the agent died by PR_SET_PDEATHSIG
    const second = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `
      import { Worker } from ${dist};
      const w = await Worker.start();
      await w.close();`,
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    expect(await new Promise((resolve) => second.once("exit", resolve))).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});

async function oldPython(): Promise<string | undefined> {
  const supported = new Set((await findAllPythons()).map((p) => p.version));
  for (const version of ["3.7", "3.6", "2.7"]) {
    try {
      const { locatePython } = await import("../ts/python/discover.js");
      const path = await locatePython(version);
      if (![...supported].some((v) => v.startsWith(version))) return path;
    } catch {}
  }
  return undefined;
}
