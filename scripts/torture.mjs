#!/usr/bin/env node
/**
 * pyleash torture campaign (issue 9): `node scripts/torture.mjs [--quick] [--seed N] [--only a,b] [--json]
 * [--out DIR] [--write-docs]` after a build (`npm run build`), or `npm run -s torture -- ...`.
 * Faults, fuzzing (ZMTP and protocol level, seeded: `--seed N` replays), load and rogue peers, each bounded in
 * count and time; prints one table of figures (with --json: exactly torture.json), writes report/torture.json and
 * report/TORTURE.md, and with --write-docs regenerates docs/reliability.md from them. A FAIL verdict is a
 * finding, printed, not an error: the exit status is 0 unless the harness itself broke (2 for usage).
 * Each section is a module under scripts/torture/ ({ key, title, run(ctx) }); see SECTIONS.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { DIST, ROOT, mulberry32, taggedPythons } from "./torture/common.mjs";
import { renderMarkdown, renderText } from "./torture/report.mjs";
import { scriptArgs } from "./script-args.mjs";

const CONFIGS = {
  quick: {
    budgetS: 60,
    faultRounds: 1,
    faultCalls: 6,
    controllerRounds: 1,
    zmtpInputs: 1000,
    zmtpSeconds: 5,
    zmtpLiveAgents: 3,
    protocolRequests: 200,
    batch: 200,
    rawFrames: 150,
    deathsPerClass: 1,
    pipelinedCalls: 2000,
    tasksAtOnce: 50,
    spinningAtOnce: 20,
    cooperativeAtOnce: 50,
    spinningUnderLoad: 10,
    underLoadHogs: 1,
    stopsStartS: 30,
    securityRounds: 1,
    oversizeMb: 0,
    probeParallel: 11,
    poolSize: 2,
    poolCalls: 2000,
    poolKills: 1,
  },
  full: {
    budgetS: 600,
    faultRounds: 10,
    faultCalls: 20,
    controllerRounds: 10,
    zmtpInputs: 12_000,
    zmtpSeconds: 120,
    zmtpLiveAgents: 40,
    protocolRequests: 10_000,
    batch: 500,
    rawFrames: 3000,
    deathsPerClass: 3,
    pipelinedCalls: 100_000,
    tasksAtOnce: 2000,
    spinningAtOnce: 100,
    cooperativeAtOnce: 500,
    spinningUnderLoad: 100,
    underLoadHogs: 0,
    stopsStartS: 90,
    securityRounds: 5,
    oversizeMb: 300,
    probeParallel: 4,
    poolSize: 4,
    poolCalls: 50_000,
    poolKills: 6,
  },
};

/** The hand-written preamble of docs/reliability.md; everything after it is generated from torture.json. */
const PREAMBLE = `# Reliability

pyleash is held to a campaign it runs itself (issue 9): \`npm run torture\` (\`scripts/torture.mjs\`, sections in
\`scripts/torture/\`) kills and stops the agent with calls and tasks in flight, SIGKILLs the controller, fuzzes the
built-in ZMTP transport and the request protocol with a seeded generator (\`--seed N\` replays a run), loads the
agent with pipelined calls, mass task starts and mass stops (each stop report checked against how its task really
ended), SIGKILLs a pool's agents one after another under a stream of calls, and points rogue peers at the tcp
endpoint. Every loop is bounded in count and time; all traffic stays on
loopback or ipc. \`npm run torture -- --quick\` runs a slice of each section in seconds, and \`test/torture.test.ts\`
runs that slice in the test suite.

A **FAIL** below is a defect the campaign found, not a flaky figure: hung calls, processes or files left
behind, an agent that stops answering after a malformed request, a stop report that disagrees with how the task
ended. The table is regenerated with \`node scripts/torture.mjs --write-docs\`; no figure is typed by hand.

What a caller can run: any importable \`module:function\`, \`os:system\` and \`builtins:eval\` included. That is by
design for a controller talking to its own agent over a private ipc socket; an agent that serves callers you do
not fully trust should be started with \`allowedModules\` (README, "What a caller can run"), which the agent
itself enforces.

`;

const USAGE =
  "usage: node scripts/torture.mjs [--from torture.json] [--quick] [--seed N] [--only faults,probes,fuzzZmtp,fuzzProtocol,load,pool,security,stops,cooperativeStops,stopsUnderLoad] [--json] [--out DIR] [--write-docs] [--help]";
const args = readArgs(process.argv.slice(2));
const config = CONFIGS[args.quick ? "quick" : "full"];
const seed = args.seed ?? Date.now() % 1_000_000_000;
const log = (text) => process.stderr.write(`[torture] ${text}\n`);
process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));

if (args.from) {
  // Re-render a finished run's report (and docs/reliability.md with --write-docs) without running anything.
  writeOutputs(JSON.parse(readFileSync(args.from, "utf8")));
  process.exit(0);
}
if (!existsSync(new URL(DIST))) {
  process.stderr.write("dist/ is missing: build first (npm run build)\n");
  process.exit(2);
}
const api = await import(DIST);
const { faults } = await import("./torture/faults.mjs");
const { fuzzZmtp } = await import("./torture/fuzz-zmtp.mjs");
const { fuzzProtocol } = await import("./torture/fuzz-protocol.mjs");
const { probes } = await import("./torture/probes.mjs");
const { load, stops, cooperativeStops, stopsUnderLoad } = await import("./torture/load.mjs");
const { security } = await import("./torture/security.mjs");
const { pool } = await import("./torture/pool.mjs");
/** In report order. A new section is one more module here. */
const SECTIONS = [faults, probes, fuzzZmtp, fuzzProtocol, load, pool, security, stops, cooperativeStops, stopsUnderLoad].filter(
  (s) => !args.only || args.only.includes(s.key),
);

const python = realpathSync(
  execFileSync(process.env.PYLEASH_PYTHON ?? "python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim(),
);
const version = execFileSync(python, ["-c", "import platform; print(platform.python_version())"], { encoding: "utf8" }).trim();
const t0 = performance.now();
const deadline = Date.now() + config.budgetS * 1000;
const findings = [];
const ctx = {
  Worker: api.Worker,
  Pool: api.Pool,
  python,
  transport: "builtin", // the agent's own ZMTP client: the one this campaign fuzzes, and the default without pyzmq
  config,
  seed,
  quick: args.quick,
  log,
  /** Sections stop starting new rounds once the run's time budget is spent. */
  inTime: () => Date.now() < deadline,
  /** An independent, seeded stream per purpose, so one section's draws do not shift another's. */
  rng: (purpose) => mulberry32(seed ^ [...purpose].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261)),
  finding(section, what, replay) {
    const same = findings.find((f) => f.section === section && f.what === what);
    if (same) same.times++;
    else findings.push({ section, what, times: 1, replay });
    log(`FINDING [${section}] ${what}`);
  },
};
log(`${args.quick ? "quick" : "full"} run, seed ${seed}, Python ${version} (${python})`);

const figures = {};
const sectionSeconds = {};
for (const section of SECTIONS) {
  log(`${section.key}: ${section.title}`);
  const s0 = performance.now();
  try {
    figures[section.key] = (await section.run(ctx)).value;
  } catch (error) {
    figures[section.key] = undefined;
    ctx.finding(section.key, `the section failed: ${/** @type {any} */ (error)?.stack ?? error}`, { seed });
  }
  sectionSeconds[section.key] = +((performance.now() - s0) / 1000).toFixed(1);
}
const leftoverAtEnd = taggedPythons();
for (const { pid } of leftoverAtEnd) {
  try {
    process.kill(pid, "SIGKILL"); // reported above; the run itself must not leave them behind
  } catch {}
}

const report = {
  generatedAt: new Date().toISOString(),
  quick: args.quick,
  seed,
  python: { version, path: python },
  transport: ctx.transport,
  machine: {
    cores: os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg: os.loadavg().map((v) => +v.toFixed(2)),
  },
  config,
  ...figures,
  leftoverAtEnd,
  findings,
  sectionSeconds,
  elapsedS: Math.round((performance.now() - t0) / 100) / 10,
};
writeOutputs(report);
process.exit(0); // zeromq sockets of rogue peers and routers may hold the loop open for their linger

function writeOutputs(report) {
  const text = `${JSON.stringify(report, null, 2)}\n`;
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, "torture.json"), text);
  const markdown = renderMarkdown(report);
  writeFileSync(join(args.out, "TORTURE.md"), markdown);
  if (args.writeDocs)
    writeFileSync(
      join(ROOT, "docs", "reliability.md"),
      PREAMBLE + markdown.replace(/^# .*\n\n/, "## The last full run\n\n").replace(/^## Findings/m, "### Findings"),
    );
  log(
    `wrote ${join(args.out, "torture.json")} and TORTURE.md${args.writeDocs ? " and docs/reliability.md" : ""}${report.elapsedS === undefined ? "" : ` (a run of ${report.elapsedS} s)`}`,
  );
  process.stdout.write(args.json ? text : `${renderText(report)}\n`);
}

function readArgs(argv) {
  const values = scriptArgs(
    argv,
    {
      quick: { type: "boolean", default: false },
      from: { type: "string" },
      seed: { type: "string" },
      only: { type: "string" },
      json: { type: "boolean", default: false },
      out: { type: "string", default: join(ROOT, "report") },
      "write-docs": { type: "boolean", default: false },
    },
    USAGE,
  );
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) {
    process.stderr.write(`${USAGE}\nExpected "--seed" to be an integer in [0, 2^32), got ${JSON.stringify(values.seed)}\n`);
    process.exit(2);
  }
  return {
    from: values.from,
    quick: values.quick,
    seed,
    only: values.only?.split(","),
    json: values.json,
    out: values.out,
    writeDocs: values["write-docs"],
  };
}
