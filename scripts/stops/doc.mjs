#!/usr/bin/env node
/**
 * docs/stop-strategies.md's per-interpreter table from a run: `node scripts/stops/doc.mjs [python ...]`
 * (npm run stops:doc). Starts a worker on every CPython >= 3.8 that `pyenv versions --bare` lists (or on the
 * interpreters named), stops each loop of scripts/stops/stop_table_fixtures.py as a task, writes what the
 * stops reported to docs/stop-strategies.json and its rendering between the markers of docs/stop-strategies.md.
 * test/stop-table-doc.test.ts fails when the table and the JSON disagree. Needs `npm run build` first.
 * `node scripts/stops/doc.mjs --render` only renders docs/stop-strategies.json again (after a change of table.mjs).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withTable } from "./table.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = "stop_table_fixtures";
const DEADLINE_MS = 3_000;
const FINALLY_RUNS = 5;

/** What is run on each interpreter; the titles are the table's first column. */
export const CASES = [
  {
    id: "calls-nothing",
    title: "`while True: try: n += 1 except: pass` (no call in the `try`), thread, `async-exc`",
    fixture: "calls_nothing",
    kind: "thread",
    strategy: "async-exc",
  },
  {
    id: "call-thread",
    title: "the same with a call in the `try` (`n += f()`), thread, `auto`",
    fixture: "around_a_call",
    kind: "thread",
    strategy: "auto",
  },
  {
    id: "nested-base",
    title: "nested swallowing loops, `except BaseException`, thread, `async-exc`",
    fixture: "nested",
    kind: "thread",
    strategy: "async-exc",
  },
  {
    id: "call-main-auto",
    title: "a call in the `try`, main lane, `auto`",
    fixture: "around_a_call",
    kind: "main",
    strategy: "auto",
  },
  {
    id: "call-main-signal",
    title: "a call in the `try`, main lane, `signal`",
    fixture: "around_a_call",
    kind: "main",
    strategy: "signal",
  },
  {
    id: "finally-after-loop",
    title: `\`try: while True: n += 1\` then \`finally:\`, thread, \`async-exc\`, ${FINALLY_RUNS} stops`,
    fixture: "loop_first_in_try",
    kind: "thread",
    strategy: "async-exc",
  },
  {
    id: "finally-after-cond-loop",
    title: `\`try: while n >= 0: n += 1\` then \`finally:\`, thread, \`async-exc\`, ${FINALLY_RUNS} stops`,
    fixture: "cond_loop_first_in_try",
    kind: "thread",
    strategy: "async-exc",
  },
];

const timeout = (ms) => new Promise((r) => setTimeout(r, ms, null));

/** Every CPython >= 3.8 that pyenv lists, as [version, path]. */
function pyenvPythons() {
  const root = execFileSync("pyenv", ["root"], { encoding: "utf8" }).trim();
  const versions = execFileSync("pyenv", ["versions", "--bare"], { encoding: "utf8" })
    .split("\n")
    .map((v) => v.trim());
  return versions
    .filter((v) => /^3\.(\d+)\.\d+$/.test(v) && Number(v.split(".")[1]) >= 8)
    .map((v) => join(root, "versions", v, "bin", "python"))
    .filter((p) => existsSync(p));
}

function versionOf(python) {
  return execFileSync(python, ["-c", "import platform; print(platform.python_version())"], { encoding: "utf8" }).trim();
}

/** Ends a worker whose agent may be frozen: its process group is killed (it is ours), then the controller closes. */
async function end(worker, frozen) {
  if (frozen) {
    try {
      process.kill(-worker.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await Promise.race([worker.close(), timeout(10_000)]);
}

async function stopOnce(api, worker, c) {
  const target = `${FIXTURES}:${c.fixture}`;
  // A loop that freezes the agent may hold up the start's reply or its started event: neither is awaited for ever.
  const task = await Promise.race([worker.start(target, { kind: c.kind }), timeout(3_000)]);
  if (task === null) return { frozenBeforeStop: true };
  if (c.fixture === "calls_nothing") {
    await Promise.race([task.started, timeout(3_000)]);
    await timeout(100);
  } else {
    await api.reached(task, c.fixture);
  }
  const report = await task.stop({ strategy: c.strategy, deadlineMs: DEADLINE_MS });
  // A task reported stopped has ended; a blocked one may run on, so its result is not awaited.
  if (report.outcome === "stopped") await Promise.race([task.result.catch(() => {}), timeout(10_000)]);
  return {
    outcome: report.outcome,
    steps: report.steps.map((s) => s.strategy),
    swallowed: report.swallowed,
    finallyRan: report.finallyRan,
    agentResponsive: report.agentResponsive,
  };
}

async function runCase(api, python, c) {
  const worker = await api.Worker.start({ python, pythonPath: [join(ROOT, "scripts/stops")] });
  let frozen = false;
  try {
    if (!c.id.startsWith("finally-")) {
      const result = await stopOnce(api, worker, c);
      frozen = result.frozenBeforeStop === true || result.agentResponsive === false;
      return result;
    }
    const runs = [];
    for (let i = 0; i < FINALLY_RUNS; i++) {
      const before = await worker.call(`${FIXTURES}:finally_count`);
      const one = await stopOnce(api, worker, c);
      frozen = one.frozenBeforeStop === true || one.agentResponsive === false;
      if (frozen) return one;
      const after = await worker.call(`${FIXTURES}:finally_count`);
      runs.push({ outcome: one.outcome, finallyRan: after > before, reportFinallyRan: one.finallyRan });
    }
    return { runs };
  } catch (error) {
    frozen = true;
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  } finally {
    await end(worker, frozen);
  }
}

const docPath = join(ROOT, "docs/stop-strategies.md");
const jsonPath = join(ROOT, "docs/stop-strategies.json");

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === "--render") {
  writeFileSync(docPath, withTable(readFileSync(docPath, "utf8"), JSON.parse(readFileSync(jsonPath, "utf8"))));
  process.stderr.write("[stops:doc] docs/stop-strategies.md rendered again from docs/stop-strategies.json\n");
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const api = {
    ...(await import(join(ROOT, "dist/index.js"))),
    reached: (await import(join(ROOT, "dist/util/reached.js"))).reached,
  };
  const pythons = process.argv.length > 2 ? process.argv.slice(2) : pyenvPythons();
  if (pythons.length === 0) throw new Error("no CPython >= 3.8 found by `pyenv versions --bare`");
  const interpreters = [];
  for (const python of pythons) {
    const version = versionOf(python);
    const results = {};
    for (const c of CASES) {
      results[c.id] = await runCase(api, python, c);
      process.stderr.write(`[stops:doc] ${version} ${c.id}: ${JSON.stringify(results[c.id])}\n`);
    }
    interpreters.push({ version, results });
  }
  const run = {
    generatedAt: new Date().toISOString(),
    deadlineMs: DEADLINE_MS,
    cases: CASES.map(({ id, title, fixture, kind, strategy }) => ({ id, title, fixture, kind, strategy })),
    interpreters,
  };
  const text = withTable(readFileSync(docPath, "utf8"), run);
  writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(docPath, text);
  process.stderr.write(`[stops:doc] docs/stop-strategies.md and docs/stop-strategies.json (${run.generatedAt})\n`);
}
