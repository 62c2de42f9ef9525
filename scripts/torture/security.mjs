/**
 * security: peers that are not the agent, on the worker's tcp endpoint: a wrong token, forged hellos, forged replies
 * for every id in use, forged task events, garbage. Nothing they send may be accepted, and they may receive nothing.
 */
import { Dealer } from "zeromq";
import { FIXTURES, TAG_ENV, settleWithin } from "./common.mjs";

export const security = {
  key: "security",
  title: "rogue peers on the tcp endpoint",
  async run(ctx) {
    const out = {
      rounds: 0,
      rogueFrames: 0,
      forgedAccepted: 0,
      rogueReceived: 0,
      realCallsCorrect: 0,
      realCalls: 0,
      tasksCorrect: 0,
      tasks: 0,
    };
    for (let round = 0; round < ctx.config.securityRounds && (round === 0 || ctx.inTime()); round++) {
      ctx.log(`security: round ${round + 1}/${ctx.config.securityRounds}`);
      const worker = await ctx.Worker.start({ pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport, endpoint: "tcp" });
      const rogues = [new Dealer({ linger: 0 }), new Dealer({ linger: 0, routingId: "agent" })];
      let received = 0;
      for (const r of rogues) {
        r.connect(worker.endpoint);
        void (async () => {
          try {
            for await (const _ of r) received++;
          } catch {}
        })();
      }
      try {
        const calls = Array.from({ length: 20 }, (_, i) => worker.call("calls:sleep", [0.2 + i / 100]));
        const task = await worker.start("blocking:returns_soon", { args: ["real"] });
        /** @type {Record<string, unknown>[]} */
        const forged = [
          { type: "hello", protocol: 2, token: "0".repeat(48), pid: 1, python: "3.99.0" },
          { type: "hello", protocol: 2, token: "", pid: 1, python: "3.99.0" },
          { type: "hello", protocol: 2, pid: 1 },
          { type: "hello", protocol: 2, token: null, pid: 1 },
        ];
        for (let id = 0; id <= 200; id++)
          forged.push(
            { id, status: "ok", result: "forged" },
            { id, status: "error", error: { kind: "exception", type: "Forged", message: "forged" } },
          );
        forged.push(
          { type: "task-ended", task: task.id, status: "finished", result: "forged" },
          { type: "task-started", task: task.id, ident: 1 },
        );
        for (const r of rogues) {
          for (const m of forged) {
            await r.send(JSON.stringify(m));
            out.rogueFrames++;
          }
          for (const junk of ["", "{", "\u0000", "null", "[]"]) {
            await r.send(junk);
            out.rogueFrames++;
          }
        }
        const values = await settleWithin(Promise.all(calls), 30_000);
        const result = await settleWithin(task.result, 30_000);
        out.realCalls += calls.length;
        out.tasks++;
        if (values.ok) out.realCallsCorrect += values.value.filter((v, i) => v === 0.2 + i / 100).length;
        if (result.ok && result.value === "real") out.tasksCorrect++;
        const forgedSeen =
          (values.ok ? values.value.filter((v) => v === "forged").length : 0) + (result.ok && result.value === "forged" ? 1 : 0);
        out.forgedAccepted += forgedSeen;
        const after = await settleWithin(worker.call("math:floor", [2.7]), 10_000);
        if (!(after.ok && after.value === 2)) out.forgedAccepted++;
      } finally {
        for (const r of rogues) r.close();
        await settleWithin(worker.close(), 10_000);
      }
      out.rogueReceived += received;
      out.rounds++;
    }
    if (out.forgedAccepted) ctx.finding("security", `${out.forgedAccepted} forged values accepted`, { seed: ctx.seed });
    return { value: out };
  },
};
