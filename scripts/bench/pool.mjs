/**
 * pool: a Pool of `size` agents (os.availableParallelism()) beside one Worker and pythonia, in one child process,
 * rounds interleaved: pipelined math.floor(7) calls/s, and CPU-bound calls/s (a fixed pure-Python loop of about
 * `cpuMs` each, all issued at once), where one agent is held to one core by its GIL and a pool is not; and map:
 * `worker.map`/`pool.map` of math.floor over `mapItems` items (items/s, beside pythonia's pipelined calls/s) and of
 * the same CPU-bound loop over `cpuCalls` items.
 */
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { DIST, openContender } from "./contenders.mjs";
import { pipelinedRate } from "./calls.mjs";
import { runInChild } from "./procs.mjs";
import { overRounds, rotation } from "./stats.mjs";

const BENCH_DIR = new URL(".", import.meta.url).pathname;

// ---- child side -----------------------------------------------------------------------------------

/** `n` CPU-bound calls of `iterations` each, issued at once; calls per second. */
async function cpuRate(call, n, iterations) {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, () => call("workloads:count_to", [iterations])));
  return n / ((performance.now() - t0) / 1000);
}

/** `items` through `map` (worker.map or pool.map), every result taken; items per second. */
async function mapRate(map, target, items) {
  const t0 = performance.now();
  let n = 0;
  for await (const r of map(target, items)) {
    if (!r.ok) throw r.error;
    n++;
  }
  if (n !== items.length) throw new Error(`map gave ${n} results for ${items.length} items`);
  return n / ((performance.now() - t0) / 1000);
}

/** Iterations of workloads:count_to that take about `ms` alone on `worker` (median of 5 timings of a million). */
async function calibrate(worker, ms) {
  const probe = 1_000_000;
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await worker.call("workloads:count_to", [probe]);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return Math.max(1, Math.round((probe * ms) / times[2]));
}

export async function measure({ python, size, rounds, calls, window, cpuCalls, cpuMs, mapItems }) {
  const { Pool, Worker } = await import(DIST);
  const options = { python, transport: "builtin", output: "ignore", pythonPath: [BENCH_DIR] };
  const pythonia = await openContender("pythonia", python);
  const worker = await Worker.start(options);
  const pool = await Pool.start({ ...options, size });
  const floor = (target) => ({ call: () => target.call("math:floor", [7]) });
  const sides = { pythonia, worker: floor(worker), pool: floor(pool) };
  const rates = { pythonia: [], worker: [], pool: [] };
  const cpu = { worker: [], pool: [] };
  const mapFloor = { worker: [], pool: [] };
  const mapCpu = { worker: [], pool: [] };
  const maps = { worker: (t, items) => worker.map(t, items), pool: (t, items) => pool.map(t, items) };
  const floats = Array.from({ length: mapItems }, (_, i) => i + 0.5);
  let iterations = 0;
  try {
    for (const side of Object.values(sides)) await pipelinedRate(side, 2 * calls, window); // untimed warm-up
    iterations = await calibrate(worker, cpuMs);
    for (const map of Object.values(maps)) await mapRate(map, "math:floor", floats); // untimed warm-up
    for (let r = 0; r < rounds; r++) {
      for (const name of rotation(Object.keys(sides), r)) rates[name].push(await pipelinedRate(sides[name], calls, window));
      for (const name of rotation(Object.keys(cpu), r)) {
        const target = name === "pool" ? pool : worker;
        cpu[name].push(await cpuRate((t, a) => target.call(t, a), cpuCalls, iterations));
      }
      for (const name of rotation(Object.keys(maps), r)) {
        mapFloor[name].push(await mapRate(maps[name], "math:floor", floats));
        mapCpu[name].push(await mapRate(maps[name], "workloads:count_to", new Array(cpuCalls).fill(iterations)));
      }
    }
  } finally {
    await Promise.all([pythonia.close(), worker.close(), pool.close()]);
  }
  return { rates, cpu, mapFloor, mapCpu, iterations };
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const poolBench = {
  key: "pool",
  title: "A pool of agents beside one agent and pythonia",
  async run({ contenders, env, config, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const size = availableParallelism();
    const args = {
      python,
      size,
      rounds: config.rounds,
      calls: config.pipelinedCalls,
      window: config.window,
      cpuCalls: config.poolCpuCalls,
      cpuMs: config.poolCpuMs,
      mapItems: config.mapItems,
    };
    const { rates, cpu, mapFloor, mapCpu, iterations } = await runInChild("pool.mjs", "measure", args, { env, timeoutMs: 600_000 });
    const pipelined = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, overRounds(v, 0)]));
    const cpuBound = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, overRounds(v, 1)]));
    const mapped = Object.fromEntries(Object.entries(mapFloor).map(([k, v]) => [k, overRounds(v, 0)]));
    const mappedCpu = Object.fromEntries(Object.entries(mapCpu).map(([k, v]) => [k, overRounds(v, 1)]));
    const bestMap = Math.max(mapped.worker.median, mapped.pool.median);
    const ratio = (a, b) => (a && b ? Math.round((a / b) * 100) / 100 : null);
    const value = {
      size,
      pipelinedCallsPerS: Object.fromEntries(Object.entries(pipelined).map(([k, v]) => [k, v.median])),
      cpuBoundCallsPerS: Object.fromEntries(Object.entries(cpuBound).map(([k, v]) => [k, v.median])),
      poolVsPythonia: ratio(pipelined.pool.median, pipelined.pythonia.median),
      poolVsWorkerCpuBound: ratio(cpuBound.pool.median, cpuBound.worker.median),
      mapItemsPerS: Object.fromEntries(Object.entries(mapped).map(([k, v]) => [k, v.median])),
      cpuBoundMapItemsPerS: Object.fromEntries(Object.entries(mappedCpu).map(([k, v]) => [k, v.median])),
      mapVsPythonia: ratio(bestMap, pipelined.pythonia.median),
      poolMapVsWorkerMapCpuBound: ratio(mappedCpu.pool.median, mappedCpu.worker.median),
    };
    log(
      `pool: pipelined ${JSON.stringify(value.pipelinedCallsPerS)}; cpu-bound ${JSON.stringify(value.cpuBoundCallsPerS)}; map ${JSON.stringify(value.mapItemsPerS)}; cpu-bound map ${JSON.stringify(value.cpuBoundMapItemsPerS)}`,
    );
    return {
      value,
      detail: { pipelined, cpuBound, mapped, mappedCpu, iterations },
      method:
        `one node process holds pythonia, one pyleash Worker and a Pool of ${size} agents (builtin transport); per round, in rotating ` +
        `order: ${config.pipelinedCalls} calls of math.floor(7) in windows of ${config.window} each, then ${config.poolCpuCalls} calls of a ` +
        `fixed pure-Python loop (workloads:count_to, its iterations calibrated to take ${config.poolCpuMs} ms alone: ${iterations}) issued at once ` +
        `to the Worker and to the Pool; then worker.map and pool.map (default chunks, ordered, every result taken) of math.floor over ` +
        `${config.mapItems} floats, and of the same loop over ${config.poolCpuCalls} items; medians over ${config.rounds} rounds.`,
    };
  },
};
