/**
 * bytesRoundTrip: a Buffer sent to a call that returns it, MB/s (payload bytes / 10^6 / seconds per round trip):
 * pyleash's binary frames on each transport, the same bytes as base64 text in the JSON, and pythonia's way of
 * passing a Buffer (its toJSON form, a JSON array of numbers, and a list of ints back). Also the agent's RSS
 * idle before the transfers and after them (a kept buffer would show).
 */
import { randomFillSync } from "node:crypto";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { rssMb } from "./contenders.mjs";
import { floorBytesSamples } from "./bytes-floor.mjs";
import { runInChild } from "./procs.mjs";
import { median, round } from "./stats.mjs";
import { BENCH_DIR, openWorker, sleep } from "./tasks.mjs";

const MiB = 1 << 20;
const mbPerS = (bytes, ms) => bytes / 1e6 / (ms / 1000);

// ---- child side -----------------------------------------------------------------------------------

/** `rounds` frame round trips, then the RSS, then `base64Rounds` base64 round trips, on one worker. */
export async function bytesSamples({ python, transport, sizeMiB, rounds, base64Rounds, settleMs }) {
  const worker = await openWorker(python, { transport });
  const payload = randomFillSync(Buffer.allocUnsafe(sizeMiB * MiB));
  try {
    await worker.call("workloads:echo", [Buffer.from("warm")]);
    await sleep(settleMs);
    const rssBeforeMb = rssMb(worker.pid);
    const frameMs = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const back = await worker.call("workloads:echo", [payload]);
      frameMs.push(performance.now() - t0);
      if (r === 0 && !payload.equals(back)) throw new Error("bytesRoundTrip: the frame round trip changed the bytes");
    }
    await sleep(settleMs);
    const rssAfterMb = rssMb(worker.pid);
    const base64Ms = [];
    for (let r = 0; r < base64Rounds; r++) {
      const t0 = performance.now();
      const back = Buffer.from(await worker.call("workloads:echo_base64", [payload.toString("base64")]), "base64");
      base64Ms.push(performance.now() - t0);
      if (r === 0 && !payload.equals(back)) throw new Error("bytesRoundTrip: the base64 round trip changed the bytes");
    }
    return { frameMs, base64Ms, rssBeforeMb, rssAfterMb, transport: worker.transport };
  } finally {
    await worker.close();
  }
}

/** The floor (bytes-floor.mjs): the same payload through a raw unix socket to the same Python and back. */
export async function floorSamples({ python, sizeMiB, rounds }) {
  return floorBytesSamples({ python, payload: randomFillSync(Buffer.allocUnsafe(sizeMiB * MiB)), rounds });
}

/** pythonia (env PYTHON_BIN picks its interpreter): `rounds` round trips of a `sizeMiB` Buffer. */
export async function pythoniaBytesSamples({ sizeMiB, rounds }) {
  const mod = await import("pythonia");
  const pythonia = mod.default ?? mod;
  const proc = /** @type {any} */ (pythonia).com.proc;
  const payload = randomFillSync(Buffer.allocUnsafe(sizeMiB * MiB));
  try {
    const workloads = await pythonia.python(`${BENCH_DIR}workloads.py`);
    const ms = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const back = Buffer.from(await (await workloads.pythonia_bytes(payload)).valueOf());
      ms.push(performance.now() - t0);
      if (r === 0 && !payload.equals(back)) throw new Error("bytesRoundTrip: pythonia's round trip changed the bytes");
    }
    return { ms };
  } finally {
    const gone = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : once(proc, "exit");
    pythonia.python.exit();
    const timer = setTimeout(() => proc.kill("SIGKILL"), 2000);
    await gone;
    clearTimeout(timer);
  }
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const bytesRoundTrip = {
  key: "bytesRoundTrip",
  title: "Binary data: a Buffer through a call that returns it (MB/s)",
  async run({ contenders, config, env, log }) {
    const value = {};
    const detail = {};
    for (const c of contenders.filter((c) => c.name.startsWith("pyleash-"))) {
      const transport = c.name.slice("pyleash-".length);
      const got = await runInChild(
        "bytes.mjs",
        "bytesSamples",
        {
          python: c.python,
          transport,
          sizeMiB: config.bytesMiB,
          rounds: config.bytesRounds,
          base64Rounds: config.bytesBase64Rounds,
          settleMs: config.settleMs,
        },
        { env, timeoutMs: 600_000 },
      );
      const bytes = config.bytesMiB * MiB;
      value[c.name] = {
        framesMBps: round(mbPerS(bytes, median(got.frameMs)), 0),
        base64MBps: round(mbPerS(bytes, median(got.base64Ms)), 0),
        rssBeforeMb: round(got.rssBeforeMb),
        rssAfterMb: round(got.rssAfterMb),
      };
      detail[c.name] = { frameMs: got.frameMs.map((v) => round(v)), base64Ms: got.base64Ms.map((v) => round(v)) };
      log(`bytesRoundTrip ${c.name}: ${JSON.stringify(value[c.name])}`);
    }
    const floor = await runInChild(
      "bytes.mjs",
      "floorSamples",
      { python: contenders[0].python, sizeMiB: config.bytesMiB, rounds: config.bytesRounds },
      { env, timeoutMs: 600_000 },
    );
    value.floor = {
      framesMBps: round(mbPerS(config.bytesMiB * MiB, median(floor)), 0),
      base64MBps: null,
      rssBeforeMb: null,
      rssAfterMb: null,
    };
    detail.floor = { ms: floor.map((v) => round(v)) };
    log(`bytesRoundTrip floor: ${JSON.stringify(value.floor)}`);
    const pythonia = contenders.find((c) => c.name === "pythonia");
    if (pythonia) {
      const got = await runInChild(
        "bytes.mjs",
        "pythoniaBytesSamples",
        { sizeMiB: config.bytesPythoniaMiB, rounds: config.bytesPythoniaRounds },
        { env, timeoutMs: 600_000 },
      );
      value.pythonia = {
        framesMBps: null,
        base64MBps: null,
        jsonArrayMBps: round(mbPerS(config.bytesPythoniaMiB * MiB, median(got.ms)), 1),
        rssBeforeMb: null,
        rssAfterMb: null,
      };
      detail.pythonia = { ms: got.ms.map((v) => round(v)) };
      log(`bytesRoundTrip pythonia: ${JSON.stringify(value.pythonia)}`);
    }
    return {
      value,
      detail,
      method:
        `a fresh worker per transport with scripts/bench on its pythonPath; a ${config.bytesMiB} MiB random Buffer, ` +
        `${config.bytesRounds} round trips as frames and ${config.bytesBase64Rounds} as base64, median: worker.call("workloads:echo", [buffer]) (the bytes cross as ZeroMQ frames, ` +
        'back as a Buffer; checked equal once), then the same bytes as payload.toString("base64") in the JSON, decoded and ' +
        're-encoded by workloads:echo_base64, and Buffer.from(text, "base64") again. MB/s = payload bytes / 10^6 / seconds per ' +
        "round trip. rssBeforeMb: the agent's VmRSS after a warm-up call and a settle; rssAfterMb: after the frame round trips " +
        `and a settle of ${config.settleMs} ms. pythonia has no binary type: a Buffer reaches Python as its toJSON form ` +
        '({"type": "Buffer", "data": [numbers]}, a JSON array of one number per byte) and a bytes result is a proxy JSON ' +
        "cannot carry, so workloads:pythonia_bytes returns list(bytes) and the caller awaits its valueOf(): " +
        `${config.bytesPythoniaRounds} round trip(s) of a ${config.bytesPythoniaMiB} MiB Buffer (its rate is per byte; a larger one only takes longer). ` +
        "floor: the same payload through a raw unix socket (an 8-byte length, then the bytes) to the same Python, received " +
        "straight into a fresh bytes object and sent back, gathered by Node into a fresh Buffer: the kernel's copies and the " +
        "first touch of fresh memory, with no ZeroMQ, JSON or agent.",
    };
  },
};
