/**
 * fuzz (protocol level): malformed requests through a real Worker (`worker.request`, @internal) and, for what the
 * Worker cannot encode (no id, NaN ids, non-JSON, non-UTF-8, 5,000-digit integers), raw frames from a ROUTER of our
 * own. After each batch the next good call must succeed; every request must be answered or rejected; agent RSS is
 * sampled. A batch whose good call fails means the agent went deaf: the first unanswered input is the culprit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Router } from "zeromq";
import { FIXTURES, TAG_ENV, bump, errorClass, settleWithin, spawnAgent, statusKb } from "./common.mjs";

const REQUEST_TIMEOUT_MS = 3_000; // an answer later than this counts as none (a deaf agent)

export const fuzzProtocol = {
  key: "fuzzProtocol",
  title: "protocol-level fuzzing: malformed requests through a Worker and as raw frames",
  async run(ctx) {
    const worker = await workerLane(ctx);
    const raw = await rawLane(ctx);
    return { value: { worker, raw } };
  },
};

/** The first inputs of a lane walk every class once (so even a quick run meets each), then classes are drawn by weight. */
function coverFirst(rng, weights, index) {
  const kinds = Object.keys(weights);
  return index < kinds.length && weights[kinds[index]] > 0 ? kinds[index] : rng.weighted(weights);
}

export const nest = (depth, leaf = 1) => {
  /** @type {unknown} */
  let v = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

const SAFE_TARGETS = [
  "math:floor",
  "builtins:len",
  "calls:echo",
  "nonexistent_mod_zz:f",
  "math:",
  ":floor",
  "math:floor.x.y",
  "../x:y",
  "math:__class__",
  "",
  "os",
  "a:b:c",
  "\u0000:\u0000",
  "x".repeat(10_000),
  "calls:",
  "calls:echo.__globals__",
];

/** A malformed request body for `worker.request` (the connection adds a good id) and its class. */
function workerBody(rng, retired, index) {
  const weights = {
    unknownType: 2,
    missingField: 3,
    wrongType: 6,
    badTarget: 3,
    badEnum: 2,
    badNumbers: 3,
    strangeStrings: 2,
    extraFields: 1,
    deepArgs: 1,
    taskObject: 1,
    deepTop: 0.3,
    bigString: 0.3,
  };
  for (const k of retired) weights[k] = 0;
  const kind = coverFirst(rng, weights, index);
  const anyValue = () => rng.pick([null, true, 0, -1, 1.5, 1e308, -1e308, "", "x", [], [1, "a"], {}, { a: 1 }, nest(5)]);
  const _type = rng.pick(["call", "ping", "start", "stop", "stack", "threads"]);
  switch (kind) {
    case "unknownType":
      return [kind, { type: rng.pick([rng.string(8), "", "CALL", "hello", "task-ended", "__proto__", "constructor"]) }];
    case "missingField": {
      const body = rng.pick([
        { type: "call" },
        { type: "call", args: [1] },
        { type: "start" },
        { type: "start", target: "blocking:returns_soon" },
        { type: "stop" },
        { type: "stack" },
        { type: "start", task: `m${rng.int(1e9)}` },
      ]);
      return [kind, body];
    }
    case "wrongType": {
      const field = rng.pick(["target", "args", "kwargs", "task", "kind", "strategy", "graceMs", "deadlineMs", "trace", "name", "type"]);
      const body = { type: rng.pick(["call", "start", "stop", "stack"]), target: "math:floor", args: [2.5], task: `w${rng.int(1e9)}` };
      body[field] = anyValue();
      if (body.type === "start" && body.target === "math:floor" && field !== "target") body.target = "nonexistent_mod_zz:f";
      return [kind, body];
    }
    case "badTarget":
      return [kind, { type: "call", target: rng.pick(SAFE_TARGETS), args: rng.pick([[], [2.5], [1, 2, 3]]) }];
    case "badEnum":
      return [
        kind,
        rng.pick([
          {
            type: "start",
            task: `e${rng.int(1e9)}`,
            target: "blocking:returns_soon",
            args: [1],
            kind: rng.pick(["fiber", "", "THREAD", "process "]),
          },
          { type: "stop", task: `e${rng.int(1e9)}`, strategy: rng.pick(["nuke", "", "AUTO", "signal\u0000"]) },
        ]),
      ];
    case "badNumbers":
      return [
        kind,
        rng.pick([
          { type: "stop", task: `n${rng.int(1e9)}`, graceMs: rng.pick([-1, -1e308, 1e308, 0.5, Number.MAX_SAFE_INTEGER]) },
          { type: "stop", task: `n${rng.int(1e9)}`, deadlineMs: rng.pick([-5, 1e308, Number.MIN_VALUE]) },
          { type: "call", target: "math:floor", args: [rng.pick([1e308, -1e308, 2 ** 53 + 1, Number.MIN_VALUE, -0])] },
        ]),
      ];
    case "strangeStrings": {
      const s = rng.pick(["\ud800", "\udfff", "a\u0000b", "\uffff", "😀".repeat(100), "\u202e", "\\", '"}']);
      return [
        kind,
        rng.pick([
          { type: "call", target: "calls:echo", args: [s] },
          { type: "stack", task: s },
          { type: "call", target: s },
        ]),
      ];
    }
    case "extraFields":
      return [kind, { type: "ping", [rng.string(6)]: anyValue(), __proto__x: 1, constructor: "x", "\u0000": 1 }];
    case "deepArgs":
      return [kind, { type: "call", target: "builtins:len", args: [nest(rng.pick([100, 500, 900, 990, 1000, 1500, 3000]))] }];
    case "taskObject":
      return [kind, { type: rng.pick(["stop", "stack"]), task: rng.pick([[], ["t1"], {}, { id: "t1" }]) }];
    case "deepTop":
      return [kind, { type: "call", target: "builtins:len", args: [1], junk: nest(10_000) }];
    case "bigString":
      return [kind, { type: "call", target: "builtins:len", args: ["y".repeat(1 << 20)] }];
  }
  throw new Error(kind);
}

async function workerLane(ctx) {
  const { protocolRequests: total, batch } = ctx.config;
  const rng = ctx.rng("protocol-worker");
  const out = {
    tried: 0,
    answered: {},
    unanswered: 0,
    batches: 0,
    goodCallAfterBatch: 0,
    unansweredBatches: 0,
    deafBatches: 0,
    culprits: {},
    rssKb: {},
    retired: [],
  };
  const deaths = {};
  let worker = await ctx.Worker.start({ pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport, output: "ignore" });
  const rss = [statusKb(worker.pid)];
  try {
    for (let start = 0; start < total && ctx.inTime(); start += batch) {
      const n = Math.min(batch, total - start);
      const inputs = [];
      for (let i = 0; i < n; i++) inputs.push(workerBody(rng, out.retired, start + i));
      const results = await Promise.all(
        inputs.map(([, body]) => settleWithin(worker.request(body, { timeoutMs: REQUEST_TIMEOUT_MS }), REQUEST_TIMEOUT_MS * 3)),
      );
      out.tried += n;
      out.batches++;
      let culprit;
      const silent = {};
      for (const [i, r] of results.entries()) {
        if (unanswered(r)) {
          out.unanswered++;
          bump(silent, inputs[i][0]);
          culprit ??= i;
        } else bump(out.answered, r.ok ? "ok" : errorClass(r.error));
      }
      const good = await settleWithin(worker.call("math:floor", [2.7], {}, { timeoutMs: REQUEST_TIMEOUT_MS }), REQUEST_TIMEOUT_MS * 3);
      const r = statusKb(worker.pid);
      if (r) rss.push(r);
      if (good.ok && good.value === 2 && culprit === undefined) {
        out.goodCallAfterBatch++;
        continue;
      }
      if (good.ok && good.value === 2) {
        // Not deaf: some requests were dropped without a reply while the agent kept serving.
        out.unansweredBatches++;
        for (const kind of Object.keys(silent)) {
          const i = results.findIndex((r, k) => inputs[k][0] === kind && unanswered(r));
          ctx.finding("fuzz-protocol", `"${kind}" requests left without a reply (the agent kept answering others)`, {
            seed: ctx.seed,
            lane: "worker",
            index: start + i,
            input: JSON.stringify(inputs[i][1]).slice(0, 200),
          });
        }
        continue;
      }
      out.deafBatches++;
      // Concurrent requests cannot tell which one deafened the agent: replay the batch one at a time on a fresh agent.
      await settleWithin(worker.restart("torture: deaf agent"), 15_000);
      const found = await replay(worker, inputs);
      const [kind, body] = inputs[found.index ?? culprit ?? 0];
      bump(out.culprits, found.index === undefined ? `${kind} (not reproduced alone)` : kind);
      deaths[kind] = (deaths[kind] ?? 0) + 1;
      if (deaths[kind] >= ctx.config.deathsPerClass && !out.retired.includes(kind)) out.retired.push(kind);
      ctx.finding(
        "fuzz-protocol",
        `agent deaf after a "${kind}" request${found.index === undefined ? " (batch only; not reproduced alone)" : ""}`,
        {
          seed: ctx.seed,
          lane: "worker",
          index: start + (found.index ?? culprit ?? 0),
          input: JSON.stringify(body).slice(0, 200),
          unansweredInBatch: silent,
        },
      );
      const restarted = await settleWithin(worker.restart("torture: deaf agent"), 15_000);
      if (!restarted.ok) {
        await settleWithin(worker.close(), 10_000);
        worker = await ctx.Worker.start({ pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport, output: "ignore" });
      }
      const after = statusKb(worker.pid);
      if (after) rss.push(after);
    }
  } finally {
    await settleWithin(worker.close(), 10_000);
  }
  out.rssKb = { first: rss[0], max: Math.max(...rss.filter(Boolean)), last: rss[rss.length - 1] };
  return out;
}

/** A request that got no answer: still pending at the detector, or rejected by its own timeout. */
const unanswered = (r) => r.hung || (!r.ok && /timed? ?out/i.test(`${errorClass(r.error)} ${r.error?.message}`));

/** Send inputs one by one; the first after which a good call fails is the culprit. */
async function replay(worker, inputs) {
  for (const [index, [, body]] of inputs.entries()) {
    const r = await settleWithin(worker.request(body, { timeoutMs: REQUEST_TIMEOUT_MS }), REQUEST_TIMEOUT_MS * 3);
    if (r.ok || !(r.hung || /timed? ?out/i.test(`${r.error?.message}`))) continue;
    const good = await settleWithin(worker.call("math:floor", [2.7], {}, { timeoutMs: REQUEST_TIMEOUT_MS }), REQUEST_TIMEOUT_MS * 3);
    if (!good.ok) return { index };
  }
  return {};
}

/** A raw frame (Buffer) for our own ROUTER, and its class. `id` is the integer we expect in the reply, if any. */
function rawFrame(rng, retired, id, index) {
  const weights = { notJson: 3, notUtf8: 2, notObject: 2, noId: 1, badId: 3, hugeInt: 1, deepTop: 1, duplicateKeys: 1, nanValues: 1 };
  for (const k of retired) weights[k] = 0;
  const kind = coverFirst(rng, weights, index);
  const text = (s) => [kind, Buffer.from(s)];
  switch (kind) {
    case "notJson":
      return text(rng.pick(["", "{", "}", '{"type":', "nul", "{'type': 'ping'}", rng.string(50, '{}[]":,0123456789abc')]));
    case "notUtf8":
      return [
        kind,
        Buffer.concat([
          Buffer.from(`{"type":"call","id":${id},"target":"calls:echo","args":["`),
          rng.bytes(1 + rng.int(20)).map((b) => b | 0x80),
          Buffer.from('"]}'),
        ]),
      ];
    case "notObject":
      return text(rng.pick(["null", "[]", "123", '"ping"', "true", `[{"type":"ping","id":${id}}]`]));
    case "noId":
      return text(rng.pick(['{"type":"ping"}', '{"type":"call","target":"math:floor","args":[1.5]}', '{"type":"nosuch"}']));
    case "badId":
      return text(
        `{"type":"ping","id":${rng.pick(["NaN", "Infinity", "-Infinity", "1.5", '"7"', "null", "18446744073709551616", "-1", "true", "[1]", "{}"])}}`,
      );
    case "hugeInt":
      return text(`{"type":"call","id":${id},"target":"builtins:len","args":[${"9".repeat(rng.pick([4000, 4300, 4301, 5000]))}]}`);
    case "deepTop":
      return text("[".repeat(rng.pick([1000, 10_000, 100_000])) + "]".repeat(0));
    case "duplicateKeys":
      return text(`{"type":"ping","id":${id},"id":${id},"type":"nosuch"}`);
    case "nanValues":
      return text(`{"type":"call","id":${id},"target":"calls:echo","args":[NaN, Infinity]}`);
  }
  throw new Error(kind);
}

/** Our own ROUTER and a hand-spawned agent: lets us send frames no Worker would. */
let rawAgents = 0;

export async function rawAgent(ctx, dir) {
  const router = new Router({ linger: 0 });
  const endpoint = `ipc://${join(dir, `a${++rawAgents}.sock`)}`;
  await router.bind(endpoint);
  const agent = spawnAgent(ctx.python, { endpoint, transport: "builtin" });
  const replies = new Map();
  let peer;
  const helloed = new Promise((resolve) => {
    void (async () => {
      try {
        for await (const [id, frame] of router) {
          let msg;
          try {
            msg = JSON.parse(frame.toString());
          } catch {
            continue;
          }
          if (msg.type === "hello") {
            if (msg.token === agent.token) {
              peer = id;
              resolve(true);
            }
          } else if (!("type" in msg)) replies.set(msg.id, msg);
        }
      } catch {}
    })();
  });
  const ok = await settleWithin(helloed, 15_000);
  if (!ok.ok) {
    await agent.kill();
    router.close();
    throw new Error(`raw agent sent no hello: ${agent.stderr()}`);
  }
  return {
    agent,
    replies,
    pid: agent.child.pid,
    send: (frame) => router.send([peer, frame]),
    async close() {
      await agent.kill();
      router.close();
    },
  };
}

/** Classes whose frame is JSON with an integer id: the protocol promises them an answer. */
const USABLE_ID = new Set(["hugeInt", "duplicateKeys", "nanValues"]);

async function rawLane(ctx) {
  const rng = ctx.rng("protocol-raw");
  const out = { tried: 0, replies: {}, usableIdUnanswered: 0, deaths: 0, culprits: {}, retired: [], rssKb: {} };
  const deaths = {};
  const strikes = {};
  const dir = mkdtempSync(join(tmpdir(), "pyleash-torture-raw-"));
  let raw = await rawAgent(ctx, dir);
  const rss = [statusKb(raw.pid)];
  let id = 1;
  try {
    for (let i = 0; i < ctx.config.rawFrames && ctx.inTime(); i++) {
      const expect = id++;
      const [kind, frame] = rawFrame(rng, out.retired, expect, i);
      const sentinel = id++;
      await raw.send(frame);
      await raw.send(Buffer.from(JSON.stringify({ type: "ping", id: sentinel })));
      out.tried++;
      // A call's reply comes from the pool and may trail the ping's, which the control thread answers itself.
      const waitFor = USABLE_ID.has(kind) ? [sentinel, expect] : [sentinel];
      const deadline = Date.now() + REQUEST_TIMEOUT_MS;
      while (!waitFor.every((k) => raw.replies.has(k)) && Date.now() < deadline && raw.agent.child.exitCode === null)
        await new Promise((r) => setTimeout(r, 1));
      const answered = raw.replies.get(expect) ?? raw.replies.get(null);
      bump(out.replies, answered ? `${kind}: ${answered.status}` : `${kind}: no reply`);
      const alive = raw.replies.has(sentinel);
      raw.replies.clear();
      if (!answered && USABLE_ID.has(kind) && alive) {
        out.usableIdUnanswered++;
        strikes[kind] = (strikes[kind] ?? 0) + 1; // each costs a hang detector: retire the class after a few
        if (strikes[kind] >= ctx.config.deathsPerClass && !out.retired.includes(kind)) out.retired.push(kind);
        ctx.finding(
          "fuzz-protocol",
          `no reply within ${REQUEST_TIMEOUT_MS / 1000} s to a raw "${kind}" request, though it carries a usable id`,
          { seed: ctx.seed, lane: "raw", index: i, input: frame.subarray(0, 120).toString() },
        );
      }
      if (i % 500 === 0) {
        const r = statusKb(raw.pid);
        if (r) rss.push(r);
      }
      if (alive) continue;
      out.deaths++;
      bump(out.culprits, kind);
      deaths[kind] = (deaths[kind] ?? 0) + 1;
      if (deaths[kind] >= ctx.config.deathsPerClass && !out.retired.includes(kind)) out.retired.push(kind);
      const exit = raw.agent.child.exitCode;
      ctx.finding("fuzz-protocol", `agent ${exit === null ? "deaf" : `exited ${exit}`} after a raw "${kind}" frame`, {
        seed: ctx.seed,
        lane: "raw",
        index: i,
        input: frame.subarray(0, 120).toString(),
      });
      await raw.close();
      raw = await rawAgent(ctx, dir);
    }
  } finally {
    await raw.close();
    rmSync(dir, { recursive: true, force: true });
  }
  out.rssKb = { first: rss[0], max: Math.max(...rss.filter(Boolean)), last: rss[rss.length - 1] };
  return out;
}
