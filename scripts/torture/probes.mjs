/**
 * probes: the single inputs issue 9 found to deafen or kill the agent, each sent once to an agent of its own (in
 * parallel, so a deaf agent costs one hang detector, not one each). A probe passes when its request is answered
 * (when it carries a usable id) and the agent answers a ping afterwards. The fuzz sections find such inputs at
 * random; these make sure every known one is tried on every run, quick or full.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, TAG_ENV, errorClass, settleWithin, sleep } from "./common.mjs";
import { nest, rawAgent } from "./fuzz-protocol.mjs";

const ANSWER_MS = 3_000; // a reply or a ping answer later than this counts as none

const deep = (n) => "[".repeat(n) + "]".repeat(n);
/** name → a raw frame (with `id` 1 when it carries a usable one), or `api` for the public Worker API. */
export const PROBES = {
  "call without id": { frame: '{"type":"call","target":"math:floor","args":[1.5]}' },
  "id NaN": { frame: '{"type":"ping","id":NaN}' },
  "stack whose task is a list": { frame: '{"type":"stack","id":1,"task":["t1"]}', id: 1 },
  "stop whose task is an object": { frame: '{"type":"stop","id":1,"task":{"id":"t1"}}', id: 1 },
  "top-level nesting 10,000": { frame: deep(10_000) },
  "args nested 1,000 deep (raw)": { frame: `{"type":"call","id":1,"target":"builtins:len","args":[${deep(1000)}]}`, id: 1 },
  "5,000-digit integer": { frame: `{"type":"call","id":1,"target":"builtins:len","args":[${"9".repeat(5000)}]}`, id: 1 },
  "NaN in args (result not JSON)": { frame: '{"type":"call","id":1,"target":"calls:echo","args":[NaN]}', id: 1 },
  "NaN and Infinity in args (result not JSON)": { frame: '{"type":"call","id":1,"target":"calls:echo","args":[NaN,Infinity]}', id: 1 },
  "type that is not a string, with an integer id": { frame: '{"type":0,"id":1}', id: 1 },
  "worker.call with an array nested 1,000 deep": { api: true },
};

export const probes = {
  key: "probes",
  title: "the known deafening inputs of issue 9, one agent each",
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), "pyleash-torture-probe-"));
    const out = {};
    try {
      const names = Object.keys(PROBES);
      for (let i = 0; i < names.length; i += ctx.config.probeParallel) {
        const slice = names.slice(i, i + ctx.config.probeParallel);
        const results = await Promise.all(slice.map((name) => (PROBES[name].api ? apiProbe(ctx) : rawProbe(ctx, dir, PROBES[name]))));
        for (const [k, name] of slice.entries()) out[name] = results[k];
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const [name, r] of Object.entries(out)) {
      if (!r.ok) ctx.finding("probes", `${name}: ${r.answer}; agent afterwards: ${r.after}`, { probe: name });
    }
    return { value: out };
  },
};

async function rawProbe(ctx, dir, probe) {
  const raw = await rawAgent(ctx, dir);
  try {
    await raw.send(Buffer.from(probe.frame));
    const deadline = Date.now() + ANSWER_MS;
    while (probe.id !== undefined && !raw.replies.has(probe.id) && Date.now() < deadline) await sleep(5);
    const reply = probe.id === undefined ? raw.replies.get(null) : raw.replies.get(probe.id);
    const answer = reply
      ? `${reply.status}${reply.error ? ` (${reply.error.kind})` : ""}`
      : probe.id === undefined
        ? "no id to answer"
        : "no reply";
    await raw.send(Buffer.from(JSON.stringify({ type: "ping", id: 2 })));
    const until = Date.now() + ANSWER_MS;
    while (!raw.replies.has(2) && Date.now() < until && raw.agent.child.exitCode === null) await sleep(5);
    const after = raw.replies.has(2) ? "answers" : raw.agent.child.exitCode !== null ? `exited ${raw.agent.child.exitCode}` : "deaf";
    return { answer, after, ok: after === "answers" && (probe.id === undefined || reply !== undefined) };
  } finally {
    await raw.close();
  }
}

async function apiProbe(ctx) {
  const worker = await ctx.Worker.start({ pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport, output: "ignore" });
  try {
    const r = await settleWithin(worker.call("builtins:len", [nest(1000)], {}, { timeoutMs: ANSWER_MS }), ANSWER_MS * 3);
    const answer = r.ok ? `ok (${r.value})` : r.hung ? "hung" : `${errorClass(r.error)}: ${String(r.error?.message).slice(0, 60)}`;
    const good = await settleWithin(worker.call("math:floor", [2.7], {}, { timeoutMs: ANSWER_MS }), ANSWER_MS * 3);
    const after = good.ok && good.value === 2 ? "answers" : "deaf";
    const timedOut = !r.ok && (r.hung || /timed out/.test(String(r.error?.message)));
    return { answer, after, ok: after === "answers" && !timedOut };
  } finally {
    await settleWithin(worker.close(), 10_000);
  }
}
