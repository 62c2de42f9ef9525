/** serve's supervisor recycles its agent on the controller's word, and restarts it after a crash (loopback CURVE). */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { curveKeyPair } from "zeromq";
import { InvalidArgumentError, Pool, type PoolWorkerInfo, WorkerCrashedError, WorkerLostError, WorkerRestartedError } from "../ts/index.js";

const ROOT = join(import.meta.dirname, "..");
const PYZMQ: string[] = JSON.parse(process.env.PYLEASH_TEST_PYZMQ ?? "[]");
const VENV_PYTHON = PYZMQ.find((p) => p.includes("venv-pyzmq-3.11")) ?? PYZMQ[0] ?? "";
const HAS_PYZMQ = VENV_PYTHON !== "" && existsSync(VENV_PYTHON);
if (!HAS_PYZMQ) console.log("[remote-supervisor] no pyzmq venv (PYLEASH_TEST_PYZMQ is empty): skipped");

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** A listening pool, and `python -m pyleash serve` joining it (under its supervisor unless `--no-supervise`). */
async function setUp(extra: string[] = [], more: { heartbeatMs?: number; lostAfterMs?: number; maxCallsPerWorker?: number } = {}) {
  const server = curveKeyPair();
  const keys = curveKeyPair();
  const pool = await Pool.listen({
    bind: "tcp://127.0.0.1:0",
    curve: server,
    allow: [keys.publicKey],
    heartbeatMs: 300,
    lostAfterMs: 20_000,
    ...more,
  });
  cleanups.push(() => pool.close());
  const joins: PoolWorkerInfo[] = [];
  pool.on("join", (info) => joins.push(info));
  const dir = await mkdtemp(join(tmpdir(), "pyleash-keys-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const keyFile = join(dir, "agent.key");
  await writeFile(keyFile, `${keys.secretKey}\n`, { mode: 0o600 });
  const child: ChildProcess = spawn(
    VENV_PYTHON,
    ["-m", "pyleash", "serve", "--connect", pool.endpoint!, "--server-key", server.publicKey, "--key-file", keyFile, ...extra],
    {
      env: { ...process.env, PYTHONPATH: join(ROOT, "py") },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const exit = new Promise((resolve) => child.once("exit", resolve));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL"); // its agent dies with it (parent-death signal)
    await exit;
  });
  await pool.waitForWorkers(1, { timeoutMs: 30_000 });
  return { pool, joins, supervisor: child };
}

/** Resolves once a second agent has joined (the first one's replacement). */
async function nextJoin(joins: PoolWorkerInfo[], pool: Pool): Promise<PoolWorkerInfo> {
  if (joins.length > 1) return joins[1]!;
  return new Promise((resolve) => pool.once("join", resolve));
}

/** Resolves once a thread of `pid` stays runnable (state R) over 5 samples: the freeze has begun (its "started" may never leave). */
async function busy(pid: number, timeoutMs = 30_000): Promise<void> {
  const running = async (): Promise<boolean> => {
    const threads = await readdir(`/proc/${pid}/task`);
    const states = await Promise.all(
      threads.map((t) =>
        readFile(`/proc/${pid}/task/${t}/stat`, "utf8").then(
          (text) => text.split(") ")[1]![0],
          () => "",
        ),
      ),
    );
    return states.includes("R");
  };
  let seen = 0;
  for (const end = Date.now() + timeoutMs; Date.now() < end && seen < 5; await new Promise((r) => setTimeout(r, 50))) {
    seen = (await running()) ? seen + 1 : 0;
  }
  if (seen < 5) throw new Error(`agent ${pid} never got busy`);
}

async function gone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
  }
  return false;
}

describe.skipIf(!HAS_PYZMQ)("serve's supervisor (needs the pyzmq venv)", () => {
  it("recycles an agent frozen by C code holding the GIL when the stop ladder's last step asks; a fresh agent joins", async () => {
    const { pool, joins } = await setUp();
    const old = pool.workers[0]!.pid!;
    const task = await pool.start("pyleash.demo:freeze_gil"); // its "started" may never leave: the regex holds the GIL
    task.result.catch(() => {});
    await busy(old);
    const call = pool.call("time:sleep", [30]);
    const report = await task.stop({ deadlineMs: 1_000, restartWorkerIfBlocked: true });
    expect(report.outcome).toBe("worker-restarted");
    expect(report.steps.at(-1)!.strategy).toBe("restart-worker");
    await expect(call).rejects.toBeInstanceOf(WorkerRestartedError);
    await expect(task.result).rejects.toBeInstanceOf(WorkerRestartedError);
    expect(await gone(old)).toBe(true);
    const fresh = await nextJoin(joins, pool);
    expect(fresh.pid).not.toBe(old);
    expect(await pool.call("math:factorial", [5])).toBe(120);
    expect(pool.workers.filter((w) => w.state === "ready").map((w) => w.pid)).toEqual([fresh.pid]);
  });

  it("pool.recycle(pid) replaces a remote agent frozen by sum(range(10**12)): its call rejects, a fresh agent joins", async () => {
    const { pool, joins } = await setUp();
    const old = pool.workers[0]!.pid!;
    const frozen = pool.call("builtins:eval", ["sum(range(10**12))"]); // C code that keeps the GIL for hours
    await expect(pool.recycle(old)).resolves.toBeUndefined();
    await expect(frozen).rejects.toBeInstanceOf(WorkerRestartedError);
    expect(await gone(old)).toBe(true);
    const fresh = await nextJoin(joins, pool);
    expect(fresh.pid).not.toBe(old);
    expect(await pool.call("math:factorial", [6])).toBe(720);
    await expect(pool.recycle(old)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("restarts a crashed agent: its in-flight call rejects with WorkerCrashedError and the new one joins", async () => {
    const { pool, joins } = await setUp();
    const old = pool.workers[0]!.pid!;
    const crashed = new Promise<{ pid: number; error: WorkerCrashedError }>((resolve) => pool.once("crash", resolve));
    const call = pool.call("time:sleep", [30]);
    process.kill(old, "SIGKILL");
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect((error as WorkerCrashedError).signal).toBe("SIGKILL");
    expect((await crashed).pid).toBe(old);
    const fresh = await nextJoin(joins, pool);
    expect(fresh.pid).not.toBe(old);
    expect(await pool.call("math:factorial", [4])).toBe(24);
  });

  it("replaces an agent lost while frozen: its work rejects with WorkerLostError and its supervisor starts a fresh one", async () => {
    const { pool, joins } = await setUp([], { heartbeatMs: 200, lostAfterMs: 1_500 });
    const old = pool.workers[0]!.pid!;
    const frozen = pool.call("pyleash.demo:freeze_gil");
    await expect(frozen).rejects.toBeInstanceOf(WorkerLostError);
    // Its supervisor kills it on the controller's order, sent once the supervisor has spoken since the agent fell
    // silent (at most a heartbeat after the loss). The bound is a hang guard: under load it took well under a second.
    expect(await gone(old)).toBe(true);
    const fresh = await nextJoin(joins, pool);
    expect(fresh.pid).not.toBe(old);
    expect(await pool.call("math:factorial", [3])).toBe(6);
  });

  it("replaces an agent lost while frozen when its supervisor last spoke before the agent fell silent", async () => {
    // The supervisor speaks once per 1.4 s, lostAfterMs is 1.5 s: at the loss it has often not spoken since the agent
    // went quiet, and the recycle order waits for its next word (it was dropped once, leaving the agent frozen for good).
    const { pool, joins } = await setUp(["--heartbeat-ms", "1400"], { heartbeatMs: 200, lostAfterMs: 1_500 });
    const old = pool.workers[0]!.pid!;
    await expect(pool.call("pyleash.demo:freeze_gil")).rejects.toBeInstanceOf(WorkerLostError);
    expect(await gone(old)).toBe(true); // a hang guard: the wait is at most one supervisor heartbeat
    const fresh = await nextJoin(joins, pool);
    expect(fresh.pid).not.toBe(old);
    expect(await pool.call("math:factorial", [3])).toBe(6);
  });

  it("retires a supervised remote agent after maxCallsPerWorker by recycling it: its replacement joins", async () => {
    const { pool, joins } = await setUp([], { maxCallsPerWorker: 2 });
    const old = pool.workers[0]!.pid!;
    expect(await Promise.all([pool.call("math:factorial", [3]), pool.call("math:factorial", [4])])).toEqual([6, 24]);
    const fresh = await nextJoin(joins, pool);
    expect(fresh.pid).not.toBe(old);
    expect(await gone(old)).toBe(true);
    expect(await pool.call("math:factorial", [5])).toBe(120);
  });

  it("without a supervisor, pool.recycle refuses with an InvalidArgumentError and the agent keeps serving", async () => {
    const { pool } = await setUp(["--no-supervise"]);
    const pid = pool.workers[0]!.pid!;
    await expect(pool.recycle(pid)).rejects.toThrow(/no live supervisor/);
    await expect(pool.recycle(pid)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await pool.call("math:factorial", [5])).toBe(120);
  });

  it("without a supervisor, the stop ladder's restart step cannot replace a frozen agent: the report stays blocked", async () => {
    const { pool } = await setUp(["--no-supervise"]);
    const task = await pool.start("pyleash.demo:freeze_gil");
    task.result.catch(() => {});
    await busy(pool.workers[0]!.pid!);
    const report = await task.stop({ deadlineMs: 1_000, restartWorkerIfBlocked: true });
    expect(report.outcome).toBe("blocked");
    expect(report.steps.map((s) => s.strategy)).not.toContain("restart-worker");
  });
});
