#!/usr/bin/env node
// `npm run lint` (and the first step of `npm test`): the static checks, each a pass, a failure or a skip with its reason.
//   tsc --noEmit over ts/, test/ (tsconfig.check.json) and scripts/ (scripts/tsconfig.json); biome's linter and formatter;
//   ruff over py/ and experiments/py, mypy over py/pyleash and experiments/py (pyproject.toml holds their settings),
//   from a venv made once under .cache/.
// Prints one line per check and, last, a JSON line {"passed":N,"failed":M,"skipped":K} that scripts/test.mjs counts.
import { spawnSync } from "node:child_process";
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { findAllPythons } from "../dist/python/discover.js";

const ROOT = new URL("..", import.meta.url).pathname;
const BIN = join(ROOT, "node_modules", ".bin");
// Pinned: a new release of either may find new things, which belongs in a commit of its own.
const PY_TOOLS = ["ruff==0.16.9", "mypy==2.4.0", "pyzmq==27.2.0"]; // pyzmq: its types, for the agent's pyzmq transport
const TOOLS_VENV = join(ROOT, ".cache", "venv-tools");

const counts = { passed: 0, failed: 0, skipped: 0 };

check("tsc (ts/, test/)", join(BIN, "tsc"), ["-p", "tsconfig.check.json"]);
check("tsc (scripts/)", join(BIN, "tsc"), ["-p", "scripts/tsconfig.json"]);
check("biome lint", join(BIN, "biome"), ["lint", "--error-on-warnings"]);
check("biome format", join(BIN, "biome"), ["format"]); // fails on any file the formatter would change
const venv = await toolsVenv();
if (typeof venv === "string") {
  // `python -m`: the venv was built aside and renamed, so its scripts' #! lines name a path that is gone.
  check("ruff", join(venv, "bin", "python"), ["-m", "ruff", "check", "py/pyleash", "py/tests", "experiments/py"]);
  check("mypy", join(venv, "bin", "python"), ["-m", "mypy"]);
} else {
  for (const name of ["ruff", "mypy"]) skip(name, venv.why);
}
console.log(JSON.stringify(counts));
process.exitCode = counts.failed ? 1 : 0;

function check(name, command, args) {
  const run = spawnSync(command, args, { cwd: ROOT, encoding: "utf8" });
  if (run.status === 0) {
    counts.passed++;
    console.log(`lint: ${name}: ok`);
    return;
  }
  counts.failed++;
  console.log(`lint: ${name}: FAILED\n${run.stdout ?? ""}${run.stderr ?? ""}${run.error ? String(run.error) : ""}`);
}

function skip(name, why) {
  counts.skipped++;
  console.log(`lint: ${name}: skipped (${why})`);
}

/** The venv holding PY_TOOLS (made once, built aside and renamed into place), or why there is none. */
async function toolsVenv() {
  const has = (dir) => {
    if (!existsSync(join(dir, "bin", "python"))) return false;
    const freeze = spawnSync(join(dir, "bin", "python"), ["-m", "pip", "freeze"], { encoding: "utf8" });
    const installed = (freeze.stdout ?? "").split("\n");
    return PY_TOOLS.every((spec) => installed.includes(spec));
  };
  if (has(TOOLS_VENV)) return TOOLS_VENV;
  // mypy 2 runs on CPython >= 3.10; the newest interpreter whose pip can reach the tools is used.
  const pythons = (await findAllPythons()).filter((p) => versionAtLeast(p.version, 3, 10)).reverse();
  const tried = [];
  for (const python of pythons) {
    const scratch = `${TOOLS_VENV}.tmp-${process.pid}`;
    rmSync(scratch, { recursive: true, force: true });
    const made = spawnSync(python.path, ["-m", "venv", scratch], { encoding: "utf8", timeout: 120_000 });
    const pip =
      made.status === 0 &&
      spawnSync(join(scratch, "bin", "python"), ["-m", "pip", "install", "--quiet", ...PY_TOOLS], { encoding: "utf8", timeout: 300_000 });
    if (pip && pip.status === 0 && has(scratch)) {
      rmSync(TOOLS_VENV, { recursive: true, force: true });
      renameSync(scratch, TOOLS_VENV);
      return TOOLS_VENV;
    }
    rmSync(scratch, { recursive: true, force: true });
    tried.push(python.version);
  }
  return { why: `pip could not install ${PY_TOOLS.join(" ")} for Python ${tried.join(", ") || "(none >= 3.10 found)"}` };
}

function versionAtLeast(version, major, minor) {
  const [a, b] = version.split(".").map(Number);
  return a > major || (a === major && b >= minor);
}
