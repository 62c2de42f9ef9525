#!/usr/bin/env node
// `npm test`: vitest (real agents, real sockets), then the Python unittest suite on every CPython found.
// Ends with one line "tests: N passed, M failed, K skipped" counting both.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { findAllPythons } from "../dist/python/discover.js";

const root = new URL("..", import.meta.url).pathname;
const cache = join(root, ".cache");
mkdirSync(cache, { recursive: true });
const vitestJson = join(cache, "vitest-results.json");
const extra = process.argv.slice(2);

let passed = 0;
let failed = 0;
let skipped = 0;

// The static checks first (scripts/lint.mjs): each counts as one test.
const lint = spawnSync(process.execPath, [join(root, "scripts", "lint.mjs")], { cwd: root, encoding: "utf8" });
process.stdout.write(`${lint.stdout.split("\n").slice(0, -2).join("\n")}\n`);
const lintCounts = lastJsonLine(lint.stdout ?? "", ["passed", "failed", "skipped"]);
if (lintCounts) {
  passed += lintCounts.passed;
  failed += lintCounts.failed;
  skipped += lintCounts.skipped;
} else {
  failed += 1;
  console.log(`lint died: ${lint.stderr}`);
}

const vitest = spawnSync(
  process.execPath,
  [join(root, "node_modules/vitest/vitest.mjs"), "run", "--reporter=default", "--reporter=json", `--outputFile=${vitestJson}`, ...extra],
  { stdio: "inherit", cwd: root },
);
try {
  const report = JSON.parse(readFileSync(vitestJson, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
} catch {
  failed += 1; // no report: vitest itself failed
}
if (vitest.status !== 0 && failed === 0) failed += 1;

const interpreters = await findAllPythons();
// The pyzmq venvs the vitest set-up made (test/support/venv.ts), so pyzmq's own tests run too.
const venvs = readdirSync(cache)
  .filter((name) => name.startsWith("venv-pyzmq-"))
  .map((name) => join(cache, name, "bin", "python"))
  .filter((python) => spawnSync(python, ["-c", "import zmq"]).status === 0);
for (const python of [...interpreters.map((p) => p.path), ...venvs]) {
  // py/tests/run.py: unittest's report on stderr, its counts as one JSON object on the last stdout line.
  const run = spawnSync(python, ["-m", "tests.run"], {
    cwd: join(root, "py"),
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: join(root, "py"), PYTHONDONTWRITEBYTECODE: "1" },
  });
  const counts = lastJsonLine(run.stdout ?? "");
  const ok = run.status === 0 && counts !== undefined;
  if (counts) {
    passed += counts.passed;
    failed += counts.failed + counts.errors;
    skipped += counts.skipped;
  }
  // A runner that died, or failed without saying which test, still counts as one failure.
  if (!ok && !(counts && counts.failed + counts.errors)) failed += 1;
  const summary = counts ? `${counts.run} run, ${counts.failed} failed, ${counts.errors} errors, ${counts.skipped} skipped` : "no counts";
  console.log(`python unittest on ${python}: ${summary}${ok ? "" : " — FAILED"}`);
  if (!ok) console.log(`${run.stdout ?? ""}${run.stderr ?? ""}${run.error ? String(run.error) : ""}`);
}

console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed ? 1 : 0;

/** The counts a runner (py/tests/run.py, scripts/lint.mjs) prints as its last stdout line, or undefined when there are none. */
function lastJsonLine(stdout, keys = ["run", "passed", "failed", "errors", "skipped"]) {
  const line = stdout.trimEnd().split("\n").at(-1) ?? "";
  try {
    const counts = JSON.parse(line);
    return keys.every((k) => Number.isInteger(counts?.[k])) ? counts : undefined;
  } catch {
    return undefined;
  }
}
