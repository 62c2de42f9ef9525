/** Reading faulthandler's dump of every thread, the one stack source that works on a frozen agent. */
import { readFileSync } from "node:fs";
import type { Frame } from "./report.js";

export interface DumpedThread {
  ident: bigint;
  current: boolean;
  /** Innermost first, as faulthandler prints them. */
  frames: Frame[];
}

const HEADER = /^(Current thread|Thread) (0x[0-9a-fA-F]+) \(most recent call first\):/;
const FRAME = /^ {2}File "(.*)", line (\d+) in (.*)$/;

export function parseDump(text: string): DumpedThread[] {
  const threads: DumpedThread[] = [];
  for (const line of text.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      threads.push({ ident: BigInt(header[2]!), current: header[1] === "Current thread", frames: [] });
      continue;
    }
    const frame = FRAME.exec(line);
    const thread = threads.at(-1);
    if (frame && thread) {
      const file = frame[1]!;
      const lineNo = Number(frame[2]);
      thread.frames.push({ file, line: lineNo, function: frame[3]!.trim(), code: sourceLine(file, lineNo) });
    }
  }
  return threads;
}

function sourceLine(file: string, line: number): string | null {
  try {
    return readFileSync(file, "utf8").split("\n")[line - 1]?.trim() ?? null;
  } catch {
    return null;
  }
}
