/**
 * memoryMb: VmRSS (/proc/PID/status) of an idle agent and of pythonia's Python, each in a fresh process
 * after its first call and a short settle; and the controller's heap growth over many calls, measured as
 * process.memoryUsage().heapUsed after forced GCs (a child run with node --expose-gc). MB = MiB here.
 */
import { runOnce } from "./procs.mjs";
import { overRounds, round, rotation } from "./stats.mjs";

export const memory = {
  key: "memoryMb",
  title: "Memory (MiB)",
  async run({ contenders, config, env, log }) {
    const names = contenders.filter((c) => c.name !== "floor");
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
    const idleAgent = Object.fromEntries(names.filter((c) => c.name.startsWith("pyleash-")).map((c) => [c.name, summary[c.name].median]));
    return {
      value: {
        idleAgent,
        pythonia: summary.pythonia?.median ?? null,
        agentWith1000TasksMb: null,
        controllerHeapGrowthMb: round(heap.growthMb, 2),
        notes: {
          agentWith1000TasksMb: "needs the tasks API",
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
