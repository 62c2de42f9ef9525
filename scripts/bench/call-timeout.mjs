/**
 * callTimeoutStopMs: a call whose AbortSignal fires (as `timeoutMs` does) is stopped in Python, and its promise
 * rejects with the StopReport: from the abort to the rejection at the controller. Two cases: a pure-Python loop on
 * the thread lane (async-exc) and time.sleep(100) on the main lane (signal), each also under auto with a short grace.
 */
import { performance } from "node:perf_hooks";
import { runInChild } from "./procs.mjs";
import { stopFigures } from "./stats.mjs";
import { openWorker, sleep } from "./tasks.mjs";

export const CALL_TIMEOUT_CASES = {
  "loop thread-lane async-exc": { target: "pyleash.demo:spin", args: [], lane: "thread", stop: { strategy: "async-exc" } },
  "loop thread-lane auto": { target: "pyleash.demo:spin", args: [], lane: "thread", stop: { graceMs: 20 } },
  "sleep main-lane signal": { target: "time:sleep", args: [100], lane: "main", stop: { strategy: "signal" } },
  "sleep main-lane auto": { target: "time:sleep", args: [100], lane: "main", stop: { graceMs: 20 } },
};

// ---- child side -----------------------------------------------------------------------------------

/** `samples` aborted calls per case (interleaved); ms from abort() to the rejection, and the outcomes. */
export async function callTimeoutSamples({ python, samples }) {
  const worker = await openWorker(python);
  const out = Object.fromEntries(Object.keys(CALL_TIMEOUT_CASES).map((c) => [c, { ms: [], agentMs: [], outcomes: {} }]));
  try {
    for (let i = 0; i < samples; i++) {
      for (const [name, { target, args, lane, stop }] of Object.entries(CALL_TIMEOUT_CASES)) {
        const o = out[name];
        const controller = new AbortController();
        const call = worker.call(target, args, {}, { signal: controller.signal, lane, stop: { deadlineMs: 3_000, ...stop } });
        await sleep(20); // the call is running (a thread or the main lane picks it up within a millisecond or two)
        const t0 = performance.now();
        controller.abort();
        const error = await call.catch((e) => e);
        const ms = performance.now() - t0;
        const outcome = error?.stopReport?.outcome ?? error?.name ?? "resolved";
        o.outcomes[outcome] = (o.outcomes[outcome] ?? 0) + 1;
        if (outcome !== "stopped") {
          await worker.restart(); // a call that could not be stopped keeps its thread: start over clean
          continue;
        }
        o.ms.push(ms);
        if (typeof error.stopReport.latencyMs === "number") o.agentMs.push(error.stopReport.latencyMs);
      }
    }
  } finally {
    await worker.close();
  }
  return out;
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const callTimeoutStop = {
  key: "callTimeoutStopMs",
  title: "Stopping an aborted or timed-out call (ms, abort to rejection)",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const got = await runInChild(
      "call-timeout.mjs",
      "callTimeoutSamples",
      { python, samples: config.callTimeoutSamples },
      { env, timeoutMs: 600_000 },
    );
    const { value, detail } = stopFigures(got);
    log(
      `callTimeoutStopMs: ${Object.entries(value)
        .map(([k, v]) => `${k} ${v?.p50 ?? "—"}`)
        .join(", ")}`,
    );
    return {
      value,
      detail,
      method:
        `one worker; ${config.callTimeoutSamples} samples per case, interleaved: worker.call(target, args, {}, {signal, lane, stop}), ` +
        "20 ms, then abort() (what timeoutMs does when it fires) and time to the rejection, an AbortError whose stopReport says " +
        "stopped: pyleash.demo:spin on the thread lane (async-exc; auto = flag for 20 ms, then async-exc) and time.sleep(100) on " +
        "the main lane (signal; auto = flag for 20 ms, then signal). Only stopped outcomes are timed; detail has the outcomes.",
    };
  },
};
