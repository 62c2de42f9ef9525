/**
 * Reading faulthandler's dump of every thread, the one stack source that works on a frozen agent. The agent
 * parses the same format (py/pyleash/stop/stacks.py); both run the sample dumps in test/fixtures/dumps/.
 */
import { readFileSync } from "node:fs";
import type { Frame } from "./report.js";

export interface DumpedThread {
  /** The thread's ident; null for a one-thread dump titled "Stack" (3.12+, all_threads=False). */
  ident: bigint | null;
  current: boolean;
  /** faulthandler cut the stack at 100 frames and said so. */
  truncated: boolean;
  /** Innermost last, like every other stack pyleash reports. */
  frames: Frame[];
}

// 3.14 adds the thread's name in brackets; 3.12+ titles a one-thread dump "Stack".
const HEADER = /^(?:(Current thread|Thread) (0x[0-9a-fA-F]+)(?: \[.*\])?|Stack) \(most recent call first\):\s*$/;
const FRAME = /^ {2}File "(.*)", line (\d+|\?\?\?) in (.*?)\s*$/;

export function parseDump(text: string, readSource = true): DumpedThread[] {
  const threads: DumpedThread[] = [];
  for (const line of text.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      threads.push({ ident: header[2] ? BigInt(header[2]) : null, current: header[1] === "Current thread", truncated: false, frames: [] });
      continue;
    }
    const thread = threads.at(-1);
    if (!thread) continue;
    const frame = FRAME.exec(line);
    if (frame) {
      const file = frame[1]!;
      const lineNo = frame[2] === "???" ? null : Number(frame[2]);
      thread.frames.push({ file, line: lineNo, function: frame[3]!, code: readSource ? sourceLine(file, lineNo) : null });
    } else if (line.trimEnd() === "  ...") {
      thread.truncated = true; // an unindented "..." cuts the thread list instead
    }
  }
  for (const thread of threads) thread.frames.reverse();
  return threads;
}

function sourceLine(file: string, line: number | null): string | null {
  if (line === null) return null;
  try {
    return readFileSync(file, "utf8").split("\n")[line - 1]?.trim() ?? null;
  } catch {
    return null;
  }
}
