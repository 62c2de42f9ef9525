/**
 * poolBeforeAfter: the agent's call pool before the LIFO rewrite (scripts/bench/pool_before.py, the old
 * py/pyleash/pool.py) and after it (py/pyleash/pool.py), swapped in one agent (workloads.use_pool), rounds
 * interleaved: serial RTT on a fresh pool, pipelined calls/s, then serial RTT again on the pool the burst left.
 */
import { rttSamples, pipelinedRate } from "./calls.mjs";
import { runInChild } from "./procs.mjs";
import { overRounds, summarize } from "./stats.mjs";
import { openWorker } from "./tasks.mjs";

export const POOLS = ["before", "after"];

// ---- child side -----------------------------------------------------------------------------------

export async function poolRounds({ python, rounds, rttCalls, warm, pipelinedCalls, window }) {
  const worker = await openWorker(python);
  const contender = { call: () => worker.call("math:floor", [7]) };
  const out = Object.fromEntries(POOLS.map((p) => [p, { freshRttUs: [], rate: [], afterBurstRttUs: [], threadsAfterBurst: [] }]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const pool of r % 2 ? [...POOLS].reverse() : POOLS) {
        await worker.call("workloads:use_pool", [pool]);
        const o = out[pool];
        o.freshRttUs.push(...(await rttSamples(contender, rttCalls, warm)));
        o.rate.push(await pipelinedRate(contender, pipelinedCalls, window));
        o.threadsAfterBurst.push(await worker.call("workloads:pool_threads"));
        o.afterBurstRttUs.push(...(await rttSamples(contender, rttCalls, warm)));
      }
    }
  } finally {
    await worker.close();
  }
  return out;
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const poolBeforeAfter = {
  key: "poolBeforeAfter",
  title: "Call pool before and after the LIFO rewrite",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const got = await runInChild(
      "pool.mjs", "poolRounds",
      { python, rounds: config.poolRounds, rttCalls: config.poolRttCalls, warm: config.rttWarm, pipelinedCalls: config.pipelinedCalls, window: config.window },
      { env, timeoutMs: 300_000 },
    );
    const value = {};
    for (const pool of POOLS) {
      const g = got[pool];
      const fresh = summarize(g.freshRttUs);
      const after = summarize(g.afterBurstRttUs);
      value[pool] = {
        serialRttUs: { p50: fresh.p50, p99: fresh.p99 },
        pipelinedCallsPerS: overRounds(g.rate, 0).median,
        serialRttAfterBurstUs: { p50: after.p50, p99: after.p99 },
        threadsAfterBurst: Math.max(...g.threadsAfterBurst),
      };
    }
    log(`poolBeforeAfter: ${POOLS.map((p) => `${p} rtt ${value[p].serialRttUs.p50} µs, ${value[p].pipelinedCallsPerS} calls/s, ${value[p].threadsAfterBurst} threads`).join("; ")}`);
    return {
      value,
      method:
        `one pyleash-builtin worker; ${config.poolRounds} rounds, both pools per round (order alternating), each swapped in fresh ` +
        `(workloads.use_pool): ${config.poolRttCalls} serial math.floor(7) calls, ${config.pipelinedCalls} pipelined in windows of ` +
        `${config.window}, the pool's thread count, then ${config.poolRttCalls} serial calls again. RTT pooled over rounds; calls/s median.`,
    };
  },
};
