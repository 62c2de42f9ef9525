/**
 * pool: a Pool under a stream of calls while its agents are SIGKILLed one after another (seeded). Every call must
 * settle: its result, or a WorkerCrashedError for the calls of the agent that died; a replacement must take each
 * dead agent's place, and nothing may be left after close().
 */
import { FIXTURES, TAG_ENV, bump, errorClass, isAlive, settleWithin, sleep } from "./common.mjs";

export const pool = {
  key: "pool",
  title: "a pool's agents SIGKILLed under a stream of calls",
  async run(ctx) {
    const { poolSize: size, poolCalls: n, poolKills: kills } = ctx.config;
    const rng = ctx.rng("pool");
    const p = await ctx.Pool.start({ size, pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport, python: ctx.python });
    const killed = [];
    const crashes = [];
    p.on("crash", ({ pid }) => crashes.push(pid));
    p.on("error", () => {}); // a back-off is a figure here (replacedAll), not a crash of the campaign
    try {
      ctx.log(`pool: ${n} calls through ${size} agents, ${kills} of them SIGKILLed on the way`);
      const outcomes = {};
      let correct = 0;
      const window = 64;
      const killAt = new Set(Array.from({ length: kills }, () => rng.int(Math.floor(n * 0.8))));
      const t0 = performance.now();
      for (let done = 0; done < n; done += window) {
        const batch = [];
        for (let i = done; i < Math.min(n, done + window); i++) {
          batch.push(
            p.call("calls:add", [i, 1]).then(
              (v) => (v === i + 1 ? "correct" : "wrong"),
              (e) => errorClass(e),
            ),
          );
          if (killAt.has(i)) {
            const ready = p.workers.filter((w) => w.state === "ready" && w.pid !== null && !killed.includes(w.pid));
            const victim = rng.pick(ready);
            if (victim) {
              killed.push(victim.pid);
              process.kill(victim.pid, "SIGKILL");
            }
          }
        }
        const r = await settleWithin(Promise.all(batch), 60_000);
        if (!r.ok) {
          bump(outcomes, "hung", batch.length);
          break;
        }
        for (const o of r.value) o === "correct" ? correct++ : bump(outcomes, o);
        if (!ctx.inTime()) break;
      }
      const seconds = +((performance.now() - t0) / 1000).toFixed(1);
      const replaced = await until(() => p.workers.filter((w) => w.state === "ready").length === size, 30_000);
      const next = await settleWithin(p.call("calls:add", [1, 1]), 10_000);
      const pids = p.workers.map((w) => w.pid).filter((pid) => pid !== null);
      await settleWithin(p.close(), 20_000);
      await sleep(200);
      return {
        value: {
          n,
          size,
          kills: killed.length,
          crashEvents: crashes.length,
          correct,
          others: outcomes,
          seconds,
          replacedAll: replaced,
          nextCall: next.ok && next.value === 2 ? "ok" : next.hung ? "hung" : `failed: ${errorClass(next.error)}`,
          leftover: [...pids, ...killed].filter(isAlive).length,
        },
      };
    } finally {
      await settleWithin(p.close(), 20_000);
    }
  },
};

async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}
