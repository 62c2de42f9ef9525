/**
 * load: many pipelined calls, many tasks started at once, many spinning tasks stopped at once — nothing lost,
 * and every StopReport checked against how its task really ended.
 */
import { execFile, spawn } from "node:child_process";
import { cpus } from "node:os";
import { ROOT, FIXTURES, TAG_ENV, bump, errorClass, settleWithin, sleep, track } from "./common.mjs";

const sum = (o) => Object.values(o).reduce((s, v) => s + v, 0);

export const load = {
  key: "load",
  title: "pipelined calls, tasks started at once, spinning tasks stopped at once",
  async run(ctx) {
    const worker = await ctx.Worker.start({ pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport });
    try {
      const value = { calls: await calls(ctx, worker), starts: await starts(ctx, worker) };
      if (ctx.config.oversizeMb) value.oversize = await oversize(ctx, worker);
      return { value };
    } finally {
      await settleWithin(worker.close(), 20_000);
    }
  },
};

/** Mass stops of CPU-bound tasks (each one a thread spinning in pure Python, so they starve one another). */
export const stops = massStops("stops", "spinning tasks stopped at once", "pyleash.demo:spin", "spinningAtOnce");
/** Mass stops of cooperative tasks (each waits on its stop_event), as issue 9 first saw 403 of 500 reported blocked. */
export const cooperativeStops = massStops(
  "cooperativeStops",
  "cooperative tasks stopped at once",
  "pyleash.demo:cooperative",
  "cooperativeAtOnce",
);

/** Mass stops of spinning tasks while CPU hogs (processes spinning outside the agent) take the cores from it. */
export const stopsUnderLoad = massStops(
  "stopsUnderLoad",
  "spinning tasks stopped at once under load",
  "pyleash.demo:spin",
  "spinningUnderLoad",
  true,
);

function massStops(key, title, target, countKey, underLoad = false) {
  return {
    key,
    title,
    async run(ctx) {
      const worker = await ctx.Worker.start({ pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport });
      // One more CPU hog than the cores (config.underLoadHogs: 0 = that many), so the agent never has a core to itself.
      const hogs = underLoad ? ctx.config.underLoadHogs || cpus().length + 1 : 0;
      const hogging = startHogs(hogs);
      try {
        const value = await stopMany(ctx, worker, target, ctx.config[countKey]);
        await settleWithin(worker.close(), 20_000); // the floor runs alone beside the same hogs
        if (target === "pyleash.demo:spin") value.floor = await floor(ctx, value);
        return { value: { ...value, hogs } };
      } finally {
        for (const hog of hogging) hog.kill("SIGKILL");
        await settleWithin(worker.close(), 20_000);
      }
    },
  };
}

/** A mass stop's floor takes this long at most (under heavy load starting its threads takes minutes). */
const FLOOR_TIMEOUT_MS = 300_000;
/** The agent's default switch interval (ms), which pyleash's stops run at. */
const SWITCH_INTERVAL_MS = 0.2;

/**
 * The in-process floor under the mass stop just made, under the same load: scripts/bench/stop_floor.py mass (as
 * many threads spinning pyleash.demo:spin's loop, an asynchronous exception set in each from one thread, all
 * joined; no ladder, so no 250 ms flag step). Milliseconds from the first raise to the last join, and pyleash's
 * time (stopSeconds) over it.
 */
async function floor(ctx, got) {
  ctx.log(`load: the in-process floor: ${got.n} spinning threads stopped from one thread`);
  const script = `${ROOT}scripts/bench/stop_floor.py`;
  const args = [script, "mass", String(got.n), "1", String(SWITCH_INTERVAL_MS)];
  const out = await new Promise((resolve) =>
    execFile(ctx.python, args, { timeout: FLOOR_TIMEOUT_MS, env: { ...process.env, ...TAG_ENV } }, (error, stdout) =>
      resolve(
        error ? { error: error.killed ? `timed out after ${FLOOR_TIMEOUT_MS / 1000} s` : String(error.message).slice(0, 200) } : { stdout },
      ),
    ),
  );
  if (out.error) return { ms: null, ratio: null, error: out.error };
  const ms = +JSON.parse(out.stdout)[0].toFixed(1);
  return { ms, ratio: ms > 0 ? +((got.stopSeconds * 1000) / ms).toFixed(1) : null };
}

/** `n` processes that spin until killed (bounded anyway: each exits after 10 minutes). */
function startHogs(n) {
  const code = "const end = Date.now() + 600000; while (Date.now() < end);";
  return Array.from({ length: n }, () => spawn(process.execPath, ["-e", code], { stdio: "ignore" }));
}

async function calls(ctx, worker) {
  const n = ctx.config.pipelinedCalls;
  ctx.log(`load: ${n} pipelined calls`);
  const t0 = performance.now();
  const pending = [];
  for (let i = 0; i < n; i++)
    pending.push(
      worker.call("calls:add", [i, 1]).then(
        (v) => v === i + 1,
        () => false,
      ),
    );
  const r = await settleWithin(Promise.all(pending), 300_000);
  const correct = r.ok ? r.value.filter(Boolean).length : 0;
  return {
    n,
    correct,
    wrongOrFailed: r.ok ? n - correct : undefined,
    hung: r.hung ? n : 0,
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
  };
}

async function starts(ctx, worker) {
  const n = ctx.config.tasksAtOnce;
  ctx.log(`load: ${n} tasks started at once`);
  const t0 = performance.now();
  const tasks = await Promise.all(
    Array.from({ length: n }, (_, i) => worker.start("blocking:returns_soon", { args: [i] }).catch((e) => e)),
  );
  const startErrors = {};
  const running = tasks.filter((t) => {
    if (t instanceof Error) bump(startErrors, errorClass(t));
    return !(t instanceof Error);
  });
  const started = await settleWithin(Promise.all(running.map((t) => t.started)), 120_000);
  const results = await settleWithin(
    Promise.all(
      tasks.map((t, i) =>
        t instanceof Error
          ? false
          : t.result.then(
              (v) => v === i,
              () => false,
            ),
      ),
    ),
    120_000,
  );
  const finished = results.ok ? results.value.filter(Boolean).length : 0;
  return {
    n,
    started: started.ok ? running.length : 0,
    finished,
    startErrors,
    hung: results.hung ? n : 0,
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
  };
}

/**
 * Start n pyleash.demo:spin tasks, stop them all at once, and hold every report to the task's real end:
 * `stopped` must be followed by TaskStoppedError; `blocked` says the task was still running at the deadline (true
 * for a spin that the starved agent only reached later: counted apart, as blocked-then-stopped); a reason that
 * asserts C code froze the agent is dishonest for pure-Python tasks; `agentResponsive: false` claims an agent
 * that did not answer, dishonest when it answered every one of our pings.
 */
async function stopMany(ctx, worker, target, n) {
  ctx.log(`load: starting ${n} ${target} tasks`);
  const t0 = performance.now();
  const tasks = [];
  const startBy = Date.now() + ctx.config.stopsStartS * 1000; // starts slow down as spinning threads pile up
  for (let i = 0; i < n && ctx.inTime() && Date.now() < startBy; i++) tasks.push(await worker.start(target));
  const started = await settleWithin(Promise.all(tasks.map((t) => t.started)), 120_000);
  const startSeconds = +((performance.now() - t0) / 1000).toFixed(1);
  const ends = tasks.map((t) => track(t.result));
  ctx.log(`load: stopping ${tasks.length} ${target} tasks at once (started in ${startSeconds} s)`);
  let pingsLate = 0;
  let pings = 0;
  let pinging = true;
  const pinger = (async () => {
    while (pinging) {
      pings++;
      const p = await settleWithin(worker.ping({ timeoutMs: 2_000 }), 5_000);
      if (!p.ok) pingsLate++;
      await sleep(200);
    }
  })();
  const s0 = performance.now();
  const reports = await Promise.all(tasks.map((t) => settleWithin(t.stop(), 60_000).then((r) => ({ ...r, at: performance.now() }))));
  const stopSeconds = +((performance.now() - s0) / 1000).toFixed(1);
  await settleWithin(Promise.all(ends.map((e) => e.done)), 15_000);
  pinging = false;
  await pinger;
  if (tasks.length < n)
    ctx.finding(
      "load",
      `only ${tasks.length} of ${n} ${target} tasks were started within the start phase's ${ctx.config.stopsStartS} s cap (all started after ${startSeconds} s): each start waits on the GIL the running ones hold`,
      { seed: ctx.seed },
    );
  const out = {
    requested: n,
    n: tasks.length,
    allStarted: started.ok,
    startSeconds,
    stopSeconds,
    outcomes: {},
    reasons: {},
    agentUnresponsive: 0,
    dishonestReports: 0,
    dishonest: {},
    blockedThenStopped: 0,
    unsettledAfter15s: 0,
    pings,
    pingsLate,
  };
  for (const [i, r] of reports.entries()) {
    const end = ends[i];
    if (!end.settled) out.unsettledAfter15s++;
    if (!r.ok) {
      bump(out.outcomes, r.hung ? "stop() hung" : `stop() rejected ${errorClass(r.error)}`);
      continue;
    }
    const report = r.value;
    const before = sum(out.dishonest);
    bump(out.outcomes, report.outcome);
    if (report.reason) bump(out.reasons, report.reason.replace(/\d+/g, "N"));
    // pyleash.demo:spin is pure Python: no C call holds the GIL, so a report blaming one is wrong.
    if (/C code holding the GIL has frozen/i.test(report.reason ?? ""))
      bump(out.dishonest, "asserts C code holding the GIL froze the agent, though every task is pure Python");
    if (report.agentResponsive === false) {
      out.agentUnresponsive++;
      if (pingsLate === 0) bump(out.dishonest, "agentResponsive false, yet the agent answered every ping");
    }
    const stoppedError = end.settled && !end.ok && errorClass(end.error) === "TaskStoppedError";
    if (report.outcome === "stopped" && !stoppedError)
      bump(out.dishonest, `stopped, but the task ${end.settled ? (end.ok ? "resolved" : errorClass(end.error)) : "did not end"}`);
    if (report.outcome === "blocked" && stoppedError) {
      if (end.at <= r.at) bump(out.dishonest, "blocked, though the task had already ended");
      else out.blockedThenStopped++;
    }
    if (sum(out.dishonest) > before) out.dishonestReports++;
  }
  const lies = out.dishonestReports;
  if (lies)
    ctx.finding("load", `${lies} of ${tasks.length} stop reports disagree with how the task ended (${JSON.stringify(out.dishonest)})`, {
      seed: ctx.seed,
    });
  return out;
}

/** One argument larger than the built-in transport's 256 MiB frame limit: a typed refusal, or a lost agent? */
async function oversize(ctx, worker) {
  const mb = ctx.config.oversizeMb;
  ctx.log(`load: one call with a ${mb} MB argument`);
  const bystander = worker.call("calls:sleep", [2]);
  const r = await settleWithin(worker.call("builtins:len", ["x".repeat(mb * 1e6)], {}, { timeoutMs: 60_000 }), 90_000);
  const b = await settleWithin(bystander, 30_000);
  const next = await settleWithin(worker.call("math:floor", [2.7], {}, { timeoutMs: 10_000 }), 20_000);
  const out = {
    mb,
    outcome: r.ok
      ? "answered"
      : r.hung
        ? "hung"
        : `${errorClass(r.error)}${r.error?.exitCode !== undefined ? ` (exit ${r.error.exitCode})` : ""}`,
    bystander: b.ok ? "ok" : b.hung ? "hung" : errorClass(b.error),
    nextCall: next.ok ? "ok" : next.hung ? "hung" : errorClass(next.error),
  };
  if (!["InvalidArgument", "UnsupportedValue", "MessageTooLarge"].some((typed) => out.outcome.startsWith(typed))) {
    ctx.finding("load", `a ${mb} MB argument: ${out.outcome} instead of a typed refusal; the next call: ${out.nextCall}`, {
      seed: ctx.seed,
    });
  }
  if (out.bystander !== "ok")
    ctx.finding("load", `a ${mb} MB argument lost an unrelated in-flight call (${out.outcome}; bystander ${out.bystander})`, {
      seed: ctx.seed,
    });
  return out;
}
