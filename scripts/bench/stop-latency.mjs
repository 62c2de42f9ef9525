/** stopLatencyMs: from asking a running task to stop to the controller seeing it stopped, per stop method. */
import { pendingSection } from "./pending.mjs";

export const stopLatency = pendingSection(
  "stopLatencyMs",
  "Stop latency (ms)",
  "needs the tasks API (start a task, ask it to stop, time until the controller reports how it stopped)",
);
