/** killableOverhead: what running work as a stoppable task costs over a plain call. */
import { pendingSection } from "./pending.mjs";

export const killableOverhead = pendingSection(
  "killableOverhead",
  "Killable task overhead",
  "needs the tasks API (the same workload as a plain call and as a stoppable task, compared)",
);
