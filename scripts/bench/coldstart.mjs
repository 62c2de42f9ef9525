/**
 * coldStartMs: from nothing to the first call's result. pythonia keeps one bridge per Node process (it spawns
 * its Python when first imported), so every contender gets a fresh `node` process per round, and the clock
 * starts inside it just before the library is imported: module loading, interpreter spawn, connection and
 * the first call are all counted, Node's own boot is not (reported in the detail).
 */
import { runOnce } from "./procs.mjs";
import { median, overRounds, round, rotation } from "./stats.mjs";

export const coldStart = {
  key: "coldStartMs",
  title: "Cold start to first result (ms)",
  async run({ contenders, hosts, config, env, log }) {
    const names = contenders.filter((c) => !c.name.startsWith("floor"));
    const times = Object.fromEntries(names.map((c) => [c.name, []]));
    const boot = [];
    for (let r = 0; r < config.coldRounds; r++) {
      for (const c of rotation(names, r)) {
        const result = await runOnce("fresh", { name: c.name, python: c.python }, { env });
        times[c.name].push(result.coldMs);
        boot.push(result.nodeBootMs);
      }
      log(`coldStartMs round ${r + 1}/${config.coldRounds}: ${names.map((c) => `${c.name} ${round(times[c.name].at(-1))}`).join(", ")}`);
    }
    // pyleash in an application that has already loaded it: Worker.start + first call, nothing else.
    const inProcess = {};
    for (const host of hosts.filter((h) => h.name.startsWith("pyleash-"))) {
      const ms = [];
      for (let r = 0; r < config.coldRounds; r++) ms.push(await host.run("reopen"));
      inProcess[host.name] = overRounds(ms);
    }
    const summary = Object.fromEntries(names.map((c) => [c.name, overRounds(times[c.name])]));
    return {
      value: Object.fromEntries(names.map((c) => [c.name, summary[c.name].median])),
      detail: { freshProcess: summary, nodeBootMsMedian: round(median(boot)), pyleashWarmProcessStartAndFirstCall: inProcess },
      method:
        `fresh node process per round for every contender (${config.coldRounds} rounds, interleaved); timed inside ` +
        "it from just before import() of the library to the first math.floor(7) result (pyleash: import + " +
        "Worker.start + call; pythonia: import + python('math') + call); median. Node's boot is excluded " +
        "(detail.nodeBootMsMedian); detail.pyleashWarmProcessStartAndFirstCall is Worker.start + first call in " +
        "a process that has pyleash loaded already.",
    };
  },
};
