/** `pyleash bundle`: the agent as one stdlib zipapp, run on the oldest and newest CPython and as a remote agent. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curveKeyPair } from "zeromq";
import { CONTRACT } from "../ts/contract.js";
import { Pool } from "../ts/index.js";
import { findAllPythons } from "../ts/python/discover.js";

const exec = promisify(execFile);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;
const PYZMQ: string[] = JSON.parse(process.env.PYLEASH_TEST_PYZMQ ?? "[]");
const VENV_PYTHON = PYZMQ.find((p) => p.includes("venv-pyzmq-3.11")) ?? PYZMQ[0] ?? "";
const HAS_PYZMQ = VENV_PYTHON !== "" && existsSync(VENV_PYTHON);
if (!HAS_PYZMQ) console.log("[bundle] no pyzmq venv (PYLEASH_TEST_PYZMQ is empty): the remote-agent test is skipped");

let dir = "";
let archive = "";
let listing: { ok: boolean; out: string; bytes: number; files: string[]; python: string };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pyleash-bundle-"));
  archive = join(dir, "agent.pyz");
  const { stdout } = await exec(process.execPath, [CLI, "bundle", "--out", archive, "--json"]);
  listing = JSON.parse(stdout);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Run a command with a bounded time; resolves with its exit status and output, never rejects. */
function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Without PYTHONPATH: whatever the archive runs must come from inside it. */
const BARE = { ...process.env, PYTHONPATH: "" };

describe("pyleash bundle", () => {
  it("writes an executable zipapp of the agent package without tests, caches or experiments", async () => {
    expect(listing).toMatchObject({ ok: true, out: archive });
    expect(listing.files).toEqual(
      expect.arrayContaining([
        "__main__.py",
        "pyleash/__init__.py",
        "pyleash/serve.py",
        "pyleash/contract.json",
        "pyleash/transport/zmtp.py",
      ]),
    );
    expect(listing.files.filter((f) => /__pycache__|\.pyc$|experiments|(^|\/)tests\//.test(f))).toEqual([]);
    const mode = (await stat(archive)).mode;
    expect(mode & 0o100).toBe(0o100); // executable by its owner: the #! line is /usr/bin/env python3
    expect(mode & 0o022).toBe(0); // and not writable by others
  });

  it("says clearly when --out cannot be written, and leaves nothing behind", async () => {
    const result = await run(process.execPath, [CLI, "bundle", "--out", "/etc/passwd/agent.pyz"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot write \/etc\/passwd\/agent\.pyz: Not a directory/);
    const json = await run(process.execPath, [CLI, "bundle", "--out", join(dir, "missing", "agent.pyz"), "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      error: { code: "BUNDLE_FAILED", message: expect.stringMatching(/No such file or directory/) },
    });
  });

  it("runs on the oldest and the newest CPython found: --version, usage, and serve's own checks", async () => {
    const pythons = await findAllPythons();
    const picked = [...new Map([pythons[0], pythons.at(-1)].filter((p) => p !== undefined).map((p) => [p.path, p])).values()];
    expect(picked.length).toBeGreaterThan(0);
    for (const python of picked) {
      const version = await run(python.path, [archive, "--version"], BARE);
      expect(version, python.version).toMatchObject({ code: 0, stdout: `pyleash 0.1.0 (agent bundle) on Python ${python.version}\n` });
      const usage = await run(python.path, [archive], BARE);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/usage: python agent\.pyz serve --connect/);
      // serve loads the contract from inside the archive: its exit codes come from there.
      const insecure = await run(python.path, [archive, "serve", "--connect", "tcp://192.0.2.1:7000"], BARE);
      expect(insecure.code, insecure.stderr).toBe(CONTRACT.exitCodes.insecureRefused);
      const refused = await run(
        python.path,
        [archive, "serve", "--connect", "tcp://127.0.0.1:1", "--no-supervise", "--connect-timeout", "0.2"],
        BARE,
      );
      expect(refused.code, refused.stderr).toBe(CONTRACT.exitCodes.cannotConnect);
    }
  });
});

describe.skipIf(!HAS_PYZMQ)("the bundle as a remote agent (needs the pyzmq venv)", () => {
  let child: ChildProcess | undefined;
  let pool: Pool | undefined;
  afterAll(async () => {
    await pool?.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  });

  it("joins a Pool.listen over loopback CURVE under its supervisor and serves calls and a process task", async () => {
    const server = curveKeyPair();
    const keys = curveKeyPair();
    pool = await Pool.listen({ bind: "tcp://127.0.0.1:0", curve: server, allow: [keys.publicKey] });
    const keyFile = join(dir, "agent.key");
    await writeFile(keyFile, `${keys.secretKey}\n`, { mode: 0o600 });
    child = spawn(VENV_PYTHON, [archive, "serve", "--connect", pool.endpoint!, "--server-key", server.publicKey, "--key-file", keyFile], {
      env: BARE,
      stdio: ["ignore", "ignore", "inherit"],
    });
    await pool.waitForWorkers(1, { timeoutMs: 30_000 });
    expect(pool.workers[0]).toMatchObject({ remote: true, transport: "pyzmq" });
    expect(pool.workers[0]!.pid).not.toBe(child.pid); // the supervisor's child, started from the archive
    expect(await pool.call("math:factorial", [10])).toBe(3628800);
    const task = await pool.start("math:factorial", { args: [5], kind: "process" });
    expect(await task.result).toBe(120);
  });
});
