/**
 * How a process's threads used the CPU over a short window, from /proc (Linux). It tells a frozen agent from a
 * busy one: C code holding the GIL keeps one thread on the CPU the whole time, while busy Python threads take turns.
 */
import { readFileSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";

/** Per thread id, CPU ticks used so far (user + system); undefined where /proc cannot tell (not Linux, gone). */
async function ticksByThread(pid: number): Promise<Map<string, number> | undefined> {
  let tids: string[];
  try {
    tids = await readdir(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const ticks = new Map<string, number>();
  for (const tid of tids) {
    // One at a time: an agent may have hundreds of threads, and parallel reads would exhaust file descriptors.
    const fields = statFields(await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => ""));
    if (fields.length > 13) ticks.set(tid, Number(fields[11]) + Number(fields[12])); // utime, stime: fields 14 and 15
  }
  return ticks;
}

/** Samples under way, per pid: concurrent stops of one agent share one. */
const sampling = new Map<number, Promise<number | undefined>>();

/** Fewer CPU ticks than this over the window, all threads together: too few to say how they were shared. */
const MIN_TICKS = 3;

/**
 * The largest share of `pid`'s CPU time over `windowMs` that one of its threads took (0..1); undefined where /proc
 * cannot tell, or the process got too little CPU to tell. Near 1: one thread ran alone (threads waiting for the GIL
 * wake up briefly, but barely use the CPU). A share of the process's time, not of the window's, so that a frozen
 * agent on a machine whose other processes take most of the CPU still shows one thread alone.
 */
export function busiestThreadShare(pid: number, windowMs: number): Promise<number | undefined> {
  let sample = sampling.get(pid);
  if (!sample) {
    sample = sampleShare(pid, windowMs).finally(() => sampling.delete(pid));
    sampling.set(pid, sample);
  }
  return sample;
}

async function sampleShare(pid: number, windowMs: number): Promise<number | undefined> {
  const before = await ticksByThread(pid);
  if (!before) return undefined;
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = await ticksByThread(pid);
  if (!after) return undefined;
  let most = 0;
  let total = 0;
  for (const [tid, ticks] of after) {
    const used = ticks - (before.get(tid) ?? ticks);
    most = Math.max(most, used);
    total += used;
  }
  return total < MIN_TICKS ? undefined : most / total;
}

/**
 * True while `pid` is stopped by a signal (SIGSTOP, SIGTSTP) or held by a debugger: nothing in it can run until it
 * is continued. False where /proc cannot tell.
 */
export function suspended(pid: number): boolean {
  try {
    const state = statFields(readFileSync(`/proc/${pid}/stat`, "utf8"))[0]; // field 3
    return state === "T" || state === "t";
  } catch {
    return false;
  }
}

/** The fields of a /proc stat line after the command name (field 3 on); the name in parentheses may hold spaces. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}
