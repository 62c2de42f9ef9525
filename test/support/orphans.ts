/** Finds processes that carry this test run's tag in their environment. */
import { readFile, readdir } from "node:fs/promises";

export interface Leftover {
  pid: number;
  cmdline: string;
}

/** Processes tagged with `tag` still alive after waiting up to `graceMs` for them to go. */
export async function leftoverProcesses(tag: string, graceMs: number): Promise<Leftover[]> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = await tagged(tag);
    if (!left.length || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tagged(tag: string): Promise<Leftover[]> {
  const needle = `PYLEASH_TEST_RUN=${tag}`;
  const out: Leftover[] = [];
  for (const entry of await readdir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${pid}/environ`, "utf8");
      if (!environ.split("\0").includes(needle)) continue;
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ").trim();
      const stat = await readFile(`/proc/${pid}/stat`, "utf8");
      if (/\) Z /.test(stat)) continue; // a zombie is already dead; its parent reaps it
      if (cmdline.includes("python") || cmdline.includes("pyleash")) out.push({ pid, cmdline });
    } catch {}
  }
  return out;
}

/** True while a process with this pid exists (zombies count as gone). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}
