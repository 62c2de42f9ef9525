/**
 * The torture campaign's quick slice (scripts/torture.mjs --quick, issue 9), run once as a child process with a fixed
 * seed, and its figures held to what they must be. No timing thresholds: only the campaign's own hang detectors.
 *
 * A defect the campaign finds gets an assertion here that fails until it is fixed.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = new URL("..", import.meta.url).pathname;
const SEED = "1"; // fixed, so the quick slice meets the same inputs on every run (`--seed 1` replays it)

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- torture.json is plain JSON, read field by field below
let report: any;
let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "pyleash-torture-test-"));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(ROOT, "scripts", "torture.mjs"), "--quick", "--json", "--seed", SEED, "--out", out],
    {
      cwd: ROOT,
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  report = JSON.parse(stdout);
}, 250_000);

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

const AGENT_FAULTS = ["os._exit", "SIGKILL", "SIGSEGV", "SIGSTOP"];

describe("faults", () => {
  it("settles every call and task in flight when the agent dies or is stopped: none hangs", () => {
    for (const fault of AGENT_FAULTS) expect({ fault, hung: report.faults[fault].hung }).toEqual({ fault, hung: 0 });
  });

  it("rejects the in-flight work of a dead agent with WorkerCrashedError only", () => {
    for (const fault of ["os._exit", "SIGKILL", "SIGSEGV"]) {
      expect(Object.keys(report.faults[fault].rejected)).toEqual(["WorkerCrashedError"]);
      expect(report.faults[fault].resolved).toBe(0);
    }
  });

  it("leaves no agent or task process and no ipc directory behind after any agent fault", () => {
    for (const fault of AGENT_FAULTS) {
      const { leftoverProcesses, leftoverFiles } = report.faults[fault];
      expect({ fault, leftoverProcesses, leftoverFiles }).toEqual({ fault, leftoverProcesses: 0, leftoverFiles: 0 });
    }
  });

  it("says a SIGSTOPped agent is alive, and unresponsive whenever it really was stopped", () => {
    const stop = report.faults.SIGSTOP;
    for (const key of Object.keys(stop.health)) expect(key).toMatch(/^alive=true /);
    // The kernel may resume the agent by itself (see the finding); then "responsive" is the truth.
    if (Object.keys(stop.stateDuringHealth).every((s) => s === "T"))
      expect(Object.keys(stop.health)).toEqual(["alive=true responsive=false"]);
    expect(stop.afterSigcont).toEqual({ "next call ok": 1 });
  });

  it("leaves nothing behind a SIGKILLed controller once the next controller has started", () => {
    const c = report.faults["controller SIGKILL"];
    expect(c.rounds).toBeGreaterThan(0);
    expect(c.errors).toEqual([]);
    expect({ processes: c.leftoverProcesses, files: c.leftoverFiles }).toEqual({ processes: 0, files: 0 });
  });

  it("leaves no Python process of the run alive at its end", () => {
    expect(report.leftoverAtEnd).toEqual([]);
  });
});

describe("probes of the known deafening inputs", () => {
  const passing = [
    "call without id",
    "id NaN",
    "stack whose task is a list",
    "stop whose task is an object",
    "NaN in args (result not JSON)",
    "NaN and Infinity in args (result not JSON)",
    "worker.call with an array nested 1,000 deep",
  ];
  for (const name of passing) {
    it(`keeps the agent answering after: ${name}`, () => expect(report.probes[name]).toMatchObject({ ok: true, after: "answers" }));
  }
  it("keeps the agent answering after: top-level nesting 10,000", () => expect(report.probes["top-level nesting 10,000"].ok).toBe(true));
  it("keeps the agent answering after: args nested 1,000 deep (raw)", () =>
    expect(report.probes["args nested 1,000 deep (raw)"].ok).toBe(true));
  it("answers a request whose type is not a string but whose id is usable", () =>
    expect(report.probes["type that is not a string, with an integer id"].ok).toBe(true));
  it("answers a request carrying a 5,000-digit integer", () => expect(report.probes["5,000-digit integer"].ok).toBe(true));
});

describe("fuzz", () => {
  it("never gets anything but a TransportError out of the built-in ZMTP transport, and never hangs it", () => {
    const bulk = report.fuzzZmtp.bulk;
    expect(bulk.tried).toBeGreaterThan(0);
    expect(bulk.unexpected).toEqual([]);
    expect(bulk.hung).toBe(0);
  });

  it("makes every live agent fed a malformed ZMTP stream exit instead of hanging", () => {
    const live = report.fuzzZmtp.live;
    expect(live.agents).toBeGreaterThan(0);
    expect(live.hung).toBe(0);
  });

  it("follows every batch of malformed requests with a good call", () => {
    const w = report.fuzzProtocol.worker;
    expect(w.batches).toBeGreaterThan(0);
    expect(w.deafBatches).toBe(0);
  });

  it("answers every malformed request sent through worker.request", () => expect(report.fuzzProtocol.worker.unanswered).toBe(0));

  it("keeps the agent answering after every raw malformed frame, and answers each one that has an id", () => {
    const raw = report.fuzzProtocol.raw;
    expect(raw.deaths).toBe(0);
    expect(raw.usableIdUnanswered).toBe(0);
  });
});

describe("load", () => {
  it("returns every pipelined call's correct result", () => {
    expect(report.load.calls.correct).toBe(report.load.calls.n);
  });

  it("starts and finishes every task started at once", () => {
    const s = report.load.starts;
    expect({ started: s.started, finished: s.finished }).toEqual({ started: s.n, finished: s.n });
  });

  it.each(["stops", "cooperativeStops"])("gives %s reports that agree with how each task ended, and calls no busy agent frozen", (key) => {
    const stops = report[key];
    expect(stops.dishonest).toEqual({});
    expect(stops.unsettledAfter15s).toBe(0);
    expect(stops.agentUnresponsive).toBe(0);
  });
});

describe("pool", () => {
  it("settles every call while its agents are SIGKILLed: results, or WorkerCrashedError for the dead agent's calls; each is replaced", () => {
    const p = report.pool;
    expect(p.kills).toBeGreaterThan(0);
    expect(Object.keys(p.others).filter((k) => k !== "WorkerCrashedError")).toEqual([]);
    expect(p.correct + (p.others.WorkerCrashedError ?? 0)).toBe(p.n);
    expect(p.crashEvents).toBe(p.kills);
    expect({ replacedAll: p.replacedAll, nextCall: p.nextCall, leftover: p.leftover }).toEqual({
      replacedAll: true,
      nextCall: "ok",
      leftover: 0,
    });
  });
});

describe("security", () => {
  it("accepts nothing from rogue peers on the tcp endpoint and sends them nothing", () => {
    const s = report.security;
    expect(s.rounds).toBeGreaterThan(0);
    expect({ accepted: s.forgedAccepted, received: s.rogueReceived }).toEqual({ accepted: 0, received: 0 });
    expect(s.realCallsCorrect).toBe(s.realCalls);
    expect(s.tasksCorrect).toBe(s.tasks);
  });
});

it("writes torture.json and TORTURE.md beside each other", async () => {
  expect(JSON.parse(await readFile(join(out, "torture.json"), "utf8"))).toEqual(report);
  expect(await readFile(join(out, "TORTURE.md"), "utf8")).toContain("# pyleash torture campaign");
});
