/**
 * faults: the agent dies (os._exit, SIGKILL, SIGSEGV) or is stopped (SIGSTOP) with calls and tasks in flight,
 * and the controller is SIGKILLed. Counts how in-flight work ends, how fast, what hangs, and what is left behind.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { DIST, FIXTURES, TAG_ENV, bump, dirGone, errorClass, ipcDir, isAlive, settleWithin, survivors, track } from "./common.mjs";

const HANG_MS = 10_000; // a call not settled this long after the fault counts as hung

export const faults = {
  key: "faults",
  title: "agent os._exit / SIGKILL / SIGSEGV / SIGSTOP and controller SIGKILL, with work in flight",
  async run(ctx) {
    const out = {};
    for (const fault of ["os._exit", "SIGKILL", "SIGSEGV", "SIGSTOP"]) {
      const sum = { rounds: 0, calls: 0, rejected: {}, resolved: 0, maxRejectMs: 0, hung: 0, leftoverProcesses: 0, leftoverFiles: 0 };
      for (let round = 0; round < ctx.config.faultRounds && ctx.inTime(); round++) {
        ctx.log(`faults: ${fault} round ${round + 1}/${ctx.config.faultRounds}`);
        await (fault === "SIGSTOP" ? stopRound(ctx, sum, round) : crashRound(ctx, fault, sum));
        sum.rounds++;
      }
      out[fault] = sum;
    }
    const ctl = { rounds: 0, agentGoneMaxMs: 0, leftoverProcesses: 0, dirLeftBySigkill: 0, leftoverFiles: 0, errors: [] };
    for (let round = 0; round < ctx.config.controllerRounds && ctx.inTime(); round++) {
      ctx.log(`faults: controller SIGKILL round ${round + 1}/${ctx.config.controllerRounds}`);
      await controllerRound(ctx, ctl);
      ctl.rounds++;
    }
    out["controller SIGKILL"] = ctl;
    return { value: out };
  },
};

/** A worker with `calls` calls:sleep(30) in flight, a spinning thread task and a sleeping process task. */
async function loaded(ctx, callOptions = {}, seconds = 30) {
  const worker = await ctx.Worker.start({ pythonPath: [FIXTURES], env: TAG_ENV, transport: ctx.transport });
  const spin = await worker.start("pyleash.demo:spin");
  const child = await worker.start("pyleash.demo:sleep", { args: [100], kind: "process" });
  await Promise.all([spin.started, child.started]);
  const calls = [];
  for (let i = 0; i < ctx.config.faultCalls; i++) calls.push(track(worker.call("calls:sleep", [seconds], {}, callOptions)));
  const tasks = [track(spin.result), track(child.result)];
  await worker.ping({ timeoutMs: 10_000 }); // answered after the calls were read: they are in flight
  return { worker, calls, tasks, pids: [worker.pid, child.pid].filter(Boolean), dir: ipcDir(worker.endpoint) };
}

async function crashRound(ctx, fault, sum) {
  const { worker, calls, tasks, pids, dir } = await loaded(ctx);
  const t0 = performance.now();
  if (fault === "os._exit") calls.push(track(worker.call("calls:exit_hard", [3])));
  else process.kill(worker.pid, fault);
  const all = [...calls, ...tasks];
  await settleWithin(Promise.all(all.map((t) => t.done)), HANG_MS);
  tally(sum, all, t0);
  await settleWithin(worker.close(), HANG_MS);
  await leftovers(sum, pids, dir);
}

/**
 * SIGSTOP: the agent is stopped, not dead. Half the calls carry timeoutMs (they must reject), half do not (they
 * must wait). health() must say alive and unresponsive. Even rounds then SIGCONT (the waiting calls finish and a
 * new call succeeds); odd rounds close the stopped worker (everything rejects).
 */
async function stopRound(ctx, sum, round) {
  const timed = ctx.config.faultCalls >> 1;
  const { worker, calls, tasks, pids, dir } = await loaded(ctx, { timeoutMs: 1_000 }, 1);
  const untimed = [];
  for (let i = 0; i < timed; i++) untimed.push(track(worker.call("calls:sleep", [1])));
  await worker.ping({ timeoutMs: 10_000 });
  const t0 = performance.now();
  process.kill(worker.pid, "SIGSTOP");
  const health = await worker.health(1_000);
  sum.health = bump(sum.health ?? {}, `alive=${health.alive} responsive=${health.responsive}`);
  // The process state after the check: T (stopped) unless something sent SIGCONT meanwhile.
  const state = procState(worker.pid);
  sum.stateDuringHealth = bump(sum.stateDuringHealth ?? {}, state);
  // health() is wrong only if it called a still-stopped agent responsive. The kernel itself may resume it: a
  // stopped process group that becomes orphaned (the agent's group, whose parent is in another session, when
  // a member such as a process task's child exits) gets SIGHUP and SIGCONT (POSIX job control).
  if (state === "T" && health.responsive) sum.healthWrong = (sum.healthWrong ?? 0) + 1;
  if (state !== "T") {
    ctx.finding(
      "faults",
      `a SIGSTOPped agent was running again (state ${state}) within a second; nothing in pyleash sends SIGCONT, but the kernel does when a stopped, orphaned process group loses a member; health() then rightly says responsive`,
      { seed: ctx.seed, round },
    );
  }
  await settleWithin(Promise.all(calls.map((t) => t.done)), HANG_MS);
  const waitingWhileStopped = untimed.filter((t) => !t.settled).length;
  sum.untimedWaitingWhileStopped = (sum.untimedWaitingWhileStopped ?? 0) + waitingWhileStopped;
  sum.untimedCalls = (sum.untimedCalls ?? 0) + untimed.length;
  if (round % 2 === 0) {
    process.kill(worker.pid, "SIGCONT");
    const next = await settleWithin(worker.call("math:floor", [2.7], {}, { timeoutMs: 5_000 }), HANG_MS);
    const how = next.error?.signal ?? next.error?.exitCode; // a crash: by which signal, or with which status
    sum.afterSigcont = bump(
      sum.afterSigcont ?? {},
      next.ok && next.value === 2
        ? "next call ok"
        : `next call ${next.hung ? "hung" : errorClass(next.error)}${how == null ? "" : ` (${how})`}`,
    );
    await settleWithin(Promise.all(untimed.map((t) => t.done)), HANG_MS);
  }
  await settleWithin(worker.close(), HANG_MS);
  const all = [...calls, ...untimed, ...tasks];
  await settleWithin(Promise.all(all.map((t) => t.done)), Math.max(0, HANG_MS - (performance.now() - t0)));
  tally(sum, all, t0);
  await leftovers(sum, pids, dir);
}

function procState(pid) {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1][0];
  } catch {
    return "gone";
  }
}

function tally(sum, all, t0) {
  for (const t of all) {
    sum.calls++;
    if (!t.settled) sum.hung++;
    else if (t.ok) sum.resolved++;
    else {
      bump(sum.rejected, errorClass(t.error));
      sum.maxRejectMs = Math.max(sum.maxRejectMs, Math.round(t.at - t0));
    }
  }
}

async function leftovers(sum, pids, dir) {
  sum.leftoverProcesses += (await survivors(pids, 3_000)).length;
  if (!(await dirGone(dir, 2_000))) sum.leftoverFiles++;
}

/** A controller process built from dist/ (as test/lifecycle.test.ts does), SIGKILLed with work in flight. */
async function controllerRound(ctx, ctl) {
  const script = `
    import { Worker } from ${JSON.stringify(new URL(DIST).pathname)};
    const w = await Worker.start({ pythonPath: [${JSON.stringify(FIXTURES)}], transport: ${JSON.stringify(ctx.transport)} });
    const spin = await w.start("pyleash.demo:spin");
    const child = await w.start("pyleash.demo:sleep", { args: [100], kind: "process" });
    await Promise.all([spin.started, child.started]);
    for (let i = 0; i < 10; i++) w.call("calls:sleep", [30]).catch(() => {});
    await w.ping();
    console.log(JSON.stringify({ pid: w.pid, child: child.pid, endpoint: w.endpoint }));
    setInterval(() => {}, 1000);`;
  const controller = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...TAG_ENV },
  });
  let stderr = "";
  controller.stderr.on("data", (d) => (stderr += d));
  const started = await settleWithin(
    new Promise((resolve, reject) => {
      controller.stdout.once("data", (d) => resolve(JSON.parse(d.toString())));
      controller.once("exit", (code) => reject(new Error(`controller exited early (${code}): ${stderr.slice(-300)}`)));
    }),
    30_000,
  );
  if (!started.ok) {
    controller.kill("SIGKILL");
    ctl.errors.push(started.hung ? "controller did not start within 30 s" : String(started.error.message));
    return;
  }
  const { pid, child, endpoint } = started.value;
  const dir = ipcDir(endpoint);
  const t0 = performance.now();
  controller.kill("SIGKILL");
  const left = await survivors([pid, child], 5_000);
  ctl.agentGoneMaxMs = Math.max(ctl.agentGoneMaxMs, Math.round(performance.now() - t0));
  ctl.leftoverProcesses += left.length;
  for (const p of left) {
    try {
      process.kill(p, "SIGKILL"); // ours to clean up: the run must leave nothing behind
    } catch {}
  }
  if (existsSync(dir)) ctl.dirLeftBySigkill++;
  // The next controller (a fresh process: the sweep runs once per process) must remove the dead one's directory.
  const next = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `
    import { Worker } from ${JSON.stringify(new URL(DIST).pathname)};
    const w = await Worker.start({ transport: ${JSON.stringify(ctx.transport)} });
    await w.close();`,
    ],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...TAG_ENV } },
  );
  const exit = await settleWithin(new Promise((r) => next.once("exit", r)), 30_000);
  if (exit.hung) next.kill("SIGKILL");
  if (existsSync(dir)) ctl.leftoverFiles++;
  if (isAlive(pid)) ctl.errors.push(`agent ${pid} alive after the next controller`);
}
