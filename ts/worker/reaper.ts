/** The agents this controller has running; whatever is left when Node exits gets its process group SIGKILLed. */
import type { ChildProcess } from "node:child_process";
import { killGroup } from "./agent-process.js";

const live = new Set<ChildProcess>();
let hooked = false;

/** Track an agent until `release`; the exit hook is set on the first agent, not on import. */
export function track(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const left of live) killGroup(left, "SIGKILL");
    });
  }
  live.add(child);
}

export function release(child: ChildProcess): void {
  live.delete(child);
}
