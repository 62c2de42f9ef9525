/** Once per run: venvs with pyzmq (and one with Ray) where pip can install them offline, and the orphan check at the end. */
import { randomUUID } from "node:crypto";
import { pyzmqVenvs, rayVenv } from "./venv.js";
import { leftoverProcesses } from "./orphans.js";

export default async function setup(): Promise<() => Promise<void>> {
  const runTag = randomUUID();
  process.env.PYLEASH_TEST_RUN = runTag; // every agent and its children inherit it: the orphan check finds them
  const [venvs, ray] = await Promise.all([pyzmqVenvs(), rayVenv()]);
  process.env.PYLEASH_TEST_PYZMQ = JSON.stringify(venvs.map((v) => v.python));
  process.env.PYLEASH_TEST_RAY = ray.python ?? "";
  for (const note of [...venvs.notes, ray.note]) console.log(`[pyleash tests] ${note}`);
  return async () => {
    const left = await leftoverProcesses(runTag, 3_000);
    if (left.length) {
      for (const p of left) process.kill(p.pid, "SIGKILL");
      throw new Error(`Python processes outlived the tests (now killed):\n${left.map((p) => `  ${p.pid} ${p.cmdline}`).join("\n")}`);
    }
  };
}
