/**
 * callRttUs: serial round trips of math.floor(7); pipelinedCallsPerS: many calls with up to `window` in flight.
 * The loops run inside each contender's host (child.mjs); the sections below drive them round by round,
 * every contender once per round in a rotating order, so they all see the same noise.
 */
import { performance } from "node:perf_hooks";
import { overRounds, rotation, summarize } from "./stats.mjs";

// ---- host side ----------------------------------------------------------------------------------

/** `n` serial calls after `warm` untimed ones; the latency of each in µs. */
export async function rttSamples(contender, n, warm) {
  for (let i = 0; i < warm; i++) await contender.call();
  const samples = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await contender.call();
    samples[i] = Math.round((performance.now() - t0) * 10_000) / 10; // µs, 0.1 µs resolution
  }
  return samples;
}

/** `total` calls issued in windows of `window` (Promise.all per window); calls per second. */
export async function pipelinedRate(contender, total, window) {
  const t0 = performance.now();
  for (let done = 0; done < total; done += window) {
    const batch = new Array(Math.min(window, total - done));
    for (let i = 0; i < batch.length; i++) batch[i] = contender.call();
    await Promise.all(batch);
  }
  return total / ((performance.now() - t0) / 1000);
}

// ---- orchestrator side --------------------------------------------------------------------------

export const callRtt = {
  key: "callRttUs",
  title: "Serial call round trip (µs)",
  async run({ hosts, config, log }) {
    const samples = Object.fromEntries(hosts.map((h) => [h.name, []]));
    const roundP50 = Object.fromEntries(hosts.map((h) => [h.name, []]));
    for (let r = 0; r < config.rounds; r++) {
      for (const host of rotation(hosts, r)) {
        const got = await host.run("rtt", { n: config.rttCalls, warm: config.rttWarm });
        samples[host.name].push(...got);
        roundP50[host.name].push(summarize(got).p50);
      }
      log(`callRttUs round ${r + 1}/${config.rounds}: ${hosts.map((h) => `${h.name} ${roundP50[h.name].at(-1)}`).join(", ")}`);
    }
    const value = Object.fromEntries(hosts.map((h) => [h.name, summarize(samples[h.name])]));
    const detail = Object.fromEntries(hosts.map((h) => [h.name, { roundP50: overRounds(roundP50[h.name]) }]));
    return {
      value,
      detail,
      method:
        `each contender in its own node process, warmed up by ${config.hostWarm} serial calls; ${config.rounds} rounds × ` +
        `${config.rttCalls} serial calls of math.floor(7) per contender (after ${config.rttWarm} untimed), contenders ` +
        "interleaved in rotating order; p50/p99/min/max over all samples pooled. floor = raw " +
        "AF_UNIX length-framed echo between Node and the same Python (no JSON, no threads, no ZeroMQ); " +
        "floor-zeromq = the same bytes echoed between a zeromq.js ROUTER and the agent's built-in ZMTP client " +
        "on one Python thread (pyleash's transports without JSON, pool or request bookkeeping); floor-zeromq-agent = " +
        "that zeromq.js loop with pyleash's real agent (built-in transport) answering one pre-encoded call frame of " +
        "math:floor(7) (the controller's JavaScript left out: no encode, decode, request table or receive loop).",
    };
  },
};

export const pipelined = {
  key: "pipelinedCallsPerS",
  title: "Pipelined calls per second",
  async run({ hosts, config, log }) {
    const bridges = hosts.filter((h) => !h.name.startsWith("floor"));
    const rates = Object.fromEntries(bridges.map((h) => [h.name, []]));
    for (const host of bridges) await host.run("pipelined", { total: 2 * config.pipelinedCalls, window: config.window }); // untimed: JIT, pool
    for (let r = 0; r < config.rounds; r++) {
      for (const host of rotation(bridges, r)) {
        await host.run("rtt", { n: 0, warm: config.rttWarm }); // the same short settle as the serial test
        rates[host.name].push(await host.run("pipelined", { total: config.pipelinedCalls, window: config.window }));
      }
      log(
        `pipelinedCallsPerS round ${r + 1}/${config.rounds}: ${bridges.map((h) => `${h.name} ${Math.round(rates[h.name].at(-1))}`).join(", ")}`,
      );
    }
    const summary = Object.fromEntries(bridges.map((h) => [h.name, overRounds(rates[h.name], 0)]));
    return {
      value: Object.fromEntries(bridges.map((h) => [h.name, summary[h.name].median])),
      detail: summary,
      method:
        `after one untimed run of ${2 * config.pipelinedCalls} calls, ${config.pipelinedCalls} calls of math.floor(7) per round, issued in windows of ${config.window} ` +
        `(Promise.all per window) for every contender; median calls/s over ${config.rounds} interleaved rounds.`,
    };
  },
};
