/**
 * The controller's probe of a silent agent (ts/task/stop.ts): the stops of one agent that fall silent together
 * share one ping and one look at its threads. The host here is a stand-in for an agent that never answers (what
 * a frozen agent looks like from the controller), so the count of pings it is sent can be read.
 */
import { describe, expect, it } from "vitest";
import type { TaskHost } from "../ts/task/host.js";
import { type StopSubject, stopTask } from "../ts/task/stop.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function silentHost(): TaskHost & { pings: number; looks: number } {
  const host = {
    pings: 0,
    looks: 0,
    request: () => new Promise<unknown>(() => {}), // never answered
    dumpThreads: async () => "",
    ping: async (timeoutMs: number) => {
      host.pings++;
      await sleep(timeoutMs); // no pong within the window
      return false;
    },
    busiestThreadShare: async (windowMs: number) => {
      host.looks++;
      await sleep(windowMs); // watched over the window ...
      return 1; // ... and one thread alone took the CPU: frozen
    },
    suspended: () => false,
    python: "3.11.7",
    strategies: ["flag", "async-exc"] as const,
    restartBlocked: async () => false,
    gaveUp: () => {},
  };
  return host as unknown as TaskHost & { pings: number; looks: number };
}

function subject(i: number): StopSubject {
  return {
    id: `t${i}`,
    kind: "thread",
    target: "blocking:spin",
    ident: 1000 + i,
    status: "running",
    endReported: false,
    result: new Promise(() => {}),
    markBlocked: () => {},
  };
}

describe("the probe of a silent agent", () => {
  it("is shared by the stops asked of one agent together: one ping and one look, not one per stop", async () => {
    const host = silentHost();
    const reports = await Promise.all(
      Array.from({ length: 5 }, (_, i) => stopTask(subject(i), host, { strategy: "flag", deadlineMs: 600 })),
    );
    expect(reports.map((r) => r.outcome)).toEqual(Array(5).fill("blocked"));
    for (const report of reports) expect(report.reason).toMatch(/C code holding the GIL has frozen it/);
    expect([host.pings, host.looks]).toEqual([1, 1]);
  });

  it("is made afresh for a stop asked after the last probe ended", async () => {
    const host = silentHost();
    await stopTask(subject(0), host, { strategy: "flag", deadlineMs: 600 });
    await stopTask(subject(1), host, { strategy: "flag", deadlineMs: 600 });
    expect([host.pings, host.looks]).toEqual([2, 2]);
  });
});
