/**
 * callCtxSwitches: what the OS sees of one serial round trip: the voluntary (the thread blocked: a wait for a
 * socket, a lock, the GIL) and nonvoluntary (the scheduler took the core away) context switches of each
 * process, per call, summed over its threads (/proc/PID/task/TID/status), with the threads that moved listed;
 * and the CPU time each process spent per call (/proc/PID/task/TID/schedstat, ns).
 * The counts are read inside the contender's host just before and after its serial calls, so the harness's
 * own IPC is not counted.
 */
import { readdirSync, readFileSync } from "node:fs";
import { rotation } from "./stats.mjs";

/** tid → {name, voluntary, nonvoluntary, cpuNs} for every thread of `pid` now (threads that end meanwhile drop out). */
export function threadSwitches(pid) {
  const out = new Map();
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? "?";
      const cpuNs = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]); // time on a CPU
      out.set(Number(tid), { name, voluntary: field("voluntary_ctxt_switches"), nonvoluntary: field("nonvoluntary_ctxt_switches"), cpuNs });
    } catch {}
  }
  return out;
}

/** Per-call switches of one process between two snapshots; threads labelled by `names` (tid → name) when known. */
function perCall(pid, before, after, calls, names) {
  const total = { voluntary: 0, nonvoluntary: 0, cpuNs: 0 };
  const threads = {};
  for (const [tid, now] of after) {
    const was = before.get(tid) ?? { voluntary: 0, nonvoluntary: 0, cpuNs: 0 }; // a thread born meanwhile counts from 0
    const v = now.voluntary - was.voluntary;
    const nv = now.nonvoluntary - was.nonvoluntary;
    const cpu = now.cpuNs - was.cpuNs;
    total.voluntary += v;
    total.nonvoluntary += nv;
    total.cpuNs += cpu;
    if ((v + nv) / calls < 0.01) continue; // threads that slept through the calls
    const label = `${names?.get(tid) ?? now.name}${tid === pid ? " (main)" : ""} #${tid}`;
    threads[label] = { voluntary: round2(v / calls), nonvoluntary: round2(nv / calls), cpuUs: round2(cpu / calls / 1000) };
  }
  return {
    voluntary: round2(total.voluntary / calls),
    nonvoluntary: round2(total.nonvoluntary / calls),
    cpuUs: round2(total.cpuNs / calls / 1000),
    threads,
  };
}

const round2 = (v) => Math.round(v * 100) / 100;

// ---- host side ----------------------------------------------------------------------------------

/** `n` serial calls of the contender, counting the switches of this Node process and of its Python process. */
export async function ctxSwitchSamples(contender, n) {
  const names = contender.threadNames ? await contender.threadNames() : undefined;
  const node = [threadSwitches(process.pid)];
  const agent = [threadSwitches(contender.agentPid)];
  for (let i = 0; i < n; i++) await contender.call();
  agent.push(threadSwitches(contender.agentPid));
  node.push(threadSwitches(process.pid));
  return {
    node: perCall(process.pid, node[0], node[1], n),
    python: perCall(contender.agentPid, agent[0], agent[1], n, names),
  };
}

// ---- orchestrator side --------------------------------------------------------------------------

export const ctxSwitches = {
  key: "callCtxSwitches",
  title: "Context switches per serial round trip",
  async run({ hosts, config, log }) {
    const runs = Object.fromEntries(hosts.map((h) => [h.name, []]));
    for (let r = 0; r < config.ctxRounds; r++) {
      for (const host of rotation(hosts, r)) runs[host.name].push(await host.run("ctx", { n: config.rttCalls }));
    }
    // The round with the median total is kept whole (its threads with it), so the figures of one row agree.
    const value = {};
    const detail = {};
    for (const host of hosts) {
      const sorted = [...runs[host.name]].sort((a, b) => sum(a) - sum(b));
      const mid = sorted[Math.floor(sorted.length / 2)];
      value[host.name] = {
        node: { voluntary: mid.node.voluntary, nonvoluntary: mid.node.nonvoluntary, cpuUs: mid.node.cpuUs },
        python: { voluntary: mid.python.voluntary, nonvoluntary: mid.python.nonvoluntary, cpuUs: mid.python.cpuUs },
      };
      detail[host.name] = {
        nodeThreads: mid.node.threads,
        pythonThreads: mid.python.threads,
        roundTotals: runs[host.name].map((r) => round2(sum(r))),
      };
    }
    log(
      `callCtxSwitches: ${hosts.map((h) => `${h.name} ${round2(sum({ node: value[h.name].node, python: value[h.name].python }))}`).join(", ")}`,
    );
    return {
      value,
      detail,
      method:
        `in each contender's host, ${config.ctxRounds} rounds (interleaved) of ${config.rttCalls} serial calls of math.floor(7); ` +
        "voluntary and nonvoluntary context switches from /proc/PID/task/*/status of the Node process (the controller) and of " +
        "the Python process, summed over threads, and their CPU time (/proc/PID/task/*/schedstat), read just before and after the calls, divided by the calls; the round with " +
        "the median total is reported (detail lists its threads, pyleash's by Python thread name, and every round's total).",
    };
  },
};

const sum = (r) => r.node.voluntary + r.node.nonvoluntary + r.python.voluntary + r.python.nonvoluntary;
