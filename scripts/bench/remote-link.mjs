/**
 * remoteLink: a remote agent (`python -m pyleash serve`) on a second host made on this machine, a network namespace
 * joined by a veth pair (test/support/netns.mjs): serial call RTT over the pair, CURVE beside NULL (the same pyzmq
 * agent and the same plain ROUTER loop, so only the mechanism differs; the built-in NULL client and Pool.listen
 * beside them), and how long a cut link (`ip link set … down`) takes to fail an in-flight call with
 * WorkerLostError and to end the agent, with the defaults (heartbeatMs 1000, lostAfterMs 5000, agent heartbeat 1000).
 * Needs root, `ip netns` and the pyzmq venv; reported pending with the reason otherwise.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { makeNetns, netnsUnsupported, removeStale } from "../../test/support/netns.mjs";
import { DIST } from "./contenders.mjs";
import { runInChild } from "./procs.mjs";
import { median, round, summarize } from "./stats.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
/** The Pool.listen and agent timeouts of the cut-link samples: the defaults, given explicitly so the figures name them. */
const LOST = { heartbeatMs: 1000, lostAfterMs: 5000, agentHeartbeatMs: 1000 };
const FLOOR = (id) => JSON.stringify({ id, type: "call", target: "math:floor", args: [7] });

// ---- child side -----------------------------------------------------------------------------------

function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export async function measure({ python, rttCalls, rttWarm, lostSamples }) {
  const { Pool, WorkerLostError } = await import(DIST);
  const { Router, curveKeyPair } = await import("zeromq");
  await removeStale();
  const host = await makeNetns();
  const keyDir = mkdtempSync(join(tmpdir(), "pyleash-bench-keys-"));
  const agents = new Set();
  const agentKeys = curveKeyPair();
  const keyFile = join(keyDir, "agent.key");
  writeFileSync(keyFile, `${agentKeys.secretKey}\n`, { mode: 0o600 });

  /** `python -m pyleash serve` in the namespace; `exit` resolves to its code and when it came. */
  const serve = (args) => {
    const [command, ...argv] = host.exec([python, "-m", "pyleash", "serve", ...args]);
    const child = spawn(command, argv, {
      env: { ...process.env, PYTHONPATH: join(ROOT, "py") },
      stdio: ["ignore", "ignore", "inherit"],
    });
    agents.add(child);
    const exit = new Promise((resolve) => child.once("exit", (code) => resolve({ code, at: performance.now() })));
    void exit.then(() => agents.delete(child));
    return { child, exit };
  };

  /** Serial math.floor(7) round trips from a plain ROUTER to the agent that joins it, µs each after a warm-up. */
  const routerRtt = async (routerOptions, agentArgs) => {
    const router = new Router({ linger: 0, receiveTimeout: 30_000, ...routerOptions });
    await router.bind(`tcp://${host.hostAddr}:0`);
    const agent = serve(["--connect", router.lastEndpoint, "--no-supervise", ...agentArgs]);
    try {
      const [peer] = await router.receive(); // its hello
      const times = [];
      for (let i = 1; i <= rttWarm + rttCalls; i++) {
        const t0 = performance.now();
        await router.send([peer, FLOOR(i)]);
        const [, reply] = await router.receive();
        if (i > rttWarm) times.push((performance.now() - t0) * 1000);
        if (!reply.toString().startsWith(`{"id":${i},`)) throw new Error(`unexpected reply ${reply.toString().slice(0, 200)}`);
      }
      return times;
    } finally {
      router.close();
      agent.child.kill("SIGKILL");
      await agent.exit;
    }
  };

  const curveArgs = (serverKey) => ["--server-key", serverKey, "--key-file", keyFile];
  try {
    const server = curveKeyPair();
    const rtt = {};
    // Plain ROUTERs first: once Pool.listen has bound its ZAP handler, libzmq asks it about every CURVE peer.
    rtt["CURVE, pyzmq agent"] = await routerRtt({ curveServer: true, curveSecretKey: server.secretKey }, [
      "--transport",
      "pyzmq",
      ...curveArgs(server.publicKey),
    ]);
    rtt["NULL, pyzmq agent (--insecure)"] = await routerRtt({}, ["--transport", "pyzmq", "--insecure"]);
    rtt["NULL, built-in agent (--insecure)"] = await routerRtt({}, ["--transport", "builtin", "--insecure"]);
    {
      const pool = await Pool.listen({ bind: `tcp://${host.hostAddr}:0`, curve: server, allow: [agentKeys.publicKey] });
      const agent = serve(["--connect", pool.endpoint, ...curveArgs(server.publicKey)]);
      try {
        await pool.waitForWorkers(1, { timeoutMs: 30_000 });
        const times = [];
        for (let i = 0; i < rttWarm + rttCalls; i++) {
          const t0 = performance.now();
          await pool.call("math:floor", [7]);
          if (i >= rttWarm) times.push((performance.now() - t0) * 1000);
        }
        rtt["CURVE, Pool.listen + pyzmq agent"] = times;
      } finally {
        await pool.close();
        agent.child.kill("SIGKILL");
        await agent.exit;
      }
    }

    const detectMs = [];
    const agentExitMs = [];
    const exitCodes = [];
    for (let s = 0; s < lostSamples; s++) {
      const pool = await Pool.listen({
        bind: `tcp://${host.hostAddr}:0`,
        curve: server,
        allow: [agentKeys.publicKey],
        heartbeatMs: LOST.heartbeatMs,
        lostAfterMs: LOST.lostAfterMs,
      });
      const agent = serve(["--connect", pool.endpoint, "--heartbeat-ms", String(LOST.agentHeartbeatMs), ...curveArgs(server.publicKey)]);
      try {
        await pool.waitForWorkers(1, { timeoutMs: 30_000 });
        const inFlight = pool.call("time:sleep", [120]).then(
          () => new Error("the call returned"),
          (error) => error,
        );
        const deadline = Date.now() + 10_000;
        while (pool.workers[0].inFlight < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, 100)); // the request has crossed
        const cutAt = performance.now();
        await host.linkDown();
        const error = await within(inFlight, 60_000, "lost-agent detection");
        if (!(error instanceof WorkerLostError)) throw new Error(`the in-flight call ended with ${error}, not WorkerLostError`);
        detectMs.push(performance.now() - cutAt);
        const { code, at } = await within(agent.exit, 60_000, "the agent's own exit");
        exitCodes.push(code);
        agentExitMs.push(at - cutAt);
      } finally {
        await host.linkUp();
        await pool.close();
        agent.child.kill("SIGKILL");
        await agent.exit;
      }
    }
    return { rtt, detectMs, agentExitMs, exitCodes, addresses: [host.hostAddr, host.nsAddr] };
  } finally {
    for (const child of agents) child.kill("SIGKILL");
    await host.remove();
    rmSync(keyDir, { recursive: true, force: true });
  }
}

// ---- orchestrator side ----------------------------------------------------------------------------

export const remoteLink = {
  key: "remoteLink",
  title: "A remote agent in a network namespace: call RTT over a veth pair (CURVE vs NULL), time to detect a cut link",
  async run({ machine, config, env, log }) {
    const why = (await netnsUnsupported()) ?? (machine.pyzmqPython ? undefined : "no pyzmq venv (npm test makes it)");
    if (why) return { value: null, pending: `not measured: ${why}` };
    const args = {
      python: machine.pyzmqPython.path,
      rttCalls: config.remoteRttCalls,
      rttWarm: config.rttWarm,
      lostSamples: config.remoteLostSamples,
    };
    const out = await runInChild("remote-link.mjs", "measure", args, { env, timeoutMs: 600_000 });
    const rttUs = Object.fromEntries(Object.entries(out.rtt).map(([k, v]) => [k, summarize(v, 1)]));
    const curve = rttUs["CURVE, pyzmq agent"].p50;
    const plain = rttUs["NULL, pyzmq agent (--insecure)"].p50;
    const spread = (v) => ({ median: round(median(v), 0), min: round(Math.min(...v), 0), max: round(Math.max(...v), 0) });
    const value = {
      rttUs,
      curveVsNull: curve && plain ? round(curve / plain, 2) : null,
      lostDetectMs: spread(out.detectMs),
      agentExitMs: spread(out.agentExitMs),
      agentExitCodes: out.exitCodes,
      ...LOST,
    };
    log(
      `remoteLink: rtt p50 ${JSON.stringify(Object.fromEntries(Object.entries(rttUs).map(([k, v]) => [k, v.p50])))} µs; lost after ${value.lostDetectMs.median} ms; agent exit after ${value.agentExitMs.median} ms`,
    );
    return {
      value,
      detail: {
        samplesMs: { detect: out.detectMs.map((v) => round(v, 0)), agentExit: out.agentExitMs.map((v) => round(v, 0)) },
        addresses: out.addresses,
      },
      method:
        `a network namespace and a veth pair made for the run (${out.addresses.join(" ↔ ")}/30), the agent inside it ` +
        `(python -m pyleash serve, pyzmq venv), the controller outside; RTT: ${config.remoteRttCalls} serial math.floor(7) calls ` +
        `after ${config.rttWarm} untimed, from a plain zeromq.js ROUTER (CURVE server, or NULL) speaking the protocol, and from ` +
        `Pool.listen; curveVsNull is the CURVE/NULL ratio of p50s with the pyzmq agent on both. Cut link: a Pool.listen with its ` +
        `defaults (heartbeatMs ${LOST.heartbeatMs}, lostAfterMs ${LOST.lostAfterMs}) and an agent with its default --heartbeat-ms ${LOST.agentHeartbeatMs}, one time.sleep call in ` +
        `flight, then ip link set <our end> down: ms until the call rejects with WorkerLostError, and until the agent process exits ` +
        `(its code in agentExitCodes; 75 is controllerLost); median of ${config.remoteLostSamples} samples, the link restored between.`,
    };
  },
};
