/** The performance goals, judged from the measured figures (reported, never asserted). */
import { round } from "./stats.mjs";

const pyleashKeys = (object) => Object.keys(object ?? {}).filter((k) => k.startsWith("pyleash-"));

/** The pyleash contender with the best (lowest, or highest when `higher`) figure, or undefined. */
function best(object, pick = (v) => v, higher = false) {
  let out;
  for (const key of pyleashKeys(object)) {
    const v = pick(object[key]);
    if (typeof v !== "number") continue;
    if (out === undefined || (higher ? v > out.value : v < out.value)) out = { key, value: v };
  }
  return out;
}

function judge(goal, actual, target, holds, contender) {
  const known = Number.isFinite(actual) && Number.isFinite(target); // a missing figure (undefined + 20 is NaN) judges nothing
  return {
    goal,
    contender: contender ?? null,
    actual: known ? actual : null,
    target: known ? round(target, 2) : null,
    met: known ? holds(actual, target) : null,
  };
}

export function evaluateGoals(report) {
  const rtt = report.callRttUs ?? {};
  const rttBest = best(rtt, (s) => s?.p50);
  const ctx = report.callCtxSwitches ?? {};
  // The built-in transport: the one `auto` picks for local agents, and the ZMTP client both zeromq floors run.
  const builtinCpu = ctx["pyleash-builtin"];
  const rate = report.pipelinedCallsPerS ?? {};
  const rateBest = best(rate, (v) => v, true);
  const cold = report.coldStartMs ?? {};
  const coldBest = best(cold);
  const idle = report.memoryMb?.idleAgent ?? {};
  const pythoniaRss = report.memoryMb?.pythonia;
  const idleKeys = pyleashKeys(idle).filter((k) => typeof idle[k] === "number");
  const idleWorst = idleKeys.length ? idleKeys.reduce((a, b) => (idle[b] > idle[a] ? b : a)) : undefined;
  const le = (a, t) => a <= t;
  const stop8 = report.stopLatencyMs?.["async-exc"]?.["8"];
  const floor8 = report.stopLatencyMs?.["async-exc floor"]?.["8"];
  const overhead = report.killableOverhead ?? {};
  const stoppable = report.stoppableCallCost?.["pyleash-builtin"] ?? {};
  const worstOf = (pick) => {
    const got = ["timeoutMs", "signal"].map((m) => pick(stoppable[m])).filter((v) => typeof v === "number");
    return got.length ? Math.max(...got) : undefined;
  };
  const blocked = report.blockedStop ?? {};
  const bytes = report.bytesRoundTrip ?? {};
  const bytesBest = best(bytes, (v) => v?.framesMBps, true);
  const bytesWorstRss = best(bytes, (v) => (v?.rssBeforeMb ? v.rssAfterMb / v.rssBeforeMb : undefined), true);
  const speedup = (v) => (v?.base64MBps ? v.framesMBps / v.base64MBps : undefined);
  const bytesSpeedup = best(bytes, speedup, true);
  return {
    rttVsPythonia: judge(
      "callRttUs p50 of the best pyleash transport ≤ 0.4 × pythonia's",
      rttBest?.value,
      rtt.pythonia?.p50 * 0.4,
      le,
      rttBest?.key,
    ),
    rttVsFloorZeromq: judge(
      "callRttUs p50 of the best pyleash transport ≤ 1.2 × floor-zeromq's",
      rttBest?.value,
      rtt["floor-zeromq"]?.p50 * 1.2,
      le,
      rttBest?.key,
    ),
    rttVsPythoniaP50: judge(
      "callRttUs p50 of the best pyleash transport ≤ pythonia's p50 (issue 21)",
      rttBest?.value,
      rtt.pythonia?.p50,
      le,
      rttBest?.key,
    ),
    rttFloorVsPythonia: judge(
      "the floor under that goal: floor-zeromq's callRttUs p50 (zeromq.js and a ZMTP echo, nothing of pyleash) ≤ pythonia's p50",
      rtt["floor-zeromq"]?.p50,
      rtt.pythonia?.p50,
      le,
      "floor-zeromq",
    ),
    rttAgentFloorVsPythonia: judge(
      "and with pyleash's agent behind that zeromq.js loop (floor-zeromq-agent: no controller code) ≤ pythonia's p50",
      rtt["floor-zeromq-agent"]?.p50,
      rtt.pythonia?.p50,
      le,
      "floor-zeromq-agent",
    ),
    nodeCpuVsFloorZeromq: judge(
      "callCtxSwitches: Node CPU per serial call ≤ floor-zeromq's + 20 µs (issue 21)",
      builtinCpu?.node?.cpuUs,
      ctx["floor-zeromq"]?.node?.cpuUs + 20,
      le,
      "pyleash-builtin",
    ),
    nodeCpuVsAgentFloor: judge(
      "callCtxSwitches: the same ≤ floor-zeromq-agent's + 20 µs (the same agent answering a bare zeromq.js loop: what the controller's code adds)",
      builtinCpu?.node?.cpuUs,
      ctx["floor-zeromq-agent"]?.node?.cpuUs + 20,
      le,
      "pyleash-builtin",
    ),
    agentCpuVsFloorZeromq: judge(
      "callCtxSwitches: agent CPU per serial call ≤ floor-zeromq's echo + 20 µs (issue 21)",
      builtinCpu?.python?.cpuUs,
      ctx["floor-zeromq"]?.python?.cpuUs + 20,
      le,
      "pyleash-builtin",
    ),
    pipelinedVsPythonia15: judge(
      "pipelinedCallsPerS of the best pyleash transport ≥ 1.5 × pythonia's",
      rateBest?.value,
      rate.pythonia * 1.5,
      (a, t) => a >= t,
      rateBest?.key,
    ),
    rttVsFloor: judge(
      "callRttUs p50 of the best pyleash transport ≤ 1.5 × the floor's",
      rttBest?.value,
      rtt.floor?.p50 * 1.5,
      le,
      rttBest?.key,
    ),
    pipelinedVsPythonia: judge(
      "pipelinedCallsPerS of the best pyleash transport ≥ 6 × pythonia's",
      rateBest?.value,
      rate.pythonia * 6,
      (a, t) => a >= t,
      rateBest?.key,
    ),
    poolPipelinedVsPythonia: judge(
      `pool.pipelinedCallsPerS of a pool of ${report.pool?.size ?? "?"} agents ≥ 2 × pythonia's, measured beside it`,
      report.pool?.poolVsPythonia,
      2,
      (a, t) => a >= t,
      "pool",
    ),
    poolCpuBound: judge(
      `pool.cpuBoundCallsPerS of a pool of ${report.pool?.size ?? "?"} agents ≥ 1.8 × one agent's (20 ms pure-Python calls)`,
      report.pool?.poolVsWorkerCpuBound,
      1.8,
      (a, t) => a >= t,
      "pool",
    ),
    mapVsPythonia: judge(
      `pool.mapItemsPerS of math.floor (worker.map or pool.map, the better) ≥ 10 × pythonia's pipelined calls/s, measured beside it`,
      report.pool?.mapVsPythonia,
      10,
      (a, t) => a >= t,
      "map",
    ),
    poolMapCpuBound: judge(
      `pool.cpuBoundMapItemsPerS: pool.map of 20 ms pure-Python items ≥ 1.8 × worker.map's (a pool of ${report.pool?.size ?? "?"} agents)`,
      report.pool?.poolMapVsWorkerMapCpuBound,
      1.8,
      (a, t) => a >= t,
      "pool",
    ),
    coldStart: judge("coldStartMs of the best pyleash transport ≤ 100 ms", coldBest?.value, 100, le, coldBest?.key),
    stopAsyncExcP50: judge("stopLatencyMs async-exc with 8 busy threads: p50 ≤ 1 ms", stop8?.p50, 1, le),
    stopAsyncExcP99: judge("stopLatencyMs async-exc with 8 busy threads: p99 ≤ 6 ms", stop8?.p99, 6, le),
    stopVsFloorP50: judge(
      "stopLatencyMs async-exc with 8 busy threads: p50 ≤ 1.5 × the in-process floor's",
      stop8?.p50,
      floor8?.p50 * 1.5,
      le,
    ),
    stopVsFloorP99: judge(
      "stopLatencyMs async-exc with 8 busy threads: p99 ≤ 1.5 × the in-process floor's",
      stop8?.p99,
      floor8?.p99 * 1.5,
      le,
    ),
    stoppableCallRtt: judge(
      "stoppableCallCost: a stoppable call's (timeoutMs, signal; the worse) p50 ≤ 1.2 × a plain call's",
      worstOf((v) => v?.ratio),
      1.2,
      le,
      "pyleash-builtin",
    ),
    stoppableCallCpu: judge(
      "stoppableCallCost: a stoppable call's (timeoutMs, signal; the worse) Node + agent CPU ≤ 1.2 × a plain call's",
      worstOf((v) => v?.cpuRatio),
      1.2,
      le,
      "pyleash-builtin",
    ),
    overheadAsyncExc: judge("killableOverhead async-exc (its lazy line hook, before a stop) ≤ 1.02", overhead["async-exc"], 1.02, le),
    overheadMonitor: judge("killableOverhead monitor ≤ 1.02", overhead.monitor, 1.02, le),
    overheadAfterStop: judge(
      "killableOverhead after-stop (what a stop's lazy hook leaves behind) ≤ 1.02",
      overhead["after-stop"],
      1.02,
      le,
    ),
    traceVsArticle: judge(
      "killableOverhead trace (trace: true) ≤ article 003's thread_with_trace on the same loop",
      overhead.trace,
      overhead["article-trace"],
      le,
    ),
    swallowStopped: judge(
      "swallowStopMs async-exc: p99 < the 100 ms re-delivery grace (the hook, not a re-delivery, ends the loop)",
      report.swallowStopMs?.["async-exc"]?.p99,
      100,
      (a, t) => a < t,
    ),
    blockedSignal: judge("blockedStop signal ≤ 2 ms", blocked.signal, 2, le),
    blockedTerminate: judge("blockedStop terminate ≤ 50 ms", blocked.terminate, 50, le),
    frozenReportTask: judge(
      "frozenReport: a frozen agent's task stop reports ≤ 500 ms past deadlineMs 1000 (docs/stop-strategies.md's bound)",
      report.frozenReport?.["1000"]?.task,
      500,
      le,
    ),
    frozenReportCall: judge(
      "frozenReport: a frozen call's stop reports ≤ 500 ms past deadlineMs 1000",
      report.frozenReport?.["1000"]?.call,
      500,
      le,
    ),
    tasksRss: judge("agent RSS growth with 1 000 sleeping thread tasks ≤ 120 MB", report.memoryMb?.agentWith1000TasksMb, 120, le),
    controllerHeapFlat: judge(
      "controller heap flat over the heap run's calls (growth ≤ 1 MB)",
      report.memoryMb?.controllerHeapGrowthMb,
      1,
      le,
    ),
    bytesFrames: judge(
      "bytesRoundTrip: a Buffer through a call and back as frames ≥ 1000 MB/s",
      bytesBest?.value,
      1000,
      (a, t) => a >= t,
      bytesBest?.key,
    ),
    bytesVsFloor: judge(
      "bytesRoundTrip: frames ≥ 0.8 × the floor (the same bytes through a raw unix socket to the same Python and back)",
      bytesBest?.value,
      bytes.floor?.framesMBps * 0.8,
      (a, t) => a >= t,
      bytesBest?.key,
    ),
    bytesVsBase64: judge(
      "bytesRoundTrip: frames ≥ 5 × the same bytes as base64 in the JSON",
      bytesSpeedup?.value,
      5,
      (a, t) => a >= t,
      bytesSpeedup?.key,
    ),
    bytesRssBack: judge(
      "bytesRoundTrip: the agent's idle RSS after the transfers ≤ 1.10 × before (no buffer kept), worst transport",
      bytesWorstRss?.value,
      1.1,
      le,
      bytesWorstRss?.key,
    ),
    idleAgentRss: judge(
      "idle agent RSS of every pyleash transport ≤ pythonia's Python process",
      idleWorst === undefined ? undefined : idle[idleWorst],
      pythoniaRss,
      le,
      idleWorst,
    ),
  };
}
