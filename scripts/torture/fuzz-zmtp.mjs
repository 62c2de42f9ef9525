/**
 * fuzz (ZMTP level): malformed server streams against the agent's built-in transport (py/pyleash/transport/zmtp.py).
 * In bulk, a Python driver lets the real ZmtpTransport connect to each input (zmtp_fuzz.py); then a slice goes to
 * live agents, with this process as the ROUTER on a plain unix socket: each agent must drop the connection and exit,
 * never hang.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { AGENT_PY, TAG_ENV, bump, settleWithin, spawnAgent, statusKb } from "./common.mjs";

const DRIVER = new URL("./zmtp_fuzz.py", import.meta.url).pathname;
const STALL_MS = 20_000; // the driver prints a line per 500 inputs; this long without one is a hang

export const fuzzZmtp = {
  key: "fuzzZmtp",
  title: "ZMTP-level fuzzing of the built-in transport",
  async run(ctx) {
    const bulk = await driver(ctx);
    const live = await liveAgents(ctx);
    return { value: { bulk, live } };
  },
};

async function driver(ctx) {
  const { zmtpInputs: count, zmtpSeconds: seconds } = ctx.config;
  ctx.log(`fuzz-zmtp: ${count} inputs through ZmtpTransport (seed ${ctx.seed})`);
  const child = spawn(ctx.python, [DRIVER, "run", String(ctx.seed), String(count), String(seconds)], {
    env: { ...process.env, ...TAG_ENV, PYTHONPATH: AGENT_PY },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let last = Date.now();
  /** @type {any} */
  let final;
  let buffered = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-2000)));
  child.stdout.on("data", (d) => {
    last = Date.now();
    buffered += d;
    for (let nl; (nl = buffered.indexOf("\n")) >= 0; buffered = buffered.slice(nl + 1)) {
      const line = JSON.parse(buffered.slice(0, nl));
      if (line.progress === undefined) final = line;
    }
  });
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  let stalled = false;
  while (!(await settleWithin(exited, 500)).ok) {
    if (Date.now() - last > STALL_MS) {
      stalled = true;
      child.kill("SIGKILL");
    }
  }
  const exit = await exited;
  if (!final) return { tried: 0, hung: stalled ? 1 : 0, error: `driver exited ${exit.code ?? exit.signal}: ${stderr}` };
  if (final.maxRssKb - final.startRssKb > 64 * 1024) {
    ctx.finding(
      "fuzz-zmtp",
      `the fuzz driver's RSS rose by ${Math.round((final.maxRssKb - final.startRssKb) / 1024)} MiB: a 9-byte LONG frame header announcing up to the 256 MiB limit makes the Decoder allocate (and fill) the whole frame before any of it arrives, so one peer can cost the agent 256 MiB per connection`,
      { seed: ctx.seed, input: "greeting + READY + 02 0000000010000000 + a few bytes" },
    );
  }
  for (const u of final.unexpected ?? [])
    ctx.finding("fuzz-zmtp", `ZmtpTransport raised ${u.error.split(":")[0]} (not TransportError) on a "${u.kind}" stream`, {
      seed: ctx.seed,
      index: u.index,
      input: u.input,
    });
  return { ...final, hung: stalled ? 1 : 0 };
}

/** Each live agent connects to our socket, receives one fuzz input (after its greeting) and must exit. */
async function liveAgents(ctx) {
  const n = ctx.config.zmtpLiveAgents;
  const { stdout } = await promisify(execFile)(ctx.python, [DRIVER, "emit", String(ctx.seed + 1), String(n)], {
    env: { ...process.env, PYTHONPATH: AGENT_PY },
    maxBuffer: 1 << 24,
  });
  const inputs = stdout
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .map(([kind, hex]) => ({ kind, data: Buffer.from(hex ?? "", "hex") }));
  const dir = mkdtempSync(join(tmpdir(), "pyleash-torture-live-"));
  const out = { agents: 0, exits: {}, hung: 0, maxExitMs: 0, maxRssKb: 0 };
  try {
    for (const [i, input] of inputs.entries()) {
      if (!ctx.inTime()) break;
      if (i % 10 === 0) ctx.log(`fuzz-zmtp: live agent ${i + 1}/${inputs.length}`);
      const path = join(dir, `r${i}.sock`);
      const server = createServer((socket) => {
        socket.on("error", () => {});
        socket.end(input.data); // the agent's greeting arrives meanwhile; we never wait for it
      });
      await new Promise((r) => server.listen(path, () => r(undefined)));
      const agent = spawnAgent(ctx.python, { endpoint: `ipc://${path}` });
      const t0 = performance.now();
      let rss = 0;
      const sampler = setInterval(() => (rss = Math.max(rss, statusKb(agent.child.pid, "VmHWM") ?? 0)), 20);
      const exit = await settleWithin(agent.exited, 10_000);
      clearInterval(sampler);
      out.agents++;
      out.maxRssKb = Math.max(out.maxRssKb, rss);
      if (exit.hung) {
        out.hung++;
        bump(out.exits, "alive after 10 s");
        ctx.finding("fuzz-zmtp", `agent alive 10 s after a malformed stream (${input.kind})`, {
          seed: ctx.seed + 1,
          index: i,
          input: input.data.subarray(0, 80).toString("hex"),
        });
      } else {
        out.maxExitMs = Math.max(out.maxExitMs, Math.round(performance.now() - t0));
        bump(out.exits, exit.value.signal ? `signal ${exit.value.signal}` : `exit ${exit.value.code}`);
      }
      await agent.kill();
      server.close(); // not awaited: its callback waits on connections the dead agent may never close
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
