/**
 * Two hosts on one machine: a remote agent in a network namespace of its own (test/support/netns.ts) joins a
 * Pool.listen outside it over a veth pair. Traffic goes only between the pair's two addresses. Needs root,
 * `ip netns` and the pyzmq venv; skipped with the reason otherwise.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Router, curveKeyPair } from "zeromq";
import { CONTRACT } from "../ts/contract.js";
import { Pool, WorkerLostError } from "../ts/index.js";
import { FIXTURES } from "./support/cleanup.js";
import { type NetnsHost, makeNetns, netnsUnsupported, removeStale } from "./support/netns.mjs";
import { reached } from "./support/tasks.js";

const ROOT = join(import.meta.dirname, "..");
const CAPTURE = join(import.meta.dirname, "support", "capture.py");
const PYZMQ: string[] = JSON.parse(process.env.PYLEASH_TEST_PYZMQ ?? "[]");
const VENV_PYTHON = PYZMQ.find((p) => p.includes("venv-pyzmq-3.11")) ?? PYZMQ[0] ?? "";
const SKIP =
  (await netnsUnsupported()) ?? (VENV_PYTHON !== "" && existsSync(VENV_PYTHON) ? undefined : "no pyzmq venv (PYLEASH_TEST_PYZMQ is empty)");
if (SKIP) console.log(`[remote-netns] skipped: ${SKIP}`);

const HEARTBEAT_MS = 200;
const LOST_AFTER_MS = 1_500;

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function within<T>(promise: Promise<T>, ms: number): Promise<T | "timed out"> {
  return Promise.race([promise, new Promise<"timed out">((r) => setTimeout(() => r("timed out"), ms))]);
}

interface Spawned {
  child: ChildProcess;
  exit: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
}

/** Run argv, killed (and awaited) after the test. */
function start(argv: string[]): Spawned {
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, PYTHONPATH: [join(ROOT, "py"), FIXTURES].join(":") },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exit;
  });
  return { child, exit, stdout: () => out, stderr: () => err };
}

async function secretKeyFile(secretKey: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pyleash-keys-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "agent.key");
  await writeFile(path, `${secretKey}\n`, { mode: 0o600 });
  return path;
}

describe.skipIf(SKIP !== undefined)("a remote agent on a second host (a network namespace and a veth pair)", () => {
  let host: NetnsHost;

  beforeAll(async () => {
    await removeStale();
    host = await makeNetns();
  });
  afterAll(async () => {
    await host?.remove();
  });

  /** `python -m pyleash serve` inside the namespace, connecting to `endpoint` on our side of the pair. */
  function nsServe(endpoint: string, args: string[]): Spawned {
    return start(host.exec([VENV_PYTHON, "-m", "pyleash", "serve", "--connect", endpoint, ...args]));
  }

  async function curveAgent(pool: Pool, serverKey: string, secretKey: string, extra: string[] = []): Promise<Spawned> {
    const keyFile = await secretKeyFile(secretKey);
    return nsServe(pool.endpoint!, ["--server-key", serverKey, "--key-file", keyFile, ...extra]);
  }

  async function listen(
    allow: string[],
    more: { heartbeatMs?: number; lostAfterMs?: number } = {},
  ): Promise<{ pool: Pool; publicKey: string }> {
    const server = curveKeyPair();
    const pool = await Pool.listen({ bind: `tcp://${host.hostAddr}:0`, curve: server, allow, ...more });
    cleanups.push(() => pool.close());
    return { pool, publicKey: server.publicKey };
  }

  /** Capture every frame on the namespace's end of the pair until the returned function is called. */
  async function capture(): Promise<() => Promise<Buffer>> {
    const dir = await mkdtemp(join(tmpdir(), "pyleash-capture-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const out = join(dir, "frames.bin");
    const sniffer = start(host.exec([VENV_PYTHON, CAPTURE, host.nsIf, out, "60"]));
    const deadline = Date.now() + 20_000;
    while (!sniffer.stdout().includes("ready")) {
      if (Date.now() > deadline || sniffer.child.exitCode !== null) throw new Error(`capture did not start: ${sniffer.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return async () => {
      sniffer.child.stdin!.end(); // the capture ends when its stdin closes
      expect(await within(sniffer.exit, 10_000)).toBe(0);
      return readFile(out);
    };
  }

  it("the pair carries traffic only between its two addresses, chosen in 10.213.0.0/16", () => {
    expect(host.hostAddr).toMatch(/^10\.213\.\d+\.\d+$/);
    expect(host.nsAddr).toMatch(/^10\.213\.\d+\.\d+$/);
    expect(host.nsAddr).not.toBe(host.hostAddr);
  });

  it("an agent in the namespace joins over CURVE from its own address; calls, a task and its stop work across", async () => {
    const keys = curveKeyPair();
    const { pool, publicKey } = await listen([keys.publicKey]);
    await curveAgent(pool, publicKey, keys.secretKey);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    expect(pool.workers[0]).toMatchObject({ remote: true, transport: "pyzmq", state: "ready" });
    // The agent's connection runs from the namespace's address to ours: it really crossed the pair.
    const { stdout } = await promisify(execFile)("ip", host.exec(["ss", "-Htn", "state", "established"]).slice(1));
    expect(stdout).toContain(`${host.nsAddr}:`);
    expect(stdout).toContain(pool.endpoint!.replace("tcp://", ""));

    expect(await pool.call("math:factorial", [10])).toBe(3628800);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.call<number>("operator:add", [i, 1])));
    expect(many).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const task = await pool.start("blocking:busy_loop");
    await reached(task, "busy_loop");
    const report = await task.stop({ strategy: "async-exc" });
    expect(report).toMatchObject({ outcome: "stopped", agentResponsive: true });
  }, 90_000);

  it("refuses a peer with a wrong key and peers with no key (NULL, --insecure): none of them is given a request", async () => {
    const keys = curveKeyPair();
    const { pool, publicKey } = await listen([keys.publicKey]);
    // A call waits for the first worker that joins: it must not be any of the refused peers.
    const queued = pool.call<number>("calls:pid");
    const wrong = await curveAgent(pool, publicKey, curveKeyPair().secretKey, ["--no-supervise"]);
    const plain = nsServe(pool.endpoint!, ["--insecure", "--transport", "builtin", "--no-supervise"]);
    const plainZmq = nsServe(pool.endpoint!, ["--insecure", "--transport", "pyzmq", "--no-supervise"]);
    expect(await within(wrong.exit, 30_000)).toBe(CONTRACT.exitCodes.cannotConnect);
    for (const peer of [plain, plainZmq]) {
      const code = await within(peer.exit, 30_000);
      expect([CONTRACT.exitCodes.cannotConnect, CONTRACT.exitCodes.controllerLost]).toContain(code);
    }
    expect(pool.workers).toHaveLength(0);
    expect(await within(queued, 100)).toBe("timed out");

    await curveAgent(pool, publicKey, keys.secretKey);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    expect(await within(queued, 30_000)).toBe(pool.workers[0]!.pid);
  }, 120_000);

  it("encrypts on the wire: a call's marker never shows in a capture of the pair under CURVE, and does over NULL", async () => {
    const marker = `pyleash-marker-${randomUUID()}`;

    const stopCurve = await capture();
    const keys = curveKeyPair();
    const { pool, publicKey } = await listen([keys.publicKey]);
    const agent = await curveAgent(pool, publicKey, keys.secretKey, ["--no-supervise"]);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    expect(await pool.call("operator:concat", [marker, "-back"])).toBe(`${marker}-back`);
    await pool.close();
    await within(agent.exit, 20_000);
    const curveWire = await stopCurve();
    expect(curveWire.includes("CURVE")).toBe(true); // the capture saw this connection's ZMTP greeting
    expect(curveWire.includes(marker)).toBe(false);

    // The control: the same call over the NULL mechanism (--insecure) shows the marker, so the capture works.
    const stopNull = await capture();
    const router = new Router({ linger: 0 });
    await router.bind(`tcp://${host.hostAddr}:0`);
    cleanups.push(() => router.close());
    nsServe(router.lastEndpoint!, ["--insecure", "--transport", "builtin", "--no-supervise"]);
    const [id, hello] = (await within(router.receive(), 30_000)) as Buffer[];
    expect(JSON.parse(hello!.toString())).toMatchObject({ type: "hello", remote: true });
    await router.send([id!, JSON.stringify({ id: 1, type: "call", target: "operator:concat", args: [marker, "-back"] })]);
    const [, reply] = (await within(router.receive(), 30_000)) as Buffer[];
    expect(reply!.toString()).toContain(`${marker}-back`);
    router.close();
    const nullWire = await stopNull();
    expect(nullWire.includes("NULL")).toBe(true);
    expect(nullWire.includes(marker)).toBe(true);
  }, 120_000);

  it("a cut link fails 50 calls and a task in flight with WorkerLostError (its stop: unreachable), the agent exits by its own timeout, and a new agent serves once the link is back", async () => {
    const keys = curveKeyPair();
    const { pool, publicKey } = await listen([keys.publicKey], { heartbeatMs: HEARTBEAT_MS, lostAfterMs: LOST_AFTER_MS });
    const first = await curveAgent(pool, publicKey, keys.secretKey, ["--heartbeat-ms", String(HEARTBEAT_MS)]);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    const lostPid = pool.workers[0]!.pid;
    const task = await pool.start("calls:sleep", { args: [60] });
    task.result.catch(() => {});
    await task.started;
    const calls = Array.from({ length: 50 }, () => pool.call("calls:sleep", [60]));
    const deadline = Date.now() + 10_000;
    while (pool.workers[0]!.inFlight < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(pool.workers[0]!.inFlight).toBe(50);

    cleanups.push(() => host.linkUp());
    const cutAt = Date.now();
    await host.linkDown();
    const outcomes = await within(Promise.allSettled(calls), 30_000);
    const detectedMs = Date.now() - cutAt;
    expect(outcomes).not.toBe("timed out");
    for (const outcome of outcomes as PromiseSettledResult<unknown>[]) {
      expect(outcome.status).toBe("rejected");
      const error = (outcome as PromiseRejectedResult).reason as WorkerLostError;
      expect(error).toBeInstanceOf(WorkerLostError);
      expect(error.pid).toBe(lostPid);
    }
    console.log(
      `[remote-netns] 50 in-flight calls rejected ${detectedMs} ms after the cut (lostAfterMs ${LOST_AFTER_MS}; figures: npm run bench -- --only remoteLink)`,
    );
    await expect(task.result).rejects.toThrow(WorkerLostError);
    expect(await within(task.stop(), 5_000)).toMatchObject({ outcome: "unreachable", agentResponsive: false });
    // A generous bound only: the detection time itself is a bench figure.
    expect(detectedMs).toBeLessThan(LOST_AFTER_MS + HEARTBEAT_MS + 10_000);
    // The agent's own heartbeats (3 silent intervals) end it, unsupervised restarts aside: controllerLost.
    expect(await within(first.exit, 30_000)).toBe(CONTRACT.exitCodes.controllerLost);

    await host.linkUp();
    await curveAgent(pool, publicKey, keys.secretKey, ["--heartbeat-ms", String(HEARTBEAT_MS)]);
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    const fresh = pool.workers.find((w) => w.state === "ready")!;
    expect(fresh.pid).not.toBe(lostPid);
    expect(await pool.call<number>("calls:pid")).toBe(fresh.pid);
  }, 120_000);

  it("leaves no process running in the namespace", async () => {
    const { stdout } = await promisify(execFile)("ip", ["netns", "pids", host.name]);
    expect(stdout.trim()).toBe("");
  });
});
