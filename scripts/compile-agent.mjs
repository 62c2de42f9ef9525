#!/usr/bin/env node
/**
 * postinstall: byte-compile the Python agent (py/pyleash) with the default interpreter (env PYLEASH_PYTHON,
 * else python3), as pip does when it installs a package. Each agent then starts from cached bytecode: less
 * start-up time and ~1 MB less resident memory where the interpreter is not allowed to write the cache
 * itself (PYTHONDONTWRITEBYTECODE, a read-only install). Other interpreters compile on first use, as ever.
 * Never fails the install: without a usable Python there is simply nothing cached.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const agent = fileURLToPath(new URL("../py/pyleash", import.meta.url));
const python = process.env.PYLEASH_PYTHON || "python3";
try {
  const run = spawnSync(python, ["-m", "compileall", "-q", agent], { encoding: "utf8", timeout: 60_000 });
  if (run.error || run.status !== 0) {
    const why = run.error?.message ?? (run.stderr || run.stdout || `exit status ${run.status}`).trim();
    console.warn(`pyleash: the agent was not byte-compiled with ${python} (${why}); it will compile at start`);
  }
} catch (error) {
  console.warn(`pyleash: the agent was not byte-compiled: ${error}`);
}
