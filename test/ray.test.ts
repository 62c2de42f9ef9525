/**
 * Ray as the engine: Pool.start({ launcher: { kind: "ray" } }) on a real single-node Ray (started once for this file
 * by scripts/ray_head.py (the bench's Ray head too), which also answers Ray state queries and kills actors for the tests).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AbortError, InvalidArgumentError, Pool, type PoolOptions, WorkerCrashedError } from "../ts/index.js";
import { FIXTURES } from "./support/cleanup.js";
import { isAlive } from "./support/orphans.js";

const RAY_PYTHON = process.env.PYLEASH_TEST_RAY ?? "";
const RAY_HEAD = new URL("../scripts/ray_head.py", import.meta.url).pathname;
if (!RAY_PYTHON) console.log("[ray] no Ray venv (PYLEASH_TEST_RAY is empty: see the set-up note above): the Ray tests are skipped");

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function within<T>(promise: Promise<T>, ms: number): Promise<T | "timed out"> {
  return Promise.race([promise, new Promise<"timed out">((r) => setTimeout(() => r("timed out"), ms))]);
}

/** Polls `check` every 200 ms until it returns true or `ms` pass; returns whether it did. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

/** The cluster for this file: one Ray head in a Python process that answers JSON commands. */
class Cluster {
  readonly address: string;
  readonly #child: ChildProcess;
  readonly #answers: AsyncIterator<string>;
  private constructor(child: ChildProcess, answers: AsyncIterator<string>, address: string) {
    this.#child = child;
    this.#answers = answers;
    this.address = address;
  }

  /**
   * Started afresh once more if the first head dies: under load Ray's own start can time out ("The current node
   * timed out during startup", seen in a CI run), which says nothing about pyleash.
   */
  static async start(tries = 2): Promise<Cluster> {
    const child = spawn(RAY_PYTHON, [RAY_HEAD, "6"], { stdio: ["pipe", "pipe", "inherit"] });
    const answers = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await within(answers.next(), 120_000);
    if (first === "timed out" || first.done) {
      child.kill("SIGKILL");
      if (first !== "timed out" && tries > 1) return Cluster.start(tries - 1);
      throw new Error(
        first === "timed out" ? "the test's Ray cluster did not start within 120 s" : "the test's Ray cluster failed to start",
      );
    }
    return new Cluster(child, answers, (JSON.parse(first.value) as { address: string }).address);
  }

  async ask<T>(command: Record<string, unknown>): Promise<T> {
    this.#child.stdin!.write(`${JSON.stringify(command)}\n`);
    const answer = await within(this.#answers.next(), 30_000);
    if (answer === "timed out" || answer.done) throw new Error(`the Ray cluster did not answer ${JSON.stringify(command)}`);
    return JSON.parse(answer.value) as T;
  }

  /** pyleash's actors (AgentHost) that Ray does not list as DEAD. */
  actors(): Promise<{ alive: number; names: string[]; api: string }> {
    return this.ask({ op: "actors" });
  }

  async close(): Promise<void> {
    this.#child.stdin!.end(); // it shuts Ray down and exits; its Ray processes share its fate anyway
    if ((await within(new Promise((r) => this.#child.once("exit", r)), 30_000)) === "timed out") this.#child.kill("SIGKILL");
  }
}

/** Ray's own processes (raylet, gcs_server) that this test run started (they carry its tag), by pid. */
async function rayDaemons(): Promise<number[]> {
  const tag = process.env.PYLEASH_TEST_RUN; // set by the vitest set-up; another run's Ray on this machine is not ours
  const out: number[] = [];
  for (const entry of await readdir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (!/\/(raylet|gcs_server)\0/.test(cmdline) || !(await isAlive(pid))) continue;
    const environ = tag ? await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "") : "";
    if (!tag || environ.split("\0").includes(`PYLEASH_TEST_RUN=${tag}`)) out.push(pid);
  }
  return out.sort();
}

describe("the ray launcher's options", () => {
  it("refuses a bad launcher with an InvalidArgumentError that names the option", async () => {
    const bad = (launcher: unknown, more: PoolOptions = {}) => Pool.start({ ...more, launcher: launcher as PoolOptions["launcher"] });
    await expect(bad({ kind: "k8s", workers: 1 })).rejects.toThrow(/launcher\.kind/);
    await expect(bad({ kind: "ray", workers: 0 })).rejects.toThrow(/launcher\.workers/);
    await expect(bad({ kind: "ray", workers: 1, maxRestart: 2 })).rejects.toThrow(/did you mean "maxRestarts"/);
    await expect(bad({ kind: "ray", workers: 1, resources: { GPU: -1 } })).rejects.toThrow(/launcher\.resources/);
    await expect(bad({ kind: "ray", workers: 1, bind: "ipc:///tmp/x" })).rejects.toThrow(/launcher\.bind/);
    await expect(bad({ kind: "ray", workers: 1 }, { size: 2 })).rejects.toThrow(InvalidArgumentError);
  });
});

describe.skipIf(!RAY_PYTHON)("a pool on Ray actors (needs the Ray venv)", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start();
  }, 180_000);
  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  async function rayPool(workers: number, more: Partial<NonNullable<PoolOptions["launcher"]>> = {}): Promise<Pool> {
    const pool = await Pool.start({
      python: RAY_PYTHON,
      pythonPath: [FIXTURES],
      output: "ignore",
      launcher: { kind: "ray", address: cluster.address, workers, ...more },
    });
    cleanups.push(() => pool.close());
    return pool;
  }

  it("spreads calls over the agents of 2 actors, each joined as a remote worker", async () => {
    const pool = await rayPool(2);
    expect(pool.workers).toHaveLength(2);
    for (const w of pool.workers) expect(w).toMatchObject({ remote: true, transport: "pyzmq", state: "ready" });
    const pids = await Promise.all(Array.from({ length: 8 }, () => pool.call<number>("ray_work:started_then_sleep", [0.3])));
    expect(new Set(pids)).toEqual(new Set(pool.workers.map((w) => w.pid)));
    expect((await cluster.actors()).alive).toBeGreaterThanOrEqual(2);
    for (const pid of pids) {
      // The agents' secret key is in their environment, never in argv: the one key on argv is the controller's public one.
      const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
      expect(argv.filter((arg) => /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/.test(arg))).toHaveLength(1);
      expect(argv[argv.indexOf("--server-key") + 1]).toMatch(/^.{40}$/);
      expect(await readFile(`/proc/${pid}/environ`, "utf8")).toMatch(/(^|\0)PYLEASH_SECRET_KEY=.{40}\0/);
    }
  }, 180_000);

  it("stops a main-lane call blocked in time.sleep(100) inside an actor by signal; that agent serves the next call", async () => {
    const pool = await rayPool(1);
    const pid = pool.workers[0]!.pid;
    const controller = new AbortController();
    let announce!: () => void;
    const started = new Promise<void>((resolve) => (announce = resolve));
    const call = pool.call(
      "ray_work:started_then_sleep",
      [100],
      {},
      { lane: "main", signal: controller.signal, stop: { strategy: "signal" }, onProgress: () => announce() },
    );
    const settled = call.then(
      () => "resolved",
      (error: unknown) => error,
    );
    expect(await within(started, 30_000)).not.toBe("timed out");
    controller.abort();
    const error = (await within(settled, 10_000)) as AbortError;
    expect(error).toBeInstanceOf(AbortError);
    expect(error.stopReport).toMatchObject({ outcome: "stopped", agentResponsive: true });
    expect(error.stopReport!.steps.map((s) => s.strategy)).toContain("signal");
    expect(await pool.call("ray_work:where", [], {}, { lane: "main" })).toEqual({ pid, main: true });
    expect(pool.workers[0]!.pid).toBe(pid);
  }, 180_000);

  it("ray.kill of an actor with calls in flight: they reject as crashed, Ray restarts it, the new agent joins and serves", async () => {
    const pool = await rayPool(1, { maxRestarts: 1 });
    const before = pool.workers[0]!.pid!;
    const joined = new Promise<void>((resolve) => pool.once("join", () => resolve()));
    const calls = Array.from({ length: 5 }, () => pool.call("time:sleep", [60]));
    for (const call of calls) call.catch(() => {});
    // The earlier pools' actors went with their close(); Ray may list them as not yet DEAD for a moment.
    expect(await eventually(async () => (await cluster.actors()).names.length === 1, 15_000)).toBe(true);
    const { names } = await cluster.actors();
    expect(await cluster.ask({ op: "kill", name: names[0] })).toEqual({ killed: names[0] });
    const outcomes = await within(Promise.allSettled(calls), 30_000);
    expect(outcomes).not.toBe("timed out");
    for (const outcome of outcomes as PromiseSettledResult<unknown>[]) {
      expect(outcome.status).toBe("rejected");
      // Ray tells the driver at once, so not the WorkerLostError of a heartbeat timeout (which would come after 5 s).
      const reason = (outcome as PromiseRejectedResult).reason as WorkerCrashedError;
      expect(reason).toBeInstanceOf(WorkerCrashedError);
      expect(reason.code).toBe("WORKER_CRASHED");
      expect(reason.message).toMatch(/Ray actor that died .*Ray restarts it/);
    }
    expect(await within(joined, 120_000)).not.toBe("timed out");
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    const after = pool.workers.find((w) => w.state === "ready")!.pid;
    expect(after).not.toBe(before);
    expect(await isAlive(before)).toBe(false);
    expect(await pool.call("math:factorial", [6])).toBe(720);
  }, 240_000);

  it("a SIGKILLed controller takes its driver and its actors with it: Ray lists none of them within seconds", async () => {
    expect(await eventually(async () => (await cluster.actors()).alive === 0, 15_000)).toBe(true); // the earlier pools' went with close()
    const dist = JSON.stringify(new URL("../dist/index.js", import.meta.url).pathname);
    const script = `
      import { Pool } from ${dist};
      const pool = await Pool.start({ python: ${JSON.stringify(RAY_PYTHON)}, output: "forward", // the driver's stderr, if it fails
        launcher: { kind: "ray", address: ${JSON.stringify(cluster.address)}, workers: 2 } });
      console.log(JSON.stringify(pool.workers.map((w) => w.pid)));
      setInterval(() => {}, 1000);`;
    const controller = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    cleanups.push(() => controller.kill("SIGKILL"));
    const line = await within(createInterface({ input: controller.stdout! })[Symbol.asyncIterator]().next(), 150_000);
    if (line === "timed out" || line.done) throw new Error("the controller's Ray pool did not start");
    const agents = JSON.parse(line.value) as number[];
    const before = await cluster.actors();
    console.log(`[ray] before SIGKILL: ${before.alive} actors alive (${before.api})`);
    expect(before.alive).toBe(2);
    controller.kill("SIGKILL");
    const gone = await eventually(async () => (await cluster.actors()).alive === 0, 15_000);
    const after = await cluster.actors();
    console.log(`[ray] after SIGKILL: ${after.alive} actors alive (${after.api})`);
    expect(gone).toBe(true);
    for (const pid of agents) expect(await eventually(async () => !(await isAlive(pid)), 10_000)).toBe(true);
  }, 240_000);
});

describe.skipIf(!RAY_PYTHON)("a pool with a Ray of its own (no address; needs the Ray venv)", () => {
  it("starts a local single-node Ray, serves calls, and leaves no Ray process behind at close", async () => {
    const daemons = await rayDaemons();
    const pool = await Pool.start({ python: RAY_PYTHON, output: "ignore", launcher: { kind: "ray", workers: 1 } });
    cleanups.push(() => pool.close());
    expect((await rayDaemons()).length).toBeGreaterThan(daemons.length);
    expect(await pool.call("math:factorial", [5])).toBe(120);
    await pool.close();
    expect(await eventually(async () => JSON.stringify(await rayDaemons()) === JSON.stringify(daemons), 20_000)).toBe(true);
  }, 240_000);
});
