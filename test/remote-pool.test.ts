/** Remote agents, controller side: Pool.listen over CURVE on loopback, with real `python -m pyleash serve` agents. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { curveKeyPair } from "zeromq";
import { CONTRACT } from "../ts/contract.js";
import { InvalidArgumentError, Pool, type PoolWorkerInfo, WorkerLostError, WorkerStartError } from "../ts/index.js";
import { FIXTURES } from "./support/cleanup.js";

const ROOT = join(import.meta.dirname, "..");
const PYZMQ: string[] = JSON.parse(process.env.PYLEASH_TEST_PYZMQ ?? "[]");
const VENV_PYTHON = PYZMQ.find((p) => p.includes("venv-pyzmq-3.11")) ?? PYZMQ[0] ?? "";
const HAS_PYZMQ = VENV_PYTHON !== "" && existsSync(VENV_PYTHON);
if (!HAS_PYZMQ) console.log("[remote-pool] no pyzmq venv (PYLEASH_TEST_PYZMQ is empty): the CURVE tests are skipped");

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

interface Agent {
  child: ChildProcess;
  exit: Promise<number | null>;
  stderr: () => string;
}

/** `python -m pyleash serve` joining `endpoint` with its own key pair (secret key in a 0600 file). */
async function agent(endpoint: string, serverKey: string, secretKey: string, extra: string[] = []): Promise<Agent> {
  const dir = await mkdtemp(join(tmpdir(), "pyleash-keys-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const keyFile = join(dir, "agent.key");
  await writeFile(keyFile, `${secretKey}\n`, { mode: 0o600 });
  const child = spawn(
    VENV_PYTHON,
    ["-m", "pyleash", "serve", "--connect", endpoint, "--server-key", serverKey, "--key-file", keyFile, ...extra],
    {
      env: { ...process.env, PYTHONPATH: [join(ROOT, "py"), FIXTURES].join(":") },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exit;
  });
  return { child, exit, stderr: () => err };
}

async function listen(
  allow: string[],
  more: { heartbeatMs?: number; lostAfterMs?: number } = {},
): Promise<{ pool: Pool; publicKey: string }> {
  const server = curveKeyPair();
  const pool = await Pool.listen({ bind: "tcp://127.0.0.1:0", curve: server, allow, ...more });
  cleanups.push(() => pool.close());
  return { pool, publicKey: server.publicKey };
}

function within<T>(promise: Promise<T>, ms: number): Promise<T | "timed out"> {
  return Promise.race([promise, new Promise<"timed out">((r) => setTimeout(() => r("timed out"), ms))]);
}

describe("Pool.listen options", () => {
  it("refuses a bad bind, key or timeout with an InvalidArgumentError", async () => {
    const curve = curveKeyPair();
    await expect(Pool.listen({ bind: "ipc:///tmp/x", curve })).rejects.toThrow(InvalidArgumentError);
    await expect(Pool.listen({ bind: "tcp://127.0.0.1:0", curve: { publicKey: "short", secretKey: curve.secretKey } })).rejects.toThrow(
      /z85/,
    );
    await expect(Pool.listen({ bind: "tcp://127.0.0.1:0", curve, allow: ["nope"] })).rejects.toThrow(/allow/);
    await expect(Pool.listen({ bind: "tcp://127.0.0.1:0", curve, heartbeatMs: 1000, lostAfterMs: 500 })).rejects.toThrow(/lostAfterMs/);
  });

  it("reports its real port, and waitForWorkers rejects typed when nobody joins", async () => {
    const { pool } = await listen([]);
    expect(pool.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(pool.endpoint).not.toMatch(/:0$/);
    await expect(pool.waitForWorkers(1, { timeoutMs: 200 })).rejects.toThrow(WorkerStartError);
  });
});

describe.skipIf(!HAS_PYZMQ)("Pool.listen with remote agents over CURVE (needs the pyzmq venv)", () => {
  it("an allowed agent joins as a remote worker and answers calls", async () => {
    const keys = curveKeyPair();
    const { pool, publicKey } = await listen([keys.publicKey]);
    const joined: PoolWorkerInfo[] = [];
    pool.on("join", (info) => joined.push(info));
    await agent(pool.endpoint!, publicKey, keys.secretKey);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    expect(joined).toHaveLength(1);
    expect(pool.workers[0]).toMatchObject({ remote: true, transport: "pyzmq", state: "ready" });
    expect(typeof pool.workers[0]!.host).toBe("string");
    expect(await pool.call("math:factorial", [10])).toBe(3628800);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.call<number>("operator:add", [i, 1])));
    expect(many).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("an agent whose key is not allowed is refused before any message: it never joins", async () => {
    const { pool, publicKey } = await listen([curveKeyPair().publicKey]);
    const stranger = await agent(pool.endpoint!, publicKey, curveKeyPair().secretKey, ["--no-supervise"]);
    await expect(pool.waitForWorkers(1, { timeoutMs: 3_000 })).rejects.toThrow(WorkerStartError);
    expect(pool.workers).toHaveLength(0);
    expect(await within(stranger.exit, 30_000)).toBe(CONTRACT.exitCodes.cannotConnect);
  });

  it("a controller that goes away makes the agent exit, bounded", async () => {
    const keys = curveKeyPair();
    const { pool, publicKey } = await listen([keys.publicKey]);
    const remote = await agent(pool.endpoint!, publicKey, keys.secretKey, ["--heartbeat-ms", "200"]);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    await pool.close();
    expect(await within(remote.exit, 20_000)).not.toBe("timed out");
  });

  it("an agent that goes silent is lost: its in-flight calls reject with WorkerLostError and it leaves the pool", async () => {
    const keys = curveKeyPair();
    const { pool, publicKey } = await listen([keys.publicKey], { heartbeatMs: 200, lostAfterMs: 1_500 });
    const remote = await agent(pool.endpoint!, publicKey, keys.secretKey, ["--no-supervise"]);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    const lost = new Promise((resolve) => pool.once("lost", resolve));
    const task = await pool.start("time:sleep", { args: [30] });
    task.result.catch(() => {});
    const calls = Array.from({ length: 5 }, () => pool.call("time:sleep", [30]));
    remote.child.kill("SIGSTOP"); // frozen: no reply, no pong
    cleanups.push(() => remote.child.kill("SIGCONT"));
    const outcomes = await Promise.allSettled(calls);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe("rejected");
      const error = (outcome as PromiseRejectedResult).reason as WorkerLostError;
      expect(error).toBeInstanceOf(WorkerLostError);
      expect(error.code).toBe("WORKER_LOST");
      expect(error.pid).toBe(remote.child.pid);
    }
    await lost;
    expect(pool.workers.filter((w) => w.state === "ready")).toHaveLength(0);
    await expect(task.result).rejects.toThrow(WorkerLostError);
    const report = await within(task.stop(), 5_000);
    expect(report).toMatchObject({ outcome: "unreachable", agentResponsive: false });
  });
});
