/**
 * The physical floor of a cross-process round trip: Node and the same Python over a plain AF_UNIX
 * stream socket, 4-byte big-endian length framing, Python echoing each message back from one thread.
 * No JSON, no threads, no ZeroMQ: whatever a bridge costs above this is its own.
 * And pyleash's own floor (`floor-zeromq`): the same echo between a zeromq.js ROUTER, as the controller
 * uses, and the agent's built-in ZMTP client on one Python thread; no JSON, no pool, no request bookkeeping.
 * And `floor-zeromq-agent`: the same zeromq.js loop (none of the controller's JavaScript: a request frame encoded
 * once, the reply left undecoded) with pyleash's real agent answering it, so the Node process's CPU per call can be
 * split into what the agent's side makes it pay and what the controller's own code adds.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Router } from "zeromq";

const AGENT_DIR = fileURLToPath(new URL("../../py", import.meta.url));

/** The echo for floor-zeromq, run with `python -c`: argv[1] the agent's py/ dir, argv[2] the endpoint. */
const ZMQ_ECHO = `
import sys
sys.path.insert(0, sys.argv[1])
from pyleash.transport import open_transport
t = open_transport(sys.argv[2], "builtin")
t.send([b"ready"])
while True:
    frames = t.recv(None)
    if frames == [b"quit"]:
        break
    t.send(frames)
`;

/** Start the ZMTP echo on `python` behind a zeromq.js ROUTER; `call()` resolves when the echo comes back. */
export async function openZeromqFloor(python) {
  const dir = mkdtempSync(join(tmpdir(), "pyleash-bench-zfloor-"));
  const endpoint = `ipc://${join(dir, "echo.sock")}`;
  const router = new Router({ linger: 0 });
  await router.bind(endpoint);
  const child = spawn(python, ["-c", ZMQ_ECHO, AGENT_DIR, endpoint], { stdio: ["ignore", "ignore", "inherit"] });
  const exited = once(child, "exit");
  const incoming = router[Symbol.asyncIterator]();
  const died = exited.then(([code]) => {
    throw new Error(`floor-zeromq echo exited (${code}) before it was ready`);
  });
  died.catch(() => {}); // it exits at close() too, long after it was ready
  const first = await Promise.race([incoming.next(), died]);
  const [peer] = first.value;
  return {
    pid: child.pid,
    async call() {
      await router.send([peer, FLOOR_PAYLOAD]);
      return (await incoming.next()).value[1];
    },
    async close() {
      await router.send([peer, Buffer.from("quit")]).catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
      router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * pyleash's agent (built-in transport), spawned and greeted as a Worker does, behind a zeromq.js ROUTER driven as
 * floor-zeromq drives its echo: `call()` sends one pre-encoded call of math:floor(7), awaits the send, then receives
 * the reply (not decoded). `dist` is the build whose agent and handshake to use (its dist/index.js URL).
 */
export async function openAgentFloor(python, dist) {
  const internal = (path) => import(new URL(`./worker/${path}`, dist).href);
  const [{ Channel }, { spawnAgent, killGroup }, { waitForHello }, { resolveWorkerOptions }, { release, track }] = await Promise.all([
    internal("channel.js"),
    internal("agent-process.js"),
    internal("handshake.js"),
    internal("options.js"),
    internal("reaper.js"),
  ]);
  const resolved = resolveWorkerOptions({ python, transport: "builtin", output: "ignore" });
  // A Channel bound as a Worker's is, whose ROUTER this loop then drives itself (nothing else reads it after the hello).
  const dir = mkdtempSync(join(tmpdir(), "pyleash-bench-afloor-"));
  const endpoint = `ipc://${join(dir, "agent.sock")}`;
  const router = new Router({ linger: 0, mandatory: false, sendHighWaterMark: 0 });
  await router.bind(endpoint);
  const channel = new Channel(router, endpoint, undefined, resolved.maxMessageBytes);
  const token = randomBytes(24).toString("hex");
  const agent = spawnAgent(python, resolved, {
    endpoint,
    token,
    transport: "builtin",
    parentPid: process.pid,
    switchIntervalMs: resolved.switchIntervalMs,
    maxMessageBytes: resolved.maxMessageBytes,
    allowedModules: null,
  });
  track(agent.child);
  const exited = once(agent.child, "exit");
  const end = async () => {
    const timer = setTimeout(() => killGroup(agent.child, "SIGKILL"), 2000);
    if (agent.child.exitCode === null && agent.child.signalCode === null) await exited;
    clearTimeout(timer);
    killGroup(agent.child, "SIGKILL"); // whatever the agent left in its group
    release(agent.child);
    router.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let peer;
  try {
    ({ peer } = await waitForHello(agent, channel.messages(), token, resolved.startTimeoutMs, python, python));
  } catch (error) {
    killGroup(agent.child, "SIGKILL");
    await end();
    throw error;
  }
  const request = Buffer.from(JSON.stringify({ id: 1, type: "call", target: "math:floor", args: [7], kwargs: {} }));
  return {
    pid: agent.child.pid,
    async call() {
      await router.send([peer, request]);
      return (await router.receive())[1];
    },
    async close() {
      await router.send([peer, Buffer.from(JSON.stringify({ id: 2, type: "shutdown" }))]).catch(() => {});
      await end();
    },
  };
}

/** The echo server, run with `python -c`; argv[1] is the socket path. Prints "ready" once listening. */
export const ECHO_SERVER = `
import socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(1)
sys.stdout.write("ready\\n")
sys.stdout.flush()
conn, _ = srv.accept()
srv.close()
buf = bytearray()
while True:
    data = conn.recv(65536)
    if not data:
        break
    buf += data
    end = 0
    while len(buf) - end >= 4:
        n = int.from_bytes(buf[end:end + 4], "big")
        if len(buf) - end - 4 < n:
            break
        end += 4 + n
    if end:
        conn.sendall(bytes(buf[:end]))
        del buf[:end]
`;

/** The same bytes a pyleash call of math:floor(7) puts on the wire as JSON. */
export const FLOOR_PAYLOAD = Buffer.from(JSON.stringify({ type: "call", target: "math:floor", args: [7], kwargs: {}, id: 1 }));

/** Start the echo server on `python` and connect; `call()` resolves when the echo comes back. */
export async function openFloor(python) {
  const dir = mkdtempSync(join(tmpdir(), "pyleash-bench-floor-"));
  const path = join(dir, "echo.sock");
  const child = spawn(python, ["-c", ECHO_SERVER, path], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = once(child, "exit");
  let ready = "";
  let early;
  await new Promise((resolve, reject) => {
    early = (code) => reject(new Error(`floor echo server exited (${code}) before it was ready`));
    child.once("error", reject);
    child.once("exit", early);
    child.stdout.on("data", (chunk) => {
      ready += chunk;
      if (ready.includes("ready")) resolve();
    });
  });
  child.off("exit", early);
  const socket = createConnection(path);
  await once(socket, "connect");
  const waiting = []; // FIFO: the server answers in order
  let buf = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 4) {
      const n = buf.readUInt32BE(0);
      if (buf.length < 4 + n) break;
      const message = buf.subarray(4, 4 + n);
      buf = buf.subarray(4 + n);
      waiting.shift()?.(message);
    }
  });
  const frame = Buffer.alloc(4 + FLOOR_PAYLOAD.length);
  frame.writeUInt32BE(FLOOR_PAYLOAD.length, 0);
  FLOOR_PAYLOAD.copy(frame, 4);
  return {
    pid: child.pid,
    call() {
      return new Promise((resolve) => {
        waiting.push(resolve);
        socket.write(frame);
      });
    },
    async close() {
      socket.end();
      socket.destroy();
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
