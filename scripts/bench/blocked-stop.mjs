/** blockedStop: stopping a task blocked in C code or a system call (sleep, socket read, a GIL-holding loop). */
import { pendingSection } from "./pending.mjs";

export const blockedStop = pendingSection(
  "blockedStop",
  "Stopping blocked work",
  "needs the tasks API (tasks blocked in C or a syscall, stopped; how long, and by which means)",
);
