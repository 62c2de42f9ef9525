/** The benchmark harness runs end to end (quick mode) and reports every figure; the values are not judged. */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, test } from "vitest";

const run = promisify(execFile);
const ROOT = new URL("..", import.meta.url).pathname;
const STATS = ["p50", "p99", "min", "max"];

test("node scripts/bench.mjs --quick --json reports every figure", async () => {
  const out = await mkdtemp(join(tmpdir(), "pyleash-bench-test-"));
  try {
    const { stdout } = await run(process.execPath, [join(ROOT, "scripts", "bench.mjs"), "--quick", "--json", "--out", out], {
      cwd: ROOT,
      timeout: 230_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const report = JSON.parse(stdout);
    expect(JSON.parse(await readFile(join(out, "bench.json"), "utf8"))).toEqual(report);
    expect(await readFile(join(out, "BENCH.md"), "utf8")).toContain("# pyleash benchmark");

    for (const key of [
      "generatedAt",
      "quick",
      "rounds",
      "machine",
      "goals",
      "callRttUs",
      "pipelinedCallsPerS",
      "coldStartMs",
      "memoryMb",
    ]) {
      expect(report).toHaveProperty([key]);
    }
    for (const strategy of ["async-exc", "monitor", "trace", "flag", "signal", "terminate"]) {
      expect(report.stopLatencyMs).toHaveProperty([strategy]);
      if (report.stopLatencyMs[strategy] === null) continue; // monitor below CPython 3.12, with a note
      for (const busy of ["0", "8"]) for (const stat of ["p50", "p99"]) expect(report.stopLatencyMs).toHaveProperty([strategy, busy, stat]);
    }
    for (const busy of ["0", "8"])
      for (const stat of ["p50", "p99"]) expect(report.stopLatencyMs).toHaveProperty(["async-exc floor", busy, stat]);
    for (const name of ["pyleash-builtin", "pythonia", "floor-zeromq", "floor-zeromq-agent"]) {
      for (const side of ["node", "python"]) {
        for (const key of ["voluntary", "nonvoluntary", "cpuUs"]) expect(report.callCtxSwitches).toHaveProperty([name, side, key]);
      }
    }
    if (report.stopLatencyMs.monitor === null) expect(report.notes).toHaveProperty(["stopLatencyMs", "monitor"]);
    for (const prep of ["thread", "async-exc", "monitor", "trace", "process"]) expect(report.killableOverhead).toHaveProperty([prep]);
    for (const strategy of ["signal", "terminate", "async-exc"]) expect(report.blockedStop).toHaveProperty([strategy]);
    for (const what of ["task", "call"]) expect(report.frozenReport).toHaveProperty(["300", what]);
    for (const key of ["pyleash", "floor", "ratio"]) expect(report.massStop).toHaveProperty([key]);
    for (const c of ["loop thread-lane async-exc", "sleep main-lane signal"]) expect(report.callTimeoutStopMs).toHaveProperty([c, "p50"]);
    for (const mode of ["plain", "timeoutMs", "signal"]) expect(report.stoppableCallCost).toHaveProperty(["pyleash-builtin", mode, "p50"]);
    for (const mode of ["timeoutMs", "signal"]) expect(report.stoppableCallCost).toHaveProperty(["pyleash-builtin", mode, "ratio"]);
    for (const mode of ["plain", "timeoutMs", "signal"]) expect(report.controllerJsUs).toHaveProperty(["pyleash-builtin", mode]);
    // pyleash stops a timed-out call's Python work; pythonia's runs on after the caller gave up.
    for (const hang of ["sleep", "spin"]) {
      expect(report.timedOutCall[`pyleash-${hang}`]).toMatchObject({
        error: "AbortError",
        outcome: "stopped",
        pythonRanOn: false,
        nextCall: "answered",
      });
      expect(report.timedOutCall).toHaveProperty([`pythonia-${hang}`, "pythonRanOn"]);
    }
    for (const side of ["pool", "worker", "pythonia"]) expect(report.pool.pipelinedCallsPerS).toHaveProperty([side]);
    for (const side of ["pool", "worker"]) expect(report.pool.cpuBoundCallsPerS).toHaveProperty([side]);
    expect(report.pool.size).toBeGreaterThanOrEqual(1);
    // remoteLink needs root, `ip netns` and the pyzmq venv; without them it is null and pending says why.
    if (report.remoteLink === null) expect(report.pending).toHaveProperty(["remoteLink"]);
    else {
      for (const row of ["CURVE, pyzmq agent", "NULL, pyzmq agent (--insecure)", "CURVE, Pool.listen + pyzmq agent"])
        expect(report.remoteLink.rttUs).toHaveProperty([row, "p50"]);
      for (const key of ["curveVsNull", "lostDetectMs", "agentExitMs"]) expect(report.remoteLink).toHaveProperty([key]);
    }
    expect(report.switchInterval.map((r: { switchIntervalMs: number | null }) => r.switchIntervalMs)).toEqual([null, 1, 0.2, 0.05]);
    for (const row of report.switchInterval) {
      for (const key of ["asyncExcStopMs", "busy8ItersPerS", "throughputVsDefault"]) expect(row).toHaveProperty([key]);
    }
    for (const key of ["cores", "node", "python.version", "python.path"]) expect(report.machine).toHaveProperty(key.split("."));

    const bridges = ["pyleash-builtin", ...(report.machine.pyzmqPython ? ["pyleash-pyzmq"] : []), "pythonia"];
    for (const name of [...bridges, "floor", "floor-zeromq", "floor-zeromq-agent"]) {
      for (const stat of STATS) expect(report.callRttUs).toHaveProperty([name, stat]);
    }
    for (const name of bridges) {
      expect(report.pipelinedCallsPerS).toHaveProperty([name]);
      expect(report.coldStartMs).toHaveProperty([name]);
    }
    for (const name of bridges.filter((b) => b.startsWith("pyleash-"))) expect(report.memoryMb.idleAgent).toHaveProperty([name]);
    expect(report.memoryMb).toHaveProperty(["pythonia"]);
    expect(report.memoryMb).toHaveProperty(["agentWith1000TasksMb"]);
    expect(report.memoryMb).toHaveProperty(["agentWith1000TasksRssMb"]);
    expect(report.memoryMb).toHaveProperty(["controllerHeapGrowthMb"]);
    for (const name of bridges) expect(report.bytesRoundTrip).toHaveProperty([name]);
    for (const name of bridges.filter((b) => b.startsWith("pyleash-"))) {
      for (const key of ["framesMBps", "base64MBps", "rssBeforeMb", "rssAfterMb"])
        expect(report.bytesRoundTrip[name][key]).toEqual(expect.any(Number));
    }
    expect(report.bytesRoundTrip.pythonia.jsonArrayMBps).toEqual(expect.any(Number));
    expect(report.bytesRoundTrip.floor.framesMBps).toEqual(expect.any(Number));
    const goals = [
      "bytesFrames",
      "bytesVsFloor",
      "bytesVsBase64",
      "bytesRssBack",
      "rttVsPythonia",
      "rttVsFloor",
      "rttVsFloorZeromq",
      "rttVsPythoniaP50",
      "rttFloorVsPythonia",
      "rttAgentFloorVsPythonia",
      "nodeCpuVsFloorZeromq",
      "nodeCpuVsAgentFloor",
      "agentCpuVsFloorZeromq",
      "pipelinedVsPythonia15",
      "stopVsFloorP50",
      "stopVsFloorP99",
      "pipelinedVsPythonia",
      "coldStart",
      "idleAgentRss",
      "stopAsyncExcP50",
      "stopAsyncExcP99",
      "overheadAsyncExc",
      "overheadMonitor",
      "blockedSignal",
      "blockedTerminate",
      "frozenReportTask",
      "frozenReportCall",
      "tasksRss",
      "controllerHeapFlat",
      "poolPipelinedVsPythonia",
      "poolCpuBound",
    ];
    for (const goal of goals) {
      expect(report.goals).toHaveProperty([goal, "met"]);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 240_000);
