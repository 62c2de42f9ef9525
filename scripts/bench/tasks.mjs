/**
 * Shared by the task sections (stop latency, killable overhead, blocked stops, memory, switch interval):
 * a pyleash worker that can import scripts/bench/workloads.py, and the small helpers they all use.
 * These run inside a child process (procs.mjs runInChild), so the orchestrator's own loop is never timed.
 */
import { performance } from "node:perf_hooks";
import { DIST } from "./contenders.mjs";

export const BENCH_DIR = new URL(".", import.meta.url).pathname;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A worker with scripts/bench on its pythonPath; `options` go to Worker.start (e.g. switchIntervalMs). */
export async function openWorker(python, options = {}) {
  const { Worker } = await import(DIST);
  return Worker.start({ python, pythonPath: [BENCH_DIR], output: "ignore", transport: "builtin", ...options });
}

/** Start `n` CPU-bound thread tasks (pyleash.demo:spin) and wait until each is running. */
export async function startBusy(worker, n) {
  const tasks = [];
  for (let i = 0; i < n; i++) tasks.push(await worker.start("pyleash.demo:spin", { name: `busy-${i}` }));
  await Promise.all(tasks.map((t) => t.started));
  return tasks;
}

/** Stop tasks started by startBusy; async-exc takes any pure-Python loop. */
export async function stopAll(tasks) {
  for (const t of tasks) await t.stop({ strategy: "async-exc", deadlineMs: 5_000 });
}

/** `fn()` timed in ms (performance.now, sub-ms), with its result. */
export async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}
