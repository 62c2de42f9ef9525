/** Remote agents, agent side: `python -m pyleash serve --connect` against a real zeromq.js CURVE ROUTER on loopback. */
import { type ChildProcess, spawn } from "node:child_process";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Reply, Router, curveKeyPair } from "zeromq";
import { CONTRACT } from "../ts/contract.js";

const ROOT = join(import.meta.dirname, "..");
const VENV_PYTHON = join(ROOT, ".cache", "venv-pyzmq-3.11.7", "bin", "python");
const HAS_PYZMQ = existsSync(VENV_PYTHON);
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function serve(
  python: string,
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const child = spawn(python, ["-m", "pyleash", "serve", ...args], {
    cwd: join(ROOT, "py"),
    env: { ...process.env, PYTHONPATH: join(ROOT, "py"), ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exit;
  });
  return { child, exit, stderr: () => err };
}

/** A CURVE server ROUTER on a loopback port, with a ZAP handler that admits only `allow`. */
async function curveRouter(allow: string[]): Promise<{ router: Router; endpoint: string; publicKey: string; zapSeen: string[] }> {
  const server = curveKeyPair();
  const zap = new Reply();
  // The previous test's ZAP socket lets go of the address a moment after its close(): try again for a while.
  for (let attempt = 0; ; attempt++) {
    try {
      await zap.bind("inproc://zeromq.zap.01");
      break;
    } catch (error) {
      if (attempt >= 40) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const zapSeen: string[] = [];
  void (async () => {
    for await (const [version, requestId, , , , mechanism, key] of zap) {
      const z85 = mechanism?.toString() === "CURVE" && key ? z85Encode(key) : "";
      zapSeen.push(z85);
      const ok = allow.includes(z85);
      await zap.send([version!, requestId!, ok ? "200" : "400", ok ? "OK" : "not allowed", z85, ""]);
    }
  })();
  const router = new Router({
    curveServer: true,
    curveSecretKey: server.secretKey,
    zapDomain: "pyleash",
    heartbeatInterval: 200,
    heartbeatTimeout: 1000,
  });
  await router.bind("tcp://127.0.0.1:0");
  cleanups.push(() => {
    router.close();
    zap.close();
  });
  return { router, endpoint: router.lastEndpoint!, publicKey: server.publicKey, zapSeen };
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
function z85Encode(data: Buffer): string {
  let out = "";
  for (let i = 0; i < data.length; i += 4) {
    let value = data.readUInt32BE(i);
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85[value % 85]!);
      value = Math.floor(value / 85);
    }
    out += chunk.join("");
  }
  return out;
}

/** The agent's hello (a supervised agent's supervisor has a link of its own, whose messages come first or between). */
async function helloFrom(router: Router): Promise<void> {
  for (;;) {
    const [, frame] = (await router.receive()) as Buffer[];
    if ((JSON.parse(frame!.toString()) as { type: string }).type === "hello") return;
  }
}

async function keyFile(secretKey: string, mode = 0o600): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "pyleash-keys-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "agent.key");
  await writeFile(path, `${secretKey}\n`, { mode });
  return path;
}

describe("python -m pyleash serve", () => {
  it("refuses an unencrypted non-loopback tcp endpoint without --insecure, with the contract's exit code", async () => {
    const agent = serve("python3", ["--connect", "tcp://10.255.255.1:5555", "--transport", "builtin"]);
    expect(await agent.exit).toBe(CONTRACT.exitCodes.insecureRefused);
    expect(agent.stderr()).toMatch(/--insecure/);
  });

  it("refuses a secret key file that others can read", async () => {
    const path = await keyFile(curveKeyPair().secretKey, 0o644);
    const agent = serve("python3", ["--connect", "tcp://127.0.0.1:1", "--server-key", curveKeyPair().publicKey, "--key-file", path]);
    expect(await agent.exit).toBe(CONTRACT.exitCodes.badConfig);
    expect(agent.stderr()).toMatch(/chmod 600/);
  });

  describe.skipIf(!HAS_PYZMQ)("over CURVE (pyzmq venv .cache/venv-pyzmq-3.11.7; skipped where pip could not make it)", () => {
    it("joins a CURVE controller with an allowed key and says hello with its host and remote: true", async () => {
      const agentKeys = curveKeyPair();
      const { router, endpoint, publicKey } = await curveRouter([agentKeys.publicKey]);
      const path = await keyFile(agentKeys.secretKey);
      serve(VENV_PYTHON, ["--connect", endpoint, "--server-key", publicKey, "--key-file", path, "--no-supervise"]);
      const [, frame] = (await router.receive()) as Buffer[];
      const hello = JSON.parse(frame!.toString()) as { type: string; host: string; remote: boolean; transport: string };
      expect(hello).toMatchObject({ type: "hello", remote: true, transport: "pyzmq" });
      expect(typeof hello.host).toBe("string");
    }, 60_000);

    it("is refused by the ZAP handler when its key is not allowed, and never gets a message through", async () => {
      const agentKeys = curveKeyPair();
      const { router, endpoint, publicKey, zapSeen } = await curveRouter([curveKeyPair().publicKey]);
      const path = await keyFile(agentKeys.secretKey);
      const agent = serve(VENV_PYTHON, ["--connect", endpoint, "--server-key", publicKey, "--key-file", path, "--no-supervise"]);
      let received = false;
      void router.receive().then(
        () => (received = true),
        () => undefined,
      );
      expect(await agent.exit).toBe(CONTRACT.exitCodes.cannotConnect);
      expect(zapSeen).toContain(agentKeys.publicKey);
      expect(received).toBe(false);
    }, 60_000);

    it("exits with controllerLost once the controller goes away (heartbeats), within a bounded time", async () => {
      const agentKeys = curveKeyPair();
      const { router, endpoint, publicKey } = await curveRouter([agentKeys.publicKey]);
      const path = await keyFile(agentKeys.secretKey);
      const agent = serve(VENV_PYTHON, ["--connect", endpoint, "--server-key", publicKey, "--key-file", path, "--heartbeat-ms", "200"]);
      await helloFrom(router);
      router.close();
      const code = await Promise.race([agent.exit, new Promise((r) => setTimeout(() => r("still running"), 20_000))]);
      expect(code).toBe(CONTRACT.exitCodes.controllerLost);
    }, 60_000);

    it("keeps trying for --reconnect-for seconds after the loss, then exits", async () => {
      const agentKeys = curveKeyPair();
      const { router, endpoint, publicKey } = await curveRouter([agentKeys.publicKey]);
      const path = await keyFile(agentKeys.secretKey);
      const agent = serve(VENV_PYTHON, [
        "--connect",
        endpoint,
        "--server-key",
        publicKey,
        "--key-file",
        path,
        "--heartbeat-ms",
        "200",
        "--reconnect-for",
        "3",
      ]);
      await helloFrom(router);
      router.close();
      const lostAt = Date.now();
      const code = await Promise.race([agent.exit, new Promise((r) => setTimeout(() => r("still running"), 40_000))]);
      expect(code).not.toBe("still running");
      expect(code).not.toBe(0);
      expect(Date.now() - lostAt).toBeGreaterThanOrEqual(3_000);
    }, 60_000);
  });
});

describe("pyleash keys", () => {
  it("writes a z85 key pair whose secret file is mode 0600 and refuses to overwrite it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pyleash-keys-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const cli = join(ROOT, "dist", "cli", "main.js");
    await promisify(execFile)(process.execPath, [cli, "keys", "--out", dir, "--name", "agent"]);
    expect((await stat(join(dir, "agent.key"))).mode & 0o777).toBe(0o600);
    expect((await readFile(join(dir, "agent.pub"), "utf8")).trim()).toHaveLength(40);
    await expect(promisify(execFile)(process.execPath, [cli, "keys", "--out", dir, "--name", "agent"])).rejects.toThrow(/overwrite/);
  });
});
