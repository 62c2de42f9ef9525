/**
 * How `pyleash run` shows a task's progress: a bar redrawn in place on a terminal (stderr, so stdout keeps the
 * result), or one JSON line per update on stdout with `--json`. Updates arrive rate-limited by the agent.
 */
import type { Progress } from "../task/progress.js";

const WIDTH = 30;

/** The `onProgress` for `run`, and `done()` to leave the terminal tidy; nothing happens where nothing fits. */
export function progressOutput(json: boolean): { onProgress: ((p: Progress) => void) | undefined; done(): void } {
  if (json) return { onProgress: (p) => process.stdout.write(`${JSON.stringify({ type: "progress", ...p })}\n`), done() {} };
  const tty = process.stderr;
  if (!tty.isTTY) return { onProgress: undefined, done() {} };
  let drawn = false;
  return {
    onProgress(p) {
      const columns = tty.columns || 80;
      tty.write(`\r${barLine(p).slice(0, columns - 1)}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) tty.write("\n");
    },
  };
}

/** `[#########---------------------]  30% 3/10 message`; without a total, `3 message`. */
export function barLine({ done, total, message }: Progress): string {
  const text = message ? ` ${message}` : "";
  if (total === undefined || !(total > 0)) return `${done}${text}`;
  const share = Math.min(1, Math.max(0, done / total));
  const filled = Math.round(share * WIDTH);
  const percent = String(Math.floor(share * 100)).padStart(3);
  return `[${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${percent}% ${done}/${total}${text}`;
}
