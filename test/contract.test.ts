import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../ts/index.js";
import { CONTRACT, type ErrorKind, KINDS, STRATEGIES } from "../ts/protocol.js";
import { parseDump } from "../ts/task/faulthandler.js";
import { startWorker } from "./support/cleanup.js";

const root = new URL("..", import.meta.url).pathname;
const contractJson = JSON.parse(readFileSync(join(root, "py/pyleash/contract.json"), "utf8"));
const dumps = join(root, "test/fixtures/dumps");
const expectedDumps: Record<string, unknown> = JSON.parse(readFileSync(join(dumps, "expected.json"), "utf8"));

/** Run Python on the agent package and return what it printed as JSON. */
function python(code: string): unknown {
  const out = execFileSync(process.env.PYLEASH_PYTHON || "python3", ["-c", code], {
    env: { ...process.env, PYTHONPATH: join(root, "py"), PYTHONDONTWRITEBYTECODE: "1" },
    encoding: "utf8",
  });
  return JSON.parse(out);
}

describe("the contract both sides load", () => {
  it("is what ts/contract.ts was generated from (npm run build regenerates it)", () => {
    expect(JSON.parse(JSON.stringify(CONTRACT))).toEqual(contractJson);
    execFileSync(process.execPath, [join(root, "scripts/gen-contract.mjs"), "--check"]);
  });

  it("gives the agent the same kinds, strategies, ladders, defaults, exit codes, signals and requests", () => {
    const agent = python(
      "import json; from pyleash import contract as c\n" +
        "print(json.dumps({'kinds': list(c.KINDS), 'strategies': list(c.STRATEGIES), 'ladders': {k: list(v) for k, v in c.LADDERS.items()},\n" +
        " 'defaults': c.STOP_DEFAULTS, 'exit': c.EXIT_CODES, 'signals': c.SIGNALS, 'requests': sorted(c.REQUESTS)}))",
    );
    expect(agent).toEqual({
      kinds: KINDS,
      strategies: STRATEGIES,
      ladders: Object.fromEntries(KINDS.map((k) => [k, CONTRACT.kinds[k].ladder])),
      defaults: CONTRACT.stopDefaults,
      exit: CONTRACT.exitCodes,
      signals: CONTRACT.signals,
      requests: Object.keys(CONTRACT.requests).sort(),
    });
  });

  it("has a handler in the agent for every request type, and no handler outside it", () => {
    const handled = python(
      "import json; from pyleash.control import Agent\n" +
        "class Quiet:\n name = 'none'\n def send(self, frames): pass\n def send_many(self, batch): pass\n" +
        "print(json.dumps(sorted(Agent(Quiet()).handlers)))",
    );
    expect(handled).toEqual(Object.keys(CONTRACT.requests).sort());
  });

  it("is described in docs/protocol.md: every request, event and field", () => {
    const doc = readFileSync(join(root, "docs/protocol.md"), "utf8");
    for (const group of [CONTRACT.requests, CONTRACT.events] as Record<string, { fields: Record<string, unknown> }>[]) {
      for (const [type, spec] of Object.entries(group)) {
        expect(doc, `docs/protocol.md names "${type}"`).toContain(`\`${type}\``);
        for (const field of Object.keys(spec.fields))
          expect(doc, `docs/protocol.md names ${type}.${field}`).toMatch(new RegExp(`\\b${field}\\b`));
      }
    }
  });

  it("gives every error kind of the agent its own error class in the controller", async () => {
    const { errorFromPayload, PythonError } = await import("../ts/errors.js");
    const classes = Object.keys(CONTRACT.errorKinds).map(
      (kind) => errorFromPayload({ kind: kind as ErrorKind, type: "X", message: "m" }).constructor,
    );
    expect(new Set(classes).size).toBe(classes.length);
    expect(errorFromPayload({ kind: "exception", type: "X", message: "m" })).toBeInstanceOf(PythonError);
  });

  it("refuses a strategy that does not fit the task's kind before asking the agent, naming both", async () => {
    const worker = await startWorker();
    const task = await worker.start("blocking:busy_loop");
    const refused = task.stop({ strategy: "terminate" });
    await expect(refused).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(refused).rejects.toThrow(/"terminate" does not fit a "thread" task.*"process"/);
    expect(task.status).toBe("running");
    await task.stop({ strategy: "async-exc" });
  });
});

describe("the faulthandler dump parsers of both sides", () => {
  const names = readdirSync(dumps).filter((n) => n.endsWith(".txt"));

  it("have an expectation for every sample dump", () => {
    expect(
      Object.keys(expectedDumps)
        .filter((k) => !k.startsWith("$"))
        .sort(),
    ).toEqual(names.sort());
  });

  it.each(names)("the controller reads %s as expected", (name) => {
    const threads = parseDump(readFileSync(join(dumps, name), "utf8"), false).map((t) => ({
      ident: t.ident === null ? null : `0x${t.ident.toString(16)}`,
      current: t.current,
      truncated: t.truncated,
      frames: t.frames.map(({ file, line, function: fn }) => ({ file, line, function: fn })),
    }));
    expect(threads).toEqual(expectedDumps[name]);
  });

  it("the agent reads every sample as expected", () => {
    const parsed = python(
      "import json, os, sys; from pyleash.stop.stacks import parse_faulthandler_dump as parse\n" +
        `d = ${JSON.stringify(dumps)}\n` +
        "out = {}\n" +
        "for n in sorted(os.listdir(d)):\n" +
        " if n.endswith('.txt'):\n" +
        "  out[n] = [{'ident': None if t['thread_id'] is None else hex(t['thread_id']), 'current': t['current'],\n" +
        "             'truncated': t['truncated'], 'frames': t['frames']} for t in parse(open(os.path.join(d, n)).read())]\n" +
        "print(json.dumps(out))",
    );
    expect(parsed).toEqual(Object.fromEntries(Object.entries(expectedDumps).filter(([k]) => !k.startsWith("$"))));
  });
});
