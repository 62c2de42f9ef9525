#!/usr/bin/env node
/**
 * Where a call's time goes, layer by layer, on both sides: `node scripts/profile-calls.mjs [--calls N]
 * [--python PATH] [--json]` (after `npm run build`). docs/performance-profile.md shows a run and how to read it.
 *
 * Controller: the V8 CPU profile (node:inspector) of N serial calls of math:floor(7), then of N pipelined ones
 * (windows of 256), each function's self time summed into the layer its file belongs to, in µs per call; and the
 * process's CPU per call without the profiler (process.cpuUsage: every thread, zeromq's I/O thread included).
 * Agent: cProfile on its control thread (where plain calls run: pyleash.inline) over the same loops, tottime per
 * layer in µs per call (cProfile inflates Python time: read the shares), the thread's CPU per call without it
 * (/proc schedstat), and each step of the per-request path timed on its own (scripts/profile/agent_profile.py).
 */
import { Session } from "node:inspector/promises";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { scriptArgs } from "./script-args.mjs";
import { openZeromqFloor } from "./bench/floor.mjs";

const PROFILE_DIR = fileURLToPath(new URL("./profile", import.meta.url));
const USAGE =
  "usage: node scripts/profile-calls.mjs [--calls N (default 20000)] [--python PATH] [--checkout DIR (whose dist/ to profile; default this one)] [--json]";
const WINDOW = 256;

const args = scriptArgs(
  process.argv.slice(2),
  { calls: { type: "string" }, python: { type: "string" }, checkout: { type: "string" }, json: { type: "boolean" } },
  USAGE,
);
const calls = Number(args.calls ?? 20_000);
if (!Number.isInteger(calls) || calls < 1000) throw new Error(`--calls: expected an integer ≥ 1000, got ${args.calls}`);

const DIST = args.checkout
  ? pathToFileURL(join(resolve(args.checkout), "dist", "index.js")).href
  : new URL("../dist/index.js", import.meta.url).href;
const { Worker } = await import(DIST);
const worker = await Worker.start({
  ...(args.python ? { python: args.python } : {}),
  pythonPath: [PROFILE_DIR],
  transport: "builtin",
  output: "ignore",
});
const call = () => worker.call("math:floor", [7]);
const serial = async (n) => {
  for (let i = 0; i < n; i++) await call();
};
const pipelined = async (n) => {
  for (let done = 0; done < n; done += WINDOW) {
    const batch = new Array(Math.min(WINDOW, n - done));
    for (let i = 0; i < batch.length; i++) batch[i] = call();
    await Promise.all(batch);
  }
};

const dir = mkdtempSync(join(tmpdir(), "pyleash-profile-"));
const out = {
  date: new Date().toISOString(),
  dist: DIST,
  loadavgStart: loadavg().map((v) => +v.toFixed(2)),
  python: worker.python,
  calls,
  runs: {},
};
try {
  for (const [name, loop] of Object.entries({ serial, pipelined })) {
    await loop(Math.min(calls, 5000)); // JIT, the agent's caches
    const plain = await measurePlain(loop);
    const node = await nodeProfile(loop);
    const agent = await agentProfile(loop, join(dir, `${name}.pstats`));
    out.runs[name] = { ...plain, node, agent };
  }
  // What a stoppable call pays over a plain one (the agent records it as a task): serial, no profiler.
  const signal = new AbortController().signal;
  out.stoppable = {};
  for (const [name, options] of Object.entries({ plain: undefined, timeoutMs: { timeoutMs: 60_000 }, signal: { signal } })) {
    const loop = async (n) => {
      for (let i = 0; i < n; i++) await worker.call("math:floor", [7], {}, options);
    };
    await loop(2000);
    out.stoppable[name] = await measurePlain(loop);
  }
  out.agentSteps = await worker.call("agent_profile:layers");
  // The same serial loop over floor-zeromq (scripts/bench/floor.mjs): zeromq.js and the built-in ZMTP echo, no more.
  const floor = await openZeromqFloor(worker.executable);
  try {
    const loop = async (n) => {
      for (let i = 0; i < n; i++) await floor.call();
    };
    await loop(5000);
    out.floorZeromq = { ...(await measurePlain(loop, floor.pid)), node: await nodeProfile(loop) };
  } finally {
    await floor.close();
  }
} finally {
  await worker.close();
  rmSync(dir, { recursive: true, force: true });
}
out.loadavgEnd = loadavg().map((v) => +v.toFixed(2));
process.stdout.write(args.json ? `${JSON.stringify(out, null, 2)}\n` : render(out));

/** CPU per call of both processes, and wall time per call, with no profiler attached. */
async function measurePlain(loop, pid = worker.pid) {
  const agentBefore = processCpuNs(pid);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await loop(calls);
  const wallUs = ((performance.now() - t0) * 1000) / calls;
  const used = process.cpuUsage(cpu);
  const agentUs = (processCpuNs(pid) - agentBefore) / 1000 / calls;
  return { wallUsPerCall: round(wallUs), nodeCpuUsPerCall: round((used.user + used.system) / calls), agentCpuUsPerCall: round(agentUs) };
}

/** The process's CPU time so far, threads that ended included (/proc/PID/stat utime + stime, in clock ticks of 10 ms). */
function processCpuNs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1e7;
}

/** The loop under V8's sampling profiler: self time per layer and the top functions, µs per call. */
async function nodeProfile(loop) {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 50 });
  await session.post("Profiler.start");
  await loop(calls);
  const { profile } = await session.post("Profiler.stop");
  session.disconnect();
  const self = new Map(); // node id → µs
  for (let i = 0; i < profile.samples.length; i++)
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const layers = {};
  const functions = new Map();
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (!us) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const layer = nodeLayer(functionName, url);
    layers[layer] = (layers[layer] ?? 0) + us;
    const key = `${functionName || "(anonymous)"} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ""}`;
    functions.set(key, { layer, us: (functions.get(key)?.us ?? 0) + us });
  }
  const perCall = (us) => round(us / calls);
  return {
    layers: Object.fromEntries(
      Object.entries(layers)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, perCall(v)]),
    ),
    top: [...functions]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 25)
      .map(([name, { layer, us }]) => ({ name, layer, us: perCall(us) })),
  };
}

function nodeLayer(name, url) {
  if (name === "(idle)") return "idle (waiting for the agent)";
  if (name === "(garbage collector)") return "garbage collector";
  if (name === "(program)") return "native: zeromq.js addon, libuv, V8 (program)";
  if (!url && (name === "stringify" || name === "parse")) return `JSON.${name}`;
  if (url.includes("/dist/worker/values.js")) return "value walk (toWire)";
  if (url.includes("/dist/worker/binary.js") || url.includes("/dist/worker/framing.js")) return "framing (encode/decode around JSON)";
  if (url.includes("/dist/worker/handshake.js")) return "framing (encode/decode around JSON)";
  if (url.includes("/dist/worker/pending.js")) return "request table + promise";
  if (url.includes("/dist/worker/channel.js")) return "channel (send queue, receive generator)";
  if (url.includes("/dist/worker/connection.js")) return "connection (request, receive loop)";
  if (url.includes("/dist/worker/worker.js") || url.includes("/dist/worker/options.js")) return "Worker.call (checks)";
  if (url.includes("/node_modules/zeromq/")) return "zeromq.js (its JS)";
  if (url.includes("profile-calls.mjs")) return "this script's loop";
  if (url.startsWith("node:")) return "node internals";
  return url ? "other JS" : `builtin: ${name || "(anonymous)"}`;
}

/** The loop with cProfile on the agent's control thread: tottime per layer (µs per call, profiled). */
async function agentProfile(loop, path) {
  const thread = await worker.call("agent_profile:start");
  await loop(calls);
  const result = await worker.call("agent_profile:stop", [path, calls]);
  const layers = {};
  for (const row of result.rows) layers[agentLayer(row)] = (layers[agentLayer(row)] ?? 0) + row.tottimeUs;
  return {
    thread: result.threads > 1 ? `${thread}, then ${result.threads - 1} more (the reading was handed over)` : thread,
    layers: Object.fromEntries(
      Object.entries(layers)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, round(v)]),
    ),
    top: result.rows.slice(0, 25).map((row) => ({
      name: `${row.name} ${row.file}:${row.line}`,
      layer: agentLayer(row),
      ncallsPerCall: round(row.ncalls / calls),
      us: round(row.tottimeUs),
    })),
  };
}

function agentLayer({ file, name }) {
  if (file.includes("transport/zmtp.py"))
    return name.includes("send") || name.includes("encode") ? "send (ZMTP framing + socket write)" : "recv (socket read + ZMTP parse)";
  if (file === "~" && /method 'recv|recv_into/.test(name)) return "recv (socket read + ZMTP parse)";
  if (file === "~" && /method 'send|sendall/.test(name)) return "send (ZMTP framing + socket write)";
  if (file === "~" && /select|poll/.test(name)) return "recv (socket read + ZMTP parse)";
  if (file.includes("pyleash/protocol.py") && (name === "decode" || name === "binary_count")) return "decode";
  if (file === "~" && /json|loads|decode|scanner/.test(name)) return "json (C) encode/decode";
  if (file.includes("json/")) return "json (C) encode/decode";
  if (file.includes("pyleash/protocol.py")) return "encode";
  if (file.includes("pyleash/contract.py")) return "contract check";
  if (file.includes("pyleash/control.py")) return "dispatch (control loop)";
  if (file.includes("pyleash/inline.py")) return "dispatch (inline run + watcher lock)";
  if (file.includes("pyleash/outbox.py")) return "send (outbox)";
  if (file.includes("pyleash/targets.py") || file.includes("pyleash/tasks/")) return "the call (resolve, stop_event, settle)";
  if (file === "~" && /floor/.test(name)) return "the call (math.floor)";
  if (file === "~" && /lock|acquire|release|__enter__|__exit__/.test(name)) return "dispatch (inline run + watcher lock)";
  return file === "~" ? `builtin: ${name}` : `other: ${file}`;
}

function shortUrl(url) {
  if (!url) return "";
  const at = url.lastIndexOf("/dist/");
  if (at >= 0) return url.slice(at + 1);
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + 14);
  return url.slice(url.lastIndexOf("/") + 1);
}

function round(v) {
  return Math.round(v * 100) / 100;
}

function render(o) {
  const lines = [
    `profile snapshot ${o.date} of ${o.dist}, Python ${o.python}, ${o.calls} calls per loop, load ${o.loadavgStart.join(" ")} → ${o.loadavgEnd.join(" ")}`,
  ];
  for (const [name, run] of Object.entries(o.runs)) {
    lines.push(
      "",
      `## ${name}: wall ${run.wallUsPerCall} µs/call, Node CPU ${run.nodeCpuUsPerCall} µs/call, agent CPU ${run.agentCpuUsPerCall} µs/call (no profiler)`,
    );
    lines.push("", "Node self time by layer (µs/call, V8 sampling profiler):");
    for (const [k, v] of Object.entries(run.node.layers)) lines.push(`  ${String(v).padStart(8)}  ${k}`);
    lines.push("", "Node top functions:");
    for (const f of run.node.top) lines.push(`  ${String(f.us).padStart(8)}  ${f.name}  [${f.layer}]`);
    lines.push("", `agent tottime by layer on ${run.agent.thread} (µs/call under cProfile, which inflates it: read the shares):`);
    for (const [k, v] of Object.entries(run.agent.layers)) lines.push(`  ${String(v).padStart(8)}  ${k}`);
    lines.push("", "agent top functions:");
    for (const f of run.agent.top) lines.push(`  ${String(f.us).padStart(8)}  ${f.name} ×${f.ncallsPerCall}  [${f.layer}]`);
  }
  const f = o.floorZeromq;
  lines.push(
    "",
    `## floor-zeromq serial: wall ${f.wallUsPerCall} µs/call, Node CPU ${f.nodeCpuUsPerCall} µs/call, echo CPU ${f.agentCpuUsPerCall} µs/call (no profiler)`,
  );
  lines.push("", "Node self time by layer (µs/call, V8 sampling profiler):");
  for (const [k, v] of Object.entries(f.node.layers)) lines.push(`  ${String(v).padStart(8)}  ${k}`);
  lines.push("", "stoppable calls, serial (no profiler): wall / Node CPU / agent CPU µs per call, and wall ÷ plain's:");
  for (const [k, v] of Object.entries(o.stoppable)) {
    lines.push(
      `  ${k.padEnd(10)} ${v.wallUsPerCall} / ${v.nodeCpuUsPerCall} / ${v.agentCpuUsPerCall}   ×${round(v.wallUsPerCall / o.stoppable.plain.wallUsPerCall)}`,
    );
  }
  lines.push("", "agent steps of one plain call, each timed alone (µs, best of 5):");
  for (const [k, v] of Object.entries(o.agentSteps)) lines.push(`  ${String(v).padStart(8)}  ${k}`);
  return `${lines.join("\n")}\n`;
}
