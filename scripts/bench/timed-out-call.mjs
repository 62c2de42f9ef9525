/**
 * timedOutCall: the same call, bounded at 1000 ms, that would run 4 s (time.sleep, then a CPU loop; each writes a
 * marker file when it ends): pyleash's worker.call with timeoutMs beside pythonia with REQ_TIMEOUT. Does the
 * promise reject on time, does the next call work, and does the Python work run on after its caller gave up?
 * pythonia's side runs through scripts/bench/pythonia-rescue.mjs --side (a node process per run: pythonia reads
 * REQ_TIMEOUT when it loads).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { runInChild } from "./procs.mjs";
import { openWorker } from "./tasks.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const TIMEOUT_MS = 1_000;
const HANG_S = 4;
const HANGS = { sleep: "sleep_then_mark", spin: "spin_then_mark" };

// ---- child side -----------------------------------------------------------------------------------

/** pyleash's side of one hang: worker.call(..., {timeoutMs}) on the lane whose ladder stops it (main for a sleep). */
export async function pyleashSide({ python, hang }) {
  const worker = await openWorker(python, { pythonPath: [join(ROOT, "test/fixtures")] });
  const dir = mkdtempSync(join(tmpdir(), "pyleash-timeout-"));
  const marker = join(dir, "ended");
  try {
    await worker.call("math:floor", [1.5]);
    const t0 = performance.now();
    const lane = hang === "sleep" ? "main" : "thread";
    const error = await worker.call(`pythonia_work:${HANGS[hang]}`, [HANG_S, marker], {}, { timeoutMs: TIMEOUT_MS, lane }).then(
      () => undefined,
      (e) => e,
    );
    const rejectedMs = performance.now() - t0;
    const t1 = performance.now();
    const nextCall = await worker.call("math:floor", [2.7]).then(
      (value) => (value === 2 ? "answered" : `answered ${value}`),
      (e) => `failed: ${e.constructor.name}`,
    );
    const nextCallMs = performance.now() - t1;
    const endAt = t0 + HANG_S * 1000 + 1500; // past the hang's own end: did its Python run on?
    while (performance.now() < endAt && !existsSync(marker)) await new Promise((r) => setTimeout(r, 50));
    const ran = existsSync(marker);
    return {
      lane,
      rejectedMs,
      error: error ? error.constructor.name : null,
      nextCall,
      nextCallMs,
      pythonRanOn: ran,
      pythonEndedAtMs: ran ? Number(readFileSync(marker, "utf8")) * 1000 - (Date.now() - performance.now() + t0) : null,
      outcome: error?.stopReport?.outcome ?? null,
      stopLatencyMs: error?.stopReport?.latencyMs ?? null,
    };
  } finally {
    await worker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- orchestrator side ----------------------------------------------------------------------------

async function pythoniaSide(python, hang) {
  const env = { ...process.env, PYTHON_BIN: python, REQ_TIMEOUT: String(TIMEOUT_MS) };
  const script = join(ROOT, "scripts/bench/pythonia-rescue.mjs");
  const { stdout } = await promisify(execFile)(process.execPath, [script, "--side", "pythonia", hang], {
    env,
    timeout: (HANG_S + 30) * 1000,
  });
  return JSON.parse(stdout.trim().split("\n").at(-1));
}

export const timedOutCall = {
  key: "timedOutCall",
  title: "A call that outlives its timeout: pyleash beside pythonia",
  async run({ contenders, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const value = {};
    for (const hang of Object.keys(HANGS)) {
      value[`pyleash-${hang}`] = await runInChild("timed-out-call.mjs", "pyleashSide", { python, hang }, { env, timeoutMs: 60_000 });
      value[`pythonia-${hang}`] = await pythoniaSide(python, hang);
    }
    log(
      `timedOutCall: ${Object.entries(value)
        .map(([k, v]) => `${k} ran on=${v.pythonRanOn}`)
        .join(", ")}`,
    );
    return {
      value,
      method:
        `one run per side and hang: a call that would run ${HANG_S} s (pythonia_work.sleep_then_mark or spin_then_mark, writing a marker ` +
        `file when it ends), bounded at ${TIMEOUT_MS} ms: pyleash worker.call(..., {timeoutMs: ${TIMEOUT_MS}, lane}) (main lane for the sleep, ` +
        `so the signal can interrupt it; thread lane for the loop), pythonia with REQ_TIMEOUT=${TIMEOUT_MS} in a node process of its own. ` +
        `Timed from the call to the rejection; then the next call (math.floor(2.7)); then wait until ${HANG_S} s + 1.5 s for the marker.`,
    };
  },
};
