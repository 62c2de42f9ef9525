/**
 * Child Node processes of the harness. Each contender lives in a host process of its own (its own event
 * loop and heap, like a real application), driven over Node IPC; timing happens inside the host, so the IPC
 * is never measured. One-shot children (cold start, memory) report once and exit.
 * Children's stdout goes to our stderr: pythonia's Python inherits it, and --json owns our stdout.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";

const CHILD = new URL("./child.mjs", import.meta.url).pathname;
const live = new Set();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function spawnChild(args, env, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, CHILD, ...args], {
    stdio: ["ignore", 2, "inherit", "ipc"],
    env: { ...process.env, ...env },
  });
  live.add(child);
  const exited = once(child, "exit").then(([code, signal]) => {
    live.delete(child);
    return { code, signal };
  });
  return { child, exited };
}

/** Run a one-shot child (`node [nodeArgs] child.mjs MODE CONFIG`) and resolve to the one message it sends. */
export async function runOnce(mode, config, { env = {}, nodeArgs = [], timeoutMs = 120_000 } = {}) {
  const { child, exited } = spawnChild([mode, JSON.stringify(config)], env, nodeArgs);
  /** @type {any} */
  let message;
  child.on("message", (m) => (message = m));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const { code, signal } = await exited;
  clearTimeout(timer);
  if (message?.error) throw new Error(`${mode} ${JSON.stringify(config)}: ${message.error}`);
  if (message === undefined || code !== 0) {
    throw new Error(`${mode} ${JSON.stringify(config)}: child ended (${signal ?? code}) without a result`);
  }
  return message.result;
}

/** Start a host for one contender; resolves once its contender is open and warmed up. */
export async function openHost(name, config, env = {}) {
  const { child, exited } = spawnChild(["host", JSON.stringify({ name, ...config })], env);
  const waiting = new Map();
  let nextId = 0;
  let ended;
  const ready = new Promise((resolve, reject) => {
    child.on("message", (/** @type {any} */ m) => {
      if (m.ready) return resolve(m);
      if (m.fatal) return reject(new Error(`${name} host: ${m.fatal}`));
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`${name} host: ${m.error}`));
      else w?.resolve(m.result);
    });
    void exited.then(({ code, signal }) => {
      ended = new Error(`${name} host exited (${signal ?? code})`);
      reject(ended);
      for (const w of waiting.values()) w.reject(ended);
      waiting.clear();
    });
  });
  const info = await ready;
  return {
    name,
    agentPid: info.agentPid,
    /** Run `cmd` in the host (see child.mjs) and resolve to its result. */
    run(cmd, args = {}) {
      if (ended) return Promise.reject(ended);
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, cmd, args });
      });
    },
    /** Close the contender and wait for the host to exit (SIGKILL after 10 s). */
    async close() {
      if (!ended && child.connected) child.send({ id: 0, cmd: "close" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Call `exportName(args)` of the section module `module` (a path relative to scripts/bench/) in a fresh child. */
export function runInChild(module, exportName, args, options = {}) {
  return runOnce("run", { module, export: exportName, args }, options);
}
