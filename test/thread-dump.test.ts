/** The controller's read of faulthandler's dump (fd 4): whole, even when the writer pauses between its pieces. */
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { dumper } from "../ts/worker/agent-process.js";
const python = "python3"; // any interpreter: the writer only stands in for faulthandler

// A stand-in for a starved agent's faulthandler: on SIGUSR1 it writes a dump in pieces, pausing mid-line.
const WRITER = String.raw`
import os, signal, sys, time
def dump(*_):
    os.write(4, b'Thread 0x0000000000000001 (most recent call first):\n  File "/x/a.py", line ')
    time.sleep(0.3)
    os.write(4, b'7 in frozen\n')
signal.signal(signal.SIGUSR1, dump)
sys.stdout.write("ready\n"); sys.stdout.flush()
time.sleep(30)
`;

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

describe("thread dump", () => {
  it("waits out a pause in the middle of a line instead of ending the dump there", async () => {
    const child = spawn(python, ["-c", WRITER], { stdio: ["ignore", "pipe", "inherit", "pipe", "pipe"] });
    children.push(child);
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    const text = await dumper(child)(5_000);
    expect(text).toBe('Thread 0x0000000000000001 (most recent call first):\n  File "/x/a.py", line 7 in frozen\n');
  });
});
