import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, InvalidArgumentError, Pool, PythonNotFoundError, Worker, locatePython } from "../ts/index.js";
import { POOL_DEFAULTS } from "../ts/pool/options.js";
import { CONTRACT } from "../ts/protocol.js";
import { WORKER_DEFAULTS } from "../ts/worker/options.js";
import { startWorker, track } from "./support/cleanup.js";

/** The InvalidArgumentError `run` throws or rejects with. */
async function refused(run: () => unknown): Promise<InvalidArgumentError> {
  const error = await (async () => run())().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidArgumentError);
  return error as InvalidArgumentError;
}

describe("unknown option keys", () => {
  it("refuses { pythonpath } on Worker.start, naming pythonPath, and starts nothing", async () => {
    const error = await refused(() => Worker.start({ pythonpath: ["/tmp"] } as never));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message).toContain('Unknown worker option "pythonpath": did you mean "pythonPath"?');
  });

  it("refuses { timeout } on worker.call, naming timeoutMs, and sends nothing", async () => {
    const worker = await startWorker();
    const error = await refused(() => worker.call("calls:add", [1, 2], {}, { timeout: 100 } as never));
    expect(error.message).toContain('Unknown call option "timeout": did you mean "timeoutMs"?');
    await expect(worker.call("calls:add", [1, 2])).resolves.toBe(3);
  });

  it("refuses unknown keys of stream, start, stop, threads and ping options", async () => {
    const worker = await startWorker();
    expect((await refused(() => worker.stream("calls:add", [], {}, { highWatermark: 4 } as never))).message).toContain(
      'did you mean "highWaterMark"?',
    );
    expect((await refused(() => worker.start("calls:add", { kwarg: {} } as never))).message).toContain(
      'Unknown start option "kwarg": did you mean "kwargs"?',
    );
    expect((await refused(() => worker.call("calls:add", [1, 2], {}, { stop: { grace: 5 } } as never))).message).toContain(
      'did you mean "graceMs"?',
    );
    expect((await refused(() => worker.ping({ timeout: 5 } as never))).message).toContain('did you mean "timeoutMs"?');
    expect((await refused(() => worker.threads({ sginal: 5 } as never))).message).toContain('did you mean "signal"?');
  });

  it("lists the valid keys when none is near", async () => {
    const error = await refused(() => Worker.start({ zzzzzzzz: 1 } as never));
    expect(error.message).not.toContain("did you mean");
    expect(error.message).toContain('"startTimeoutMs"');
  });

  it("refuses unknown keys of Pool.start (its own and the worker's) and of pool.call", async () => {
    expect((await refused(() => Pool.start({ sizes: 1 } as never))).message).toContain('Unknown pool option "sizes": did you mean "size"?');
    expect((await refused(() => Pool.start({ size: 1, pythonpath: [] } as never))).message).toContain('did you mean "pythonPath"?');
    const pool = track(await Pool.start({ size: 1, pythonPath: [new URL("./fixtures", import.meta.url).pathname] }));
    expect((await refused(() => pool.call("calls:add", [1, 2], {}, { timeout: 1 } as never))).message).toContain(
      'did you mean "timeoutMs"?',
    );
    await expect(pool.call("calls:add", [1, 2])).resolves.toBe(3);
  });
});

describe("documented defaults", () => {
  /** Each option's `@default` in the TSDoc of the published option interfaces, by interface and option. */
  function documented(file: string): Map<string, string> {
    const source = readFileSync(new URL(`../ts/${file}`, import.meta.url), "utf8");
    const found = new Map<string, string>();
    for (const match of source.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*?)@default ([^\n*]+?)\s*\*\/\s*(\w+)\?:/g)) {
      found.set(match[3]!, match[2]!.trim());
    }
    return found;
  }
  const shown = (value: unknown): string => (typeof value === "string" ? `"${value}"` : String(value));
  const matches = (doc: string | undefined, value: unknown): boolean =>
    doc !== undefined &&
    (doc === shown(value) || doc.replace(/_/g, "").split(" ")[0] === shown(value) || doc.startsWith(`${shown(value)} `));

  it("say what the contract and the defaults constants say, for every option that has one", () => {
    const worker = documented("worker/options.ts");
    const stop = documented("task/options.ts");
    const pool = documented("pool/options.ts");
    const expected: [Map<string, string>, string, unknown][] = [
      [worker, "highWaterMark", CONTRACT.limits.streamHighWaterMark],
      [worker, "maxMessageBytes", CONTRACT.limits.maxMessageBytes],
      [worker, "lane", CONTRACT.requests.call.fields.lane.default],
      ...Object.entries(WORKER_DEFAULTS).map(([k, v]): [Map<string, string>, string, unknown] => [worker, k, v]),
      ...Object.entries(CONTRACT.stopDefaults).map(([k, v]): [Map<string, string>, string, unknown] => [stop, k, v]),
      [stop, "kind", CONTRACT.requests.start.fields.kind.default],
      ...Object.entries(POOL_DEFAULTS)
        .filter(([, v]) => v !== Infinity)
        .map(([k, v]): [Map<string, string>, string, unknown] => [pool, k, v]),
    ];
    const wrong = expected
      .filter(([docs, key, value]) => !matches(docs.get(key), value))
      .map(([docs, key, value]) => `${key}: @default ${docs.get(key)}, is ${shown(value)}`);
    expect(wrong).toEqual([]);
  });
});

describe("error codes", () => {
  it("are exported as a map whose every code docs/errors.md documents, and the other way round", () => {
    const docs = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    const documented = new Set([...docs.matchAll(/^\|[^|]*\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!));
    expect(Object.entries(ERROR_CODES).filter(([k, v]) => k !== v)).toEqual([]);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});

describe("start-up problems named for what they are", () => {
  it("refuses a missing cwd as such, not as a missing interpreter", async () => {
    const error = await refused(() => Worker.start({ cwd: "/nonexistent-pyleash-dir" }));
    expect(error.message).toContain('Expected "cwd" to be an existing directory');
  });

  it("says a python that is a directory is a directory, and names a venv's interpreter inside it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pyleash-dir-"));
    try {
      await mkdir(join(dir, "bin"));
      await symlink(await locatePython(), join(dir, "bin", "python"));
      const error = await Worker.start({ python: dir }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PythonNotFoundError);
      expect((error as Error).message).toContain(
        `${dir} is a directory, not an interpreter; a virtual environment's interpreter is ${join(dir, "bin", "python")}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
