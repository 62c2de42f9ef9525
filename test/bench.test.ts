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
      timeout: 170_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const report = JSON.parse(stdout);
    expect(JSON.parse(await readFile(join(out, "bench.json"), "utf8"))).toEqual(report);
    expect(await readFile(join(out, "BENCH.md"), "utf8")).toContain("# pyleash benchmark");

    for (const key of ["generatedAt", "quick", "rounds", "machine", "goals", "callRttUs", "pipelinedCallsPerS", "coldStartMs", "memoryMb"]) {
      expect(report).toHaveProperty([key]);
    }
    for (const key of ["stopLatencyMs", "killableOverhead", "blockedStop"]) expect(report).toHaveProperty([key], null);
    for (const key of ["cores", "node", "python.version", "python.path"]) expect(report.machine).toHaveProperty(key.split("."));

    const bridges = ["pyleash-builtin", ...(report.machine.pyzmqPython ? ["pyleash-pyzmq"] : []), "pythonia"];
    for (const name of [...bridges, "floor"]) {
      for (const stat of STATS) expect(report.callRttUs).toHaveProperty([name, stat]);
    }
    for (const name of bridges) {
      expect(report.pipelinedCallsPerS).toHaveProperty([name]);
      expect(report.coldStartMs).toHaveProperty([name]);
    }
    for (const name of bridges.filter((b) => b.startsWith("pyleash-"))) expect(report.memoryMb.idleAgent).toHaveProperty([name]);
    expect(report.memoryMb).toHaveProperty(["pythonia"]);
    expect(report.memoryMb).toHaveProperty(["agentWith1000TasksMb"], null);
    expect(report.memoryMb).toHaveProperty(["controllerHeapGrowthMb"]);
    for (const goal of ["rttVsPythonia", "rttVsFloor", "pipelinedVsPythonia", "coldStart", "idleAgentRss"]) {
      expect(report.goals).toHaveProperty([goal, "met"]);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 180_000);
