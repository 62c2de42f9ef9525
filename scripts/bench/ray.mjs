/**
 * ray: agents in Ray actors (Pool.start({ launcher: { kind: "ray" } })) on a single-node Ray that this section starts
 * (scripts/ray_head.py, the Ray tests' head too), in one child process: serial call round trip to a Ray-hosted agent beside a local
 * one; time from ray.kill of an actor to the rejection of the calls in flight there; and the stop of a sync method
 * blocked in time.sleep(100) by pyleash (main lane, signal) beside ray.cancel of a plain sync actor method, one run.
 * Skipped (with the reason) when no interpreter here imports ray: the Ray venv the tests make under .cache/.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { DIST } from "./contenders.mjs";
import { runInChild } from "./procs.mjs";
import { round, summarize } from "./stats.mjs";

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const CACHE = new URL("../../.cache/", import.meta.url).pathname;

/** The Ray venv's interpreter: env PYLEASH_BENCH_RAY, else the tests' .cache/venv-ray-<version>. */
function rayPython() {
  if (process.env.PYLEASH_BENCH_RAY) return process.env.PYLEASH_BENCH_RAY;
  const dirs = existsSync(CACHE) ? readdirSync(CACHE).filter((d) => /^venv-ray-[\d.]+$/.test(d)) : [];
  return dirs.map((d) => join(CACHE, d, "bin", "python")).find((p) => existsSync(p));
}

// ---- child side -----------------------------------------------------------------------------------

function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function rayHead(python) {
  const child = spawn(python, [join(BENCH_DIR, "..", "ray_head.py"), "4"], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (what) => {
    const line = await within(lines.next(), 120_000, what);
    if (line.done) throw new Error(`the bench's Ray head ended (${what})`);
    return JSON.parse(line.value);
  };
  const { address } = await next("ray.init");
  return {
    address,
    ask: (command) => {
      child.stdin.write(`${JSON.stringify(command)}\n`);
      return next(command.op);
    },
    close: async () => {
      child.stdin.end();
      await within(new Promise((r) => child.once("exit", r)), 30_000, "ray shutdown").catch(() => child.kill("SIGKILL"));
    },
  };
}

async function serialRtt(pool, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await pool.call("math:floor", [7]);
    times.push((performance.now() - t0) * 1000);
  }
  return times;
}

/** One blocked main-lane call stopped by signal: ms from abort to rejection, and the agent's own latencyMs. */
async function pyleashStop(pool) {
  const controller = new AbortController();
  let started;
  const running = new Promise((r) => (started = r));
  const call = pool.call(
    "workloads:started_then_sleep",
    [100],
    {},
    { lane: "main", signal: controller.signal, stop: { strategy: "signal" }, onProgress: () => started() },
  );
  const settled = call.then(
    () => ({ ok: true }),
    (error) => ({ error }),
  );
  await within(running, 30_000, "the blocked call's start");
  const t0 = performance.now();
  controller.abort();
  const { error } = await within(settled, 30_000, "the stop");
  const ms = performance.now() - t0;
  return { ms, outcome: error?.stopReport?.outcome ?? String(error), agentMs: error?.stopReport?.latencyMs ?? null };
}

export async function measure({ python, rounds, rttCalls, stops, kills, cancelWaitS }) {
  const { Pool } = await import(DIST);
  const head = await rayHead(python);
  const common = { python, output: "ignore", pythonPath: [BENCH_DIR] };
  let local;
  let onRay;
  try {
    local = await Pool.start({ ...common, size: 1 });
    onRay = await Pool.start({ ...common, launcher: { kind: "ray", address: head.address, workers: 1, maxRestarts: kills + 1 } });
    const rtt = { local: [], ray: [] };
    await serialRtt(local, 200);
    await serialRtt(onRay, 200);
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 ? ["ray", "local"] : ["local", "ray"])
        rtt[name].push(...(await serialRtt(name === "ray" ? onRay : local, rttCalls)));
    }
    const stopped = [];
    for (let i = 0; i < stops; i++) stopped.push(await pyleashStop(onRay));
    const killed = [];
    for (let i = 0; i < kills; i++) {
      const { names } = await head.ask({ op: "actors" });
      // The join is timed when it happens: Ray often restarts the actor, and its new agent joins, before the driver
      // reports the old one dead and the calls reject; timing it after those rejections made it equal theirs.
      const before = new Set(onRay.workers.map((w) => w.pid));
      /** @type {Promise<number>} */
      const joined = new Promise((resolve) => {
        const onJoin = (info) => {
          if (before.has(info.pid)) return; // not the restarted actor's new agent
          onRay.off("join", onJoin);
          resolve(performance.now());
        };
        onRay.on("join", onJoin);
      });
      const calls = Array.from({ length: 5 }, () =>
        onRay.call("time:sleep", [60]).then(
          () => "resolved",
          (e) => e,
        ),
      );
      await new Promise((r) => setTimeout(r, 200)); // the calls have reached the agent
      const t0 = performance.now();
      const answer = await head.ask({ op: "kill", name: names[0] });
      if (answer.error) throw new Error(answer.error);
      const outcomes = await within(Promise.all(calls), 60_000, "the rejections after ray.kill");
      const rejectedMs = performance.now() - t0;
      const rejoinedMs = (await within(joined, 120_000, "the restarted actor's agent")) - t0;
      await onRay.waitForWorkers(1, { timeoutMs: 60_000 });
      killed.push({
        rejectedMs,
        rejoinedMs,
        joinedFirst: rejoinedMs < rejectedMs,
        errors: [...new Set(outcomes.map((e) => e?.code ?? String(e)))],
      });
    }
    const cancel = await head.ask({ op: "cancel", wait_s: cancelWaitS });
    return { rtt: { local: summarize(rtt.local), ray: summarize(rtt.ray) }, n: rtt.local.length, stopped, killed, cancel };
  } finally {
    await Promise.allSettled([local?.close(), onRay?.close()]);
    await head.close();
  }
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const rayBench = {
  key: "ray",
  title: "Agents in Ray actors: call round trip, ray.kill to rejection, a blocked sync method stopped (pyleash vs ray.cancel)",
  async run({ env, config, log, quick, named }) {
    if (quick && !named.includes("ray")) {
      // Ray's start alone takes tens of seconds on a small machine: the quick run (test/bench.test.ts) leaves it out.
      const why = "skipped in a quick run (Ray starts slowly): a full run measures it, or --quick --only ray";
      log(`ray: ${why}`);
      return { value: null, pending: why };
    }
    const python = rayPython();
    if (!python) {
      const why =
        "skipped: no interpreter with ray (the tests make .cache/venv-ray-<version> where pip can install ray; or set PYLEASH_BENCH_RAY)";
      log(`ray: ${why}`);
      return { value: null, pending: why };
    }
    const args = {
      python,
      rounds: config.rounds,
      rttCalls: quick ? 300 : 1000,
      stops: quick ? 3 : 10,
      kills: quick ? 2 : 5,
      cancelWaitS: quick ? 5 : 10,
    };
    const m = await runInChild("ray.mjs", "measure", args, { env, timeoutMs: 900_000 });
    const ms = (xs) => summarize(xs, 1);
    const cancelRow =
      m.cancel.outcome === "not stopped"
        ? `not stopped after ${round(m.cancel.waitedS, 1)} s`
        : `${m.cancel.outcome} after ${round(m.cancel.waitedS, 2)} s`;
    const value = {
      rttUs: { local: m.rtt.local, ray: m.rtt.ray },
      killToRejectionMs: ms(m.killed.map((k) => k.rejectedMs)),
      killToRejoinMs: ms(m.killed.map((k) => k.rejoinedMs)),
      killErrors: [...new Set(m.killed.flatMap((k) => k.errors))],
      // How many of the kills saw the new agent join before the old one's calls rejected.
      joinedBeforeRejection: m.killed.filter((k) => k.joinedFirst).length,
      kills: m.killed.length,
      blockedSyncStop: {
        pyleash: { ...ms(m.stopped.map((s) => s.ms)), outcomes: [...new Set(m.stopped.map((s) => s.outcome))], n: m.stopped.length },
        rayCancel: { result: cancelRow, outcome: m.cancel.outcome, waitedS: m.cancel.waitedS, ray: m.cancel.ray },
      },
    };
    log(
      `ray: rtt p50 local ${value.rttUs.local.p50} µs, ray ${value.rttUs.ray.p50} µs; kill→reject p50 ${value.killToRejectionMs.p50} ms, kill→join p50 ${value.killToRejoinMs.p50} ms (joined first ${value.joinedBeforeRejection}/${m.killed.length}); stop p50 ${value.blockedSyncStop.pyleash.p50} ms vs ray.cancel: ${cancelRow}`,
    );
    return {
      value,
      detail: m,
      method:
        `a single-node Ray ${m.cancel.ray} (ray.init, 4 CPUs, no dashboard) started by scripts/ray_head.py; one child process holds a local ` +
        `Pool of 1 agent and a Pool with launcher { kind: "ray", workers: 1 } on that Ray (both ${python}); rtt: serial math.floor(7), ` +
        `${args.rttCalls} calls per side per round over ${config.rounds} rounds, sides alternating; kill: 5 calls of time.sleep(60) in flight, then ` +
        `ray.kill(actor, no_restart=False) from the Ray head process, timed from the kill request to the last rejection and, apart, to the ` +
        `moment the restarted actor's new agent (a pid not in the pool before) joined, ${args.kills} times; stop: a main-lane call in time.sleep(100) aborted with strategy "signal", from abort to rejection, ` +
        `${args.stops} times; ray.cancel: a plain sync actor method in time.sleep(100), ray.cancel(ref) then ray.get polled for up to ${args.cancelWaitS} s.`,
    };
  },
};
