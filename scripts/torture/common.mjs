/**
 * What every torture section shares: the seeded generator, the run's process tag, /proc readings,
 * bounded waits, and an agent spawned by hand (for the sections that act as the controller themselves).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const DIST = new URL("../../dist/index.js", import.meta.url).href;
export const FIXTURES = join(ROOT, "test", "fixtures");
export const AGENT_PY = join(ROOT, "py");

/** Every process the run starts carries this in its environment, so leftovers can be found in /proc. */
export const TAG = `torture-${process.pid}-${Date.now()}`;
export const TAG_ENV = { PYLEASH_TORTURE_RUN: TAG };

/** mulberry32: a tiny seeded PRNG, so `--seed N` replays a run's inputs exactly. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (list) => list[int(list.length)],
    /** A key of `weights` ({name: weight}) drawn in proportion to its weight. */
    weighted(weights) {
      const entries = Object.entries(weights).filter(([, w]) => w > 0);
      let r = next() * entries.reduce((s, [, w]) => s + w, 0);
      for (const [k, w] of entries) if ((r -= w) < 0) return k;
      return entries[entries.length - 1][0];
    },
    bytes(n) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
    string(n, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_.:") {
      let s = "";
      for (let i = 0; i < n; i++) s += alphabet[int(alphabet.length)];
      return s;
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The promise's outcome, or {hung: true} when it has not settled within ms; never rejects. */
export async function settleWithin(promise, ms) {
  let timer;
  const t0 = performance.now();
  const timeout = new Promise((r) => (timer = setTimeout(() => r({ hung: true }), ms)));
  const outcome = promise.then(
    (value) => ({ ok: true, value, ms: performance.now() - t0 }),
    (error) => ({ ok: false, error, ms: performance.now() - t0 }),
  );
  try {
    return await Promise.race([outcome, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Start tracking a promise now: its settle time (from performance.now()) and outcome, without ever rejecting. */
export function track(promise) {
  const t = { settled: false, ok: undefined, error: undefined, value: undefined, at: undefined };
  t.done = promise.then(
    (value) => Object.assign(t, { settled: true, ok: true, value, at: performance.now() }),
    (error) => Object.assign(t, { settled: true, ok: false, error, at: performance.now() }),
  );
  return t;
}

export const errorClass = (error) =>
  error && typeof error === "object" ? (error.name ?? error.constructor?.name ?? "Error") : typeof error;

/** True while a process exists (zombies count as gone). */
export function isAlive(pid) {
  if (!pid) return false;
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Those of `pids` still alive after waiting up to ms for them to go. */
export async function survivors(pids, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = pids.filter((p) => isAlive(p));
    if (!alive.length || Date.now() > deadline) return alive;
    await sleep(50);
  }
}

/** Python processes carrying this run's tag (test/support/orphans.ts does the same for the test suite). */
export function taggedPythons() {
  const needle = `PYLEASH_TORTURE_RUN=${TAG}`;
  const out = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(needle)) continue;
      if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      if (cmdline.includes("python") || cmdline.includes("pyleash")) out.push({ pid, cmdline });
    } catch {}
  }
  return out;
}

/** VmRSS (or another /proc/PID/status field) in KiB; undefined once the process is gone. */
export function statusKb(pid, field = "VmRSS") {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The agent's private ipc directory (undefined for tcp endpoints). */
export const ipcDir = (endpoint) => (endpoint.startsWith("ipc://") ? dirname(endpoint.slice("ipc://".length)) : undefined);

export async function dirGone(dir, ms) {
  const deadline = Date.now() + ms;
  while (dir && existsSync(dir) && Date.now() < deadline) await sleep(50);
  return !dir || !existsSync(dir);
}

/**
 * Spawn `python -m pyleash` as ts/worker/agent-process.ts does (own process group, config on fd 3 kept open as
 * the lifeline), for sections that play the controller themselves. `kill()` ends the whole group.
 */
export function spawnAgent(python, { endpoint, transport = "builtin", token = randomBytes(24).toString("hex") }) {
  const child = spawn(python, ["-m", "pyleash"], {
    env: { ...process.env, ...TAG_ENV, PYTHONPATH: [AGENT_PY, FIXTURES].join(":"), PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d.toString()).slice(-4096)));
  for (const fd of [3, 4]) child.stdio[fd]?.on("error", () => {});
  /** @type {import("node:stream").Readable} */ (child.stdio[4]).resume();
  /** @type {import("node:stream").Writable} */ (child.stdio[3]).write(
    `${JSON.stringify({ endpoint, token, transport, parentPid: process.pid, switchIntervalMs: null })}\n`,
  );
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const kill = async () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    await exited;
  };
  return { child, token, exited, kill, stderr: () => stderr };
}

/** Count occurrences into a plain object: counts[key] += n. */
export function bump(counts, key, n = 1) {
  counts[key] = (counts[key] ?? 0) + n;
  return counts;
}
