#!/usr/bin/env node
/**
 * pyleash benchmark: `node scripts/bench.mjs [--quick] [--json] [--out DIR]` (after `npx tsc -p .`), or
 * `npm run -s bench -- [--quick] [--json]` (-s keeps npm's own banner off stdout).
 * Compares pyleash (each transport) with pythonia and with the physical floor of a round trip, writes
 * report/bench.json and report/BENCH.md, and prints a summary (with --json: exactly bench.json) to stdout;
 * progress goes to stderr. Every figure is measured on this run; goals are judged from them.
 * Each measurement is a section module under scripts/bench/ ({ key, title, run(ctx) }); see SECTIONS.
 * The interpreter is env PYLEASH_PYTHON, else python3 (resolved to its real path); pythonia gets the same one.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { DIST } from "./bench/contenders.mjs";
import { openHost } from "./bench/procs.mjs";
import { renderMarkdown, renderText } from "./bench/report.mjs";
import { scriptArgs } from "./script-args.mjs";

const CONFIGS = {
  quick: {
    rounds: 5,
    ctxRounds: 3,
    rttCalls: 2000,
    rttWarm: 100,
    hostWarm: 5000,
    pipelinedCalls: 2000,
    window: 256,
    coldRounds: 5,
    memoryRounds: 3,
    settleMs: 300,
    heapCalls: 20_000,
    heapWarm: 2000,
    stopSamples: 20,
    stopSamplesBusy: 15,
    swallowSamples: 20,
    callTimeoutSamples: 15,
    stopSamplesSpawn: 5,
    overheadRounds: 3,
    overheadSeconds: 0.25,
    blockedSamples: 5,
    blockedSamplesDeadline: 2,
    frozenSamples: 1,
    frozenDeadlines: [300, 1_000],
    massStopTasks: 30,
    massStopRounds: 1,
    switchRounds: 1,
    switchSeconds: 0.25,
    switchStops: 8,
    poolCpuCalls: 8,
    poolCpuMs: 20,
    mapItems: 100_000,
    bytesMiB: 64,
    bytesRounds: 3,
    bytesBase64Rounds: 1,
    bytesPythoniaMiB: 1,
    bytesPythoniaRounds: 1,
    remoteRttCalls: 500,
    remoteLostSamples: 2,
  },
  full: {
    rounds: 15,
    ctxRounds: 5,
    rttCalls: 10_000,
    rttWarm: 200,
    hostWarm: 5000,
    pipelinedCalls: 10_000,
    window: 256,
    coldRounds: 15,
    memoryRounds: 7,
    settleMs: 500,
    heapCalls: 100_000,
    heapWarm: 5000,
    stopSamples: 200,
    stopSamplesBusy: 150,
    swallowSamples: 100,
    callTimeoutSamples: 100,
    stopSamplesSpawn: 40,
    overheadRounds: 9,
    overheadSeconds: 0.5,
    blockedSamples: 20,
    blockedSamplesDeadline: 5,
    frozenSamples: 3,
    frozenDeadlines: [300, 1_000, 3_000],
    massStopTasks: 100,
    massStopRounds: 3,
    switchRounds: 3,
    switchSeconds: 0.5,
    switchStops: 60,
    poolCpuCalls: 40,
    poolCpuMs: 20,
    mapItems: 100_000,
    bytesMiB: 64,
    bytesRounds: 9,
    bytesBase64Rounds: 5,
    bytesPythoniaMiB: 4,
    bytesPythoniaRounds: 2,
    remoteRttCalls: 5000,
    remoteLostSamples: 5,
  },
};

const ROOT = new URL("..", import.meta.url).pathname;
const USAGE =
  "usage: node scripts/bench.mjs [--quick] [--json] [--out DIR (default: report/)] [--only KEY,...] [--baseline CHECKOUT] [--help]";
const { json, quick, out: reportDir, only, baseline } = readArgs(process.argv.slice(2));
const config = CONFIGS[quick ? "quick" : "full"];
const log = (text) => process.stderr.write(`[bench] ${text}\n`);
process.once("SIGINT", () => process.exit(130)); // run the exit hooks that kill our children
process.once("SIGTERM", () => process.exit(143));

const t0 = performance.now();
if (!existsSync(new URL(DIST))) {
  process.stderr.write("dist/ is missing: build first (npx tsc -p .)\n");
  process.exit(2);
}
const { probePython } = await import(DIST);
// Loaded once dist/ is known to exist: the sections' statistics come from dist/util/stats.js.
const { pipelined, callRtt } = await import("./bench/calls.mjs");
const { ctxSwitches } = await import("./bench/ctx-switches.mjs");
const { stoppableCall } = await import("./bench/stoppable-call.mjs");
const { controllerJs } = await import("./bench/controller-js.mjs");
const { coldStart } = await import("./bench/coldstart.mjs");
const { evaluateGoals } = await import("./bench/goals.mjs");
const { memory } = await import("./bench/memory.mjs");
const { stopLatency } = await import("./bench/stop-latency.mjs");
const { killableOverhead } = await import("./bench/killable-overhead.mjs");
const { swallowStop } = await import("./bench/swallow-stop.mjs");
const { callTimeoutStop } = await import("./bench/call-timeout.mjs");
const { timedOutCall } = await import("./bench/timed-out-call.mjs");
const { blockedStop } = await import("./bench/blocked-stop.mjs");
const { frozenReport } = await import("./bench/frozen-report.mjs");
const { massStop } = await import("./bench/mass-stop.mjs");
const { switchInterval } = await import("./bench/switch-interval.mjs");
const { poolBench } = await import("./bench/pool.mjs");
const { bytesRoundTrip } = await import("./bench/bytes.mjs");
const { remoteLink } = await import("./bench/remote-link.mjs");
const { rayBench } = await import("./bench/ray.mjs");
/** In report order. A new measurement is one more module here. */
const SECTIONS = [
  callRtt,
  ctxSwitches,
  pipelined,
  stoppableCall,
  controllerJs,
  poolBench,
  coldStart,
  memory,
  stopLatency,
  swallowStop,
  callTimeoutStop,
  timedOutCall,
  killableOverhead,
  blockedStop,
  frozenReport,
  massStop,
  switchInterval,
  bytesRoundTrip,
  remoteLink,
  rayBench,
];
const machine = await describeMachine();
const contenders = [
  { name: "pyleash-builtin", python: machine.python.path },
  ...(machine.pyzmqPython ? [{ name: "pyleash-pyzmq", python: machine.pyzmqPython.path }] : []),
  { name: "pythonia", python: machine.python.path },
  { name: "floor", python: machine.python.path },
  { name: "floor-zeromq", python: machine.python.path },
  { name: "floor-zeromq-agent", python: machine.python.path },
  // --baseline: another checkout's build (e.g. main's) as contender "baseline", so a change is measured beside it
  ...(baseline ? [{ name: "baseline", python: machine.python.path }] : []),
];
if (baseline) process.env.PYLEASH_BENCH_BASELINE = pathToFileURL(join(resolve(baseline), "dist", "index.js")).href;
const env = { PYTHON_BIN: machine.python.path }; // pythonia's interpreter: the same as everyone else's
log(`${quick ? "quick" : "full"} run: ${contenders.map((c) => c.name).join(", ")} on Python ${machine.python.version}`);

const hosts = [];
const figures = {};
const detail = {};
const methods = {};
const pending = {};
const notes = {};
try {
  for (const c of contenders) {
    log(`starting host for ${c.name}`);
    hosts.push(await openHost(c.name, { python: c.python, warm: config.hostWarm }, env));
  }
  const chosen = only ? only.split(",") : SECTIONS.map((s) => s.key);
  const ctx = { contenders, hosts, config, env, log, quick, machine, named: only ? chosen : [] };
  const unknown = chosen.filter((key) => !SECTIONS.some((s) => s.key === key));
  if (unknown.length) throw new Error(`--only: no section ${unknown.join(", ")} (sections: ${SECTIONS.map((s) => s.key).join(", ")})`);
  for (const section of SECTIONS.filter((s) => chosen.includes(s.key))) {
    if (!section.pending) log(`${section.key}: ${section.title}`);
    const out = await section.run(ctx);
    figures[section.key] = out.value;
    if (out.detail !== undefined) detail[section.key] = out.detail;
    if (out.method) methods[section.key] = out.method;
    if (out.pending) pending[section.key] = out.pending;
    if (out.notes) notes[section.key] = out.notes;
  }
} finally {
  await Promise.all(hosts.map((h) => h.close()));
}
machine.loadavgEnd = os.loadavg().map((v) => Number(v.toFixed(2)));

const report = {
  generatedAt: new Date().toISOString(),
  quick,
  rounds: config.rounds,
  machine,
  ...figures,
  goals: evaluateGoals(figures),
  pending,
  notes,
  methods,
  config,
  detail,
  elapsedS: Math.round((performance.now() - t0) / 100) / 10,
};
const text = `${JSON.stringify(report, null, 2)}\n`;
mkdirSync(reportDir, { recursive: true });
writeFileSync(join(reportDir, "bench.json"), text);
writeFileSync(join(reportDir, "BENCH.md"), renderMarkdown(report));
log(`wrote ${join(reportDir, "bench.json")} and ${join(reportDir, "BENCH.md")} in ${report.elapsedS} s`);
process.stdout.write(json ? text : `${renderText(report)}\n`);

/**
 * Whether py/pyleash holds bytecode for this interpreter, so the agent starts from it. Compiled here first, as npm
 * install does: after an edit of py/ under PYTHONDONTWRITEBYTECODE, stale bytecode would make every agent compile
 * the edited modules at start (~1 MB more RSS, a slower start) and the figures would not be an install's.
 */
function agentBytecode(python) {
  try {
    execFileSync(python, ["-m", "compileall", "-q", join(ROOT, "py", "pyleash")], { stdio: "ignore", timeout: 60_000 });
  } catch {
    // Left uncompiled (a read-only tree, say): reported below.
  }
  try {
    const tag = execFileSync(python, ["-c", "import sys; print(sys.implementation.cache_tag)"], { encoding: "utf8" }).trim();
    return existsSync(join(ROOT, "py", "pyleash", "__pycache__", `agent.${tag}.pyc`));
  } catch {
    return false;
  }
}

/** @returns {Record<string, any>} */
function readArgs(args) {
  const values = scriptArgs(
    args,
    {
      json: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      out: { type: "string", default: join(ROOT, "report") },
      only: { type: "string" }, // a comma-separated subset of the sections' keys, e.g. bytesRoundTrip
      baseline: { type: "string" }, // a checkout with a build (dist/), measured as contender "baseline"
    },
    USAGE,
  );
  return { ...values, out: resolve(values.out) };
}

async function describeMachine() {
  const info = await probePython();
  const cpus = os.cpus();
  const venv = join(ROOT, ".cache", `venv-pyzmq-${info.version}`, "bin", "python");
  let pyzmqPython = null;
  if (existsSync(venv)) {
    try {
      const out = execFileSync(venv, ["-c", "import zmq, platform; print(zmq.__version__, zmq.zmq_version(), platform.python_version())"], {
        encoding: "utf8",
        timeout: 30_000,
      });
      const [pyzmq, libzmq, version] = out.trim().split(" ");
      pyzmqPython = { path: venv, version, pyzmq, libzmq };
    } catch {
      log(`${venv} does not import zmq: pyleash-pyzmq is not measured`);
    }
  } else {
    log(`no pyzmq venv at ${venv} (npm test makes it): pyleash-pyzmq is not measured`);
  }
  const pkg = (name) => JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: { version: info.version, path: info.path, implementation: info.implementation },
    pyzmqPython,
    zeromq: pkg("zeromq"),
    pythonia: pkg("pythonia"),
    // Set, Python writes no __pycache__: what was not compiled ahead (npm install compiles the agent for
    // python3, see scripts/compile-agent.mjs) compiles at every start: slower, bigger.
    PYTHONDONTWRITEBYTECODE: process.env.PYTHONDONTWRITEBYTECODE ?? null,
    agentBytecode: agentBytecode(info.path) && (pyzmqPython === null || agentBytecode(pyzmqPython.path)),
    loadavgStart: os.loadavg().map((v) => Number(v.toFixed(2))),
    loadavgEnd: null,
  };
}
