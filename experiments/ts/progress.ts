/** Progress while experiments run: a redrawn bar on a terminal, one plain line per run otherwise. */
import type { ProgressEvent } from "./runner.js";

export function progressPrinter(stream: NodeJS.WriteStream): (event: ProgressEvent) => void {
  const tty = Boolean(stream.isTTY);
  return (event) => {
    if (!tty) {
      if (event.result) {
        const r = event.result;
        stream.write(
          `[${event.done}/${event.total}] ${event.python} ${event.id}: ${r.verdict} (${r.key}) ${(r.durationMs / 1000).toFixed(1)} s\n`,
        );
      }
      return;
    }
    const width = 30;
    const filled = Math.round((event.done / event.total) * width);
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    const label = event.result ? `${event.python} ${event.id}: ${event.result.verdict}` : `${event.python} ${event.id}…`;
    const columns = stream.columns || 100;
    stream.write(`\r\x1b[2K${`${bar} ${event.done}/${event.total} ${label}`.slice(0, columns - 1)}`);
    if (event.done === event.total && event.result) stream.write("\n");
  };
}
