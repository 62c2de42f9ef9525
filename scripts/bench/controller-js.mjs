/**
 * controllerJsUs: the controller's own JavaScript per serial call, with nothing native under it: a real Worker,
 * Connection and Channel of the build over an in-process stand-in for zeromq.js's ROUTER that answers each call at
 * once (promises as zeromq.js resolves them: the send's at once, the receive's when the answer is there). What is
 * left is Worker.call's checks, the value walk, encode, the request table and its promise, the receive loop, decode
 * and the reply's dispatch: the part of callCtxSwitches' Node CPU that is pyleash's code and not the transport's,
 * measured warm (in the real loop the caches are colder between calls). With --baseline, that build too, interleaved.
 */
import { DIST } from "./contenders.mjs";
import { runInChild } from "./procs.mjs";
import { median, round, rotation } from "./stats.mjs";
import { MODES } from "./stoppable-call.mjs";

const PEER = Buffer.from([0, 0x6b, 0x8b, 0x45, 0x67]);

/** Answers every request frame of a send with `{"id":N,"status":"ok","result":7}`, N counting from 1 as the table does. */
class AnsweringRouter {
  closed = false;
  #waiting;
  #queue = [];
  #id = 0;
  send(message) {
    for (let i = 1; i < message.length; i++) this.#queue.push([PEER, Buffer.from(`{"id":${++this.#id},"status":"ok","result":7}`)]);
    this.#flush();
    return Promise.resolve();
  }
  receive() {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.#flush();
    });
  }
  #flush() {
    if (!this.#waiting || this.#queue.length === 0) return;
    const resolve = this.#waiting;
    this.#waiting = undefined;
    resolve(this.#queue.shift());
  }
  close() {
    this.closed = true;
  }
}

/** A Worker of the build at `dist` (its dist/index.js URL) whose channel's router is an AnsweringRouter. */
async function answeredWorker(dist) {
  const internal = (path) => import(new URL(`./worker/${path}`, dist).href);
  const [{ Channel }, { Connection }, { Worker }, { resolveWorkerOptions }] = await Promise.all(
    ["channel.js", "connection.js", "worker.js", "options.js"].map(internal),
  );
  const channel = new Channel(new AnsweringRouter(), "ipc://in-process", undefined, 1 << 26);
  const life = {
    alive: true,
    gone: new Promise(() => {}),
    onDeath() {},
    askedToExit() {},
    kill() {},
    dumpThreads: async () => "",
    release: async () => {},
  };
  const hello = { type: "hello", pid: process.pid, python: "-", executable: "-", transport: "builtin", strategies: [] };
  const resolved = resolveWorkerOptions({});
  return Worker.adopt(Connection.adopt(life, channel, PEER, hello, channel.messages(), resolved), resolved);
}

// ---- child side -----------------------------------------------------------------------------------

/** `rounds` rounds of `calls` serial calls per build and mode, rotating: Node CPU µs per call of each. */
export async function controllerJsSamples({ rounds, calls, warm, baseline }) {
  const builds = { "pyleash-builtin": DIST, ...(baseline ? { baseline } : {}) };
  const runs = [];
  for (const [name, dist] of Object.entries(builds)) {
    const worker = await answeredWorker(dist);
    for (const mode of Object.keys(MODES)) runs.push({ name, mode, worker, us: [] });
  }
  const loop = async (run, n) => {
    const options = MODES[run.mode];
    for (let i = 0; i < n; i++) await run.worker.call("math:floor", [7], {}, options);
  };
  for (const run of runs) await loop(run, warm); // JIT
  for (let r = 0; r < rounds; r++) {
    for (const run of rotation(runs, r)) {
      const cpu = process.cpuUsage();
      await loop(run, calls);
      const used = process.cpuUsage(cpu);
      run.us.push((used.user + used.system) / calls);
    }
  }
  return runs.map(({ name, mode, us }) => ({ name, mode, us }));
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const controllerJs = {
  key: "controllerJsUs",
  title: "The controller's own JavaScript per serial call, over an in-process router",
  async run({ config, env, log }) {
    const baseline = process.env.PYLEASH_BENCH_BASELINE;
    const args = { rounds: config.rounds, calls: 10 * config.rttCalls, warm: 10 * config.rttCalls, baseline };
    const got = await runInChild("controller-js.mjs", "controllerJsSamples", args, { env, timeoutMs: 300_000 });
    const value = {};
    const detail = {};
    for (const { name, mode, us } of got) {
      (value[name] ??= {})[mode] = round(median(us), 2);
      (detail[name] ??= {})[mode] = us.map((v) => round(v, 2));
    }
    log(
      `controllerJsUs: ${Object.entries(value)
        .map(([n, m]) => `${n} ${JSON.stringify(m)}`)
        .join("; ")}`,
    );
    return {
      value,
      detail,
      method:
        `one child node process; per build (and --baseline's), a Worker whose Connection and Channel are the build's own, ` +
        "over an in-process stand-in for the zeromq.js ROUTER that answers each request at once; after " +
        `${10 * config.rttCalls} untimed calls per mode, ${config.rounds} rounds × ${10 * config.rttCalls} serial calls of ` +
        "math.floor(7) per build and mode (plain, timeoutMs, signal as in stoppableCallCost), in rotating order; " +
        "process.cpuUsage per call, median over rounds. No native code runs under it: this is pyleash's JavaScript alone, warm.",
    };
  },
};
