import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { barLine } from "../ts/cli/progress-bar.js";
import { FIXTURES } from "./support/cleanup.js";

const exec = promisify(execFile);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;

describe("pyleash run with a task that reports progress", () => {
  it("prints one JSON line per progress update with --json, in order, then the outcome", async () => {
    const args = ["run", "streams:progress_steps", "--args", "[200, 200, 0.001]", "--pythonpath", FIXTURES, "--json"];
    const { stdout } = await exec(process.execPath, [CLI, ...args], { timeout: 60_000 });
    const lines = stdout.split("\n");
    const progress = lines.filter((l) => l.startsWith('{"type":"progress"')).map((l) => JSON.parse(l));
    expect(progress.length).toBeGreaterThanOrEqual(2); // the first and the final one, at least
    expect(progress.length).toBeLessThan(200); // rate-limited by the agent
    expect(progress.every((p, i) => i === 0 || p.done >= progress[i - 1].done)).toBe(true);
    expect(progress.at(-1)).toEqual({ type: "progress", done: 200, total: 200, message: "step 200" });
    const outcome = JSON.parse(lines.slice(progress.length).join("\n"));
    expect(outcome).toEqual({ status: "finished", result: 200 });
  });

  it("draws a bar with the share done, and the count alone without a total", () => {
    expect(barLine({ done: 3, total: 10, message: "m" })).toBe(`[${"#".repeat(9)}${"-".repeat(21)}]  30% 3/10 m`);
    expect(barLine({ done: 7 })).toBe("7");
  });
});
