#!/usr/bin/env node
// `npm test`: vitest (real agents, real sockets), then the Python unittest suite on every CPython found.
// Ends with one line "tests: N passed, M failed" counting both.
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

const vitest = spawnSync(
  process.execPath,
  [join(root, "node_modules/vitest/vitest.mjs"), "run", "--reporter=default", "--reporter=json", `--outputFile=${vitestJson}`, ...extra],
  { stdio: "inherit", cwd: root },
);
try {
  const report = JSON.parse(readFileSync(vitestJson, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
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
  const run = spawnSync(python, ["-m", "unittest", "discover", "-s", "tests", "-t", "."], {
    cwd: join(root, "py"),
    encoding: "utf8",
    env: { ...process.env, PYTHONPATH: join(root, "py"), PYTHONDONTWRITEBYTECODE: "1" },
  });
  const output = `${run.stdout}${run.stderr}`;
  const ran = Number(/Ran (\d+) tests?/.exec(output)?.[1] ?? 0);
  const bad = [...output.matchAll(/(?:failures|errors)=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const ok = run.status === 0;
  passed += ran - bad;
  failed += bad + (ok || bad ? 0 : 1);
  console.log(`python unittest on ${python}: ${ran} run, ${bad} failed${ok ? "" : " — FAILED"}`);
  if (!ok) console.log(output);
}

console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
