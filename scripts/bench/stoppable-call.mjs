/**
 * stoppableCallCost: what a call that can be stopped (`timeoutMs`, `signal`) costs beside a plain one: serial
 * round trips of math.floor(7) in each mode, interleaved, on one worker; ratio = the mode's p50 ÷ the plain p50
 * of the same round (median over rounds), and the same for the CPU both processes spend per call.
 * With --baseline, the baseline checkout's build is measured the same way in the same child, interleaved.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { DIST } from "./contenders.mjs";
import { runInChild } from "./procs.mjs";
import { median, round, rotation, summarize } from "./stats.mjs";

const NEVER = new AbortController().signal; // a signal that never aborts: the call is stoppable, no stop comes
export const MODES = {
  plain: undefined,
  timeoutMs: { timeoutMs: 60_000 },
  signal: { signal: NEVER },
};

// ---- child side -----------------------------------------------------------------------------------

/** The process's CPU time so far in µs, threads that ended included (/proc/PID/stat utime + stime, 10 ms ticks). */
function processCpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1e4;
}

/** `n` serial calls in one mode: each call's µs, and µs of CPU per call on each side. */
async function serial(worker, options, n) {
  const samples = new Array(n);
  const agent0 = processCpuUs(worker.pid);
  const node0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await worker.call("math:floor", [7], {}, options);
    samples[i] = (performance.now() - t0) * 1000;
  }
  const node = process.cpuUsage(node0);
  return { samples, nodeCpuUs: (node.user + node.system) / n, agentCpuUs: (processCpuUs(worker.pid) - agent0) / n };
}

/** `rounds` rounds of `calls` serial calls per mode (and per build), in rotating order. */
export async function stoppableSamples({ python, rounds, calls, warm, baseline }) {
  const builds = { "pyleash-builtin": DIST, ...(baseline ? { baseline } : {}) };
  const workers = {};
  try {
    for (const [name, dist] of Object.entries(builds)) {
      const { Worker } = await import(dist);
      workers[name] = await Worker.start({ python, output: "ignore", transport: "builtin" });
    }
    const runs = [];
    for (const name of Object.keys(workers)) for (const mode of Object.keys(MODES)) runs.push([name, mode]);
    const out = Object.fromEntries(
      Object.keys(workers).map((w) => [
        w,
        Object.fromEntries(Object.keys(MODES).map((m) => [m, { samples: [], p50: [], nodeCpuUs: [], agentCpuUs: [] }])),
      ]),
    );
    for (const [name, mode] of runs) await serial(workers[name], MODES[mode], warm); // JIT, the agent's caches
    for (let r = 0; r < rounds; r++) {
      for (const [name, mode] of rotation(runs, r)) {
        const got = await serial(workers[name], MODES[mode], calls);
        const o = out[name][mode];
        o.samples.push(...got.samples);
        o.p50.push(summarize(got.samples).p50);
        o.nodeCpuUs.push(got.nodeCpuUs);
        o.agentCpuUs.push(got.agentCpuUs);
      }
    }
    return out;
  } finally {
    await Promise.all(Object.values(workers).map((w) => w.close()));
  }
}

// ---- orchestrator side ----------------------------------------------------------------------------

/** Per round: the mode's figure ÷ the plain one's; the median over rounds. */
const ratio = (mode, plain) => round(median(mode.map((v, r) => v / plain[r])), 3);

export const stoppableCall = {
  key: "stoppableCallCost",
  title: "Stoppable call (timeoutMs, signal) beside a plain call: serial µs and ratio",
  async run({ contenders, config, env, log }) {
    const python = contenders.find((c) => c.name === "pyleash-builtin").python;
    const baseline = contenders.some((c) => c.name === "baseline") ? process.env.PYLEASH_BENCH_BASELINE : undefined;
    const args = { python, rounds: config.rounds, calls: config.rttCalls, warm: 10 * config.rttWarm, baseline };
    const got = await runInChild("stoppable-call.mjs", "stoppableSamples", args, { env, timeoutMs: 600_000 });
    const value = {};
    const detail = {};
    for (const [name, modes] of Object.entries(got)) {
      const plain = modes.plain;
      value[name] = {};
      detail[name] = {};
      for (const [mode, o] of Object.entries(modes)) {
        const cpu = o.nodeCpuUs.map((v, r) => v + o.agentCpuUs[r]);
        const plainCpu = plain.nodeCpuUs.map((v, r) => v + plain.agentCpuUs[r]);
        value[name][mode] = {
          p50: summarize(o.samples).p50,
          cpuUs: round(median(cpu), 1),
          ...(mode === "plain" ? {} : { ratio: ratio(o.p50, plain.p50), cpuRatio: ratio(cpu, plainCpu) }),
        };
        detail[name][mode] = {
          roundP50: o.p50.map((v) => round(v)),
          nodeCpuUs: o.nodeCpuUs.map((v) => round(v)),
          agentCpuUs: o.agentCpuUs.map((v) => round(v)),
        };
      }
    }
    log(
      `stoppableCallCost: ${Object.entries(value)
        .map(
          ([n, m]) =>
            `${n} ${Object.entries(m)
              .map(([k, v]) => `${k} ${v.p50}${v.ratio ? ` (${v.ratio}×, cpu ${v.cpuRatio}×)` : ""}`)
              .join(", ")}`,
        )
        .join("; ")}`,
    );
    return {
      value,
      detail,
      method:
        `one worker (built-in transport) per build, warmed by ${10 * config.rttWarm} calls per mode; ${config.rounds} rounds × ` +
        `${config.rttCalls} serial calls of math.floor(7) per mode, modes (and builds, with --baseline) in rotating order: ` +
        "plain = worker.call with no options; timeoutMs = { timeoutMs: 60000 } (never fires); signal = { signal } of an " +
        "AbortController never aborted. p50 over all samples pooled; ratio = the mode's p50 ÷ plain's p50 of the same " +
        "round, median over rounds; cpuUs = Node's CPU (process.cpuUsage, every thread) + the agent's (/proc/PID/stat, " +
        "10 ms ticks) per call, median over rounds; cpuRatio the same per round.",
    };
  },
};
