/**
 * Entry of the harness's child processes: `node child.mjs MODE CONFIG_JSON`, reporting over Node IPC.
 *   host  — opens one contender, warms it up and serves commands (rtt, pipelined, ctx, reopen, close) until closed.
 *   fresh — from nothing to the first call's result in this fresh process, then optionally the agent's RSS.
 *   heap  — the controller's heap growth over many calls (needs node --expose-gc).
 *   run   — `config.export` of the section module `config.module` called with `config.args`; its result.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

const started = performance.now(); // before any of the libraries is loaded: cold start counts from here
// Node consumed these at boot; Python agents must not inherit a stale IPC descriptor number.
delete process.env.NODE_CHANNEL_FD;
delete process.env.NODE_CHANNEL_SERIALIZATION_MODE;

const {
  positionals: [mode, raw],
} = parseArgs({ args: process.argv.slice(2), options: {}, allowPositionals: true });
const config = JSON.parse(raw ?? "{}");
const { openContender, rssMb } = await import("./contenders.mjs");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function fresh() {
  const t0 = started;
  const contender = await openContender(config.name, config.python);
  await contender.call();
  const coldMs = performance.now() - t0;
  const result = { coldMs, nodeBootMs: t0 };
  try {
    if (config.settleMs) {
      await sleep(config.settleMs);
      result.agentRssMb = rssMb(contender.agentPid);
    }
  } finally {
    await contender.close();
  }
  return result;
}

async function heap() {
  if (typeof globalThis.gc !== "function") throw new Error("heap mode needs node --expose-gc");
  const { pipelinedRate } = await import("./calls.mjs");
  const settle = async () => {
    for (let i = 0; i < 4; i++) {
      globalThis.gc();
      await sleep(20); // let finalizers and pending callbacks run between collections
    }
    return process.memoryUsage().heapUsed / 2 ** 20;
  };
  const contender = await openContender(config.name, config.python);
  try {
    await pipelinedRate(contender, config.warm, config.window);
    const before = await settle();
    const checkpoints = [];
    const step = Math.ceil(config.calls / 4);
    for (let done = 0; done < config.calls; done += step) {
      await pipelinedRate(contender, Math.min(step, config.calls - done), config.window);
      checkpoints.push(await settle());
    }
    const after = checkpoints.at(-1);
    return { beforeMb: before, afterMb: after, growthMb: after - before, checkpointsMb: checkpoints };
  } finally {
    await contender.close();
  }
}

/** A section's measurement in this fresh process, away from the orchestrator's event loop. */
async function runExport() {
  const mod = await import(new URL(config.module, import.meta.url).href);
  if (typeof mod[config.export] !== "function") throw new Error(`${config.module} has no export ${config.export}`);
  return mod[config.export](config.args ?? {});
}

/** A second contender of the same kind in this already-warm process: start + first call, in ms. */
async function reopen() {
  const t0 = performance.now();
  const again = await openContender(config.name, config.python);
  await again.call();
  const ms = performance.now() - t0;
  await again.close();
  return ms;
}

async function host() {
  const { pipelinedRate, rttSamples } = await import("./calls.mjs");
  const { ctxSwitchSamples } = await import("./ctx-switches.mjs");
  let contender;
  try {
    contender = await openContender(config.name, config.python);
    // Serial warm-up only: a pipelined burst grows pyleash's call pool, which changes serial latency.
    await rttSamples(contender, 0, config.warm ?? 0);
  } catch (error) {
    await contender?.close();
    process.send({ fatal: String(/** @type {any} */ (error)?.stack ?? error) }, () => process.exit(1));
    return;
  }
  let closing;
  const close = () =>
    (closing ??= contender.close().then(() => {
      if (process.connected) process.disconnect();
      setTimeout(() => process.exit(0), 1000).unref(); // should something still hold the event loop
    }));
  process.on("disconnect", () => void close()); // the harness went away: leave nothing behind
  process.on("message", async ({ id, cmd, args }) => {
    try {
      let result;
      if (cmd === "rtt") result = await rttSamples(contender, args.n, args.warm);
      else if (cmd === "pipelined") result = await pipelinedRate(contender, args.total, args.window);
      else if (cmd === "ctx") result = await ctxSwitchSamples(contender, args.n);
      else if (cmd === "reopen") result = await reopen();
      else if (cmd === "close") return void (await close());
      else throw new Error(`unknown command ${cmd}`);
      process.send({ id, result });
    } catch (error) {
      process.send({ id, error: String(/** @type {any} */ (error)?.stack ?? error) });
    }
  });
  process.send({ ready: true, agentPid: contender.agentPid });
}

if (mode === "host") {
  await host();
} else {
  try {
    const result = mode === "fresh" ? await fresh() : mode === "heap" ? await heap() : mode === "run" ? await runExport() : undefined;
    if (result === undefined) throw new Error(`unknown mode ${mode}`);
    process.send({ result }, () => process.exit(0));
  } catch (error) {
    process.send({ error: String(/** @type {any} */ (error)?.stack ?? error) }, () => process.exit(0));
  }
}
