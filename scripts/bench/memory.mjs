/**
 * memoryMb: VmRSS (/proc/PID/status) of an idle agent and of pythonia's Python, each in a fresh process
 * after its first call and a short settle; and the controller's heap growth over many calls, measured as
 * process.memoryUsage().heapUsed after forced GCs (a child run with node --expose-gc). MB = MiB here.
 */
import { rssMb } from "./contenders.mjs";
import { runInChild, runOnce } from "./procs.mjs";
import { overRounds, round, rotation } from "./stats.mjs";
import { openWorker, sleep } from "./tasks.mjs";

/** Child side: the agent's RSS idle, then with `n` thread tasks in time.sleep; the worker's close ends them. */
export async function rssWithSleepingTasks({ python, n, settleMs }) {
  const worker = await openWorker(python);
  try {
    await worker.call("math:floor", [7]);
    await sleep(settleMs);
    const idleMb = rssMb(worker.pid);
    // In windows of 100: more than 1 000 requests queued at once overflow the controller ROUTER's default
    // send high-water mark (1 000), and the excess is dropped without an error (see docs/performance.md).
    for (let done = 0; done < n; done += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, n - done) }, () => worker.start("pyleash.demo:sleep", { args: [600] })),
      );
      await Promise.all(batch.map((t) => t.started));
    }
    await sleep(settleMs);
    const withTasksMb = rssMb(worker.pid);
    const { threads } = await worker.ping();
    return { idleMb, withTasksMb, threads };
  } finally {
    await worker.close();
  }
}

const TASKS = 1000;

export const memory = {
  key: "memoryMb",
  title: "Memory (MiB)",
  async run({ contenders, config, env, log }) {
    const names = contenders.filter((c) => !c.name.startsWith("floor"));
    const rss = Object.fromEntries(names.map((c) => [c.name, []]));
    for (let r = 0; r < config.memoryRounds; r++) {
      for (const c of rotation(names, r)) {
        const result = await runOnce("fresh", { name: c.name, python: c.python, settleMs: config.settleMs }, { env });
        if (result.agentRssMb === null) throw new Error(`${c.name}: the agent was gone before its RSS was read`);
        rss[c.name].push(result.agentRssMb);
      }
      log(`memoryMb round ${r + 1}/${config.memoryRounds}: ${names.map((c) => `${c.name} ${round(rss[c.name].at(-1))}`).join(", ")}`);
    }
    const summary = Object.fromEntries(names.map((c) => [c.name, overRounds(rss[c.name])]));
    const heapWith = names.find((c) => c.name === "pyleash-builtin");
    log(`memoryMb: controller heap over ${config.heapCalls} calls (pyleash-builtin)`);
    const heap = await runOnce(
      "heap",
      { name: heapWith.name, python: heapWith.python, calls: config.heapCalls, warm: config.heapWarm, window: config.window },
      { env, nodeArgs: ["--expose-gc"] },
    );
    log(`memoryMb: agent RSS with ${TASKS} sleeping thread tasks`);
    const tasks = await runInChild(
      "memory.mjs",
      "rssWithSleepingTasks",
      { python: heapWith.python, n: TASKS, settleMs: config.settleMs },
      { env },
    );
    const idleAgent = Object.fromEntries(names.filter((c) => c.name.startsWith("pyleash-")).map((c) => [c.name, summary[c.name].median]));
    return {
      value: {
        idleAgent,
        pythonia: summary.pythonia?.median ?? null,
        agentWith1000TasksMb: round(tasks.withTasksMb - tasks.idleMb),
        agentWith1000TasksRssMb: round(tasks.withTasksMb),
        controllerHeapGrowthMb: round(heap.growthMb, 2),
        notes: {
          agentWith1000TasksMb:
            `growth of the pyleash-builtin agent's VmRSS from idle (${round(tasks.idleMb)} MiB) to ${TASKS} thread tasks in ` +
            `time.sleep (${tasks.threads} threads), each read ${config.settleMs} ms after the last start; agentWith1000TasksRssMb is the absolute`,
          controllerHeapGrowthMb:
            `pyleash-builtin controller, heapUsed after forced GCs before and after ${config.heapCalls} calls ` +
            `(windows of ${config.window}, after ${config.heapWarm} warm-up calls)`,
        },
      },
      detail: {
        rss: summary,
        heap: {
          beforeMb: round(heap.beforeMb, 2),
          afterMb: round(heap.afterMb, 2),
          checkpointsMb: heap.checkpointsMb.map((v) => round(v, 2)),
        },
      },
      method:
        `RSS: fresh node process per round (${config.memoryRounds} rounds, interleaved), VmRSS of the agent ` +
        `(pyleash: Worker.pid; pythonia: the python child of the node process) ${config.settleMs} ms after the ` +
        "first call; median. Heap: node --expose-gc child, heapUsed after 4 forced GCs before and after the calls.",
    };
  },
};
