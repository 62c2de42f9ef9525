/**
 * A leash on an existing pythonia bridge: an agent attached in threads of pythonia's own Python process stops the
 * call its main thread runs (by signal), stops other threads, and shows every thread's stack, even while that
 * main thread is stuck. pythonia is not modified: the attach is one ordinary call through it.
 */
import { InvalidArgumentError, PyleashError } from "../errors.js";
import type { TaskHost } from "../task/host.js";
import { parseDump } from "../task/faulthandler.js";
import type { StopOptions } from "../task/options.js";
import type { Frame, StopReport, ThreadInfo } from "../task/report.js";
import { type StopSubject, stopTask } from "../task/stop.js";
import { settlesWithin } from "../util/time.js";
import { describe, nonNegativeInteger, stripUndefined } from "../util/validate.js";
import { busiestThreadShare, suspended } from "../worker/thread-cpu.js";
import type { Connection } from "../worker/connection.js";
import { type PythoniaImport, attach } from "./link.js";

export type { PythoniaImport };

export interface LeashOptions {
  /** How long attaching may take: a few pythonia round trips on its main thread, then the agent's hello. @default 10000 */
  startTimeoutMs?: number;
  /** How long close() waits for the agent to detach, and for pythonia's main thread to give the signal back. @default 2000 */
  closeGraceMs?: number;
}

/** How to stop: the `strategy`, `graceMs` and `deadlineMs` of `task.stop()`; a pythonia process is never restarted by pyleash. */
export type LeashStopOptions = Omit<StopOptions, "restartWorkerIfBlocked">;

export interface StackOptions {
  /** The thread whose stack to show. @default pythonia's main thread */
  ident?: number;
  /** How long the agent may take to answer before faulthandler's dump is read instead. @default 1000 */
  timeoutMs?: number;
}

export interface StackSnapshot {
  /** `agent`: read live by the attached agent; `faulthandler`: the agent could not answer (C code holds the GIL). */
  source: "agent" | "faulthandler";
  /** Innermost last. */
  frames: Frame[];
}

/** A call that took longer than its `withTimeout` bound; `stopReport` says whether its Python really stopped (as on an aborted `worker.call`). */
export class CallTimeoutError extends PyleashError {
  readonly timeoutMs: number;
  /** The last stop made for it (several when calls queued ahead of it had to be stopped first). */
  readonly stopReport: StopReport | undefined;
  readonly stopReports: StopReport[];
  constructor(timeoutMs: number, reports: StopReport[], cause: unknown) {
    const report = reports.at(-1);
    super(
      "CALL_TIMEOUT",
      `The pythonia call took longer than ${timeoutMs} ms` +
        (report ? `; pyleash stopped it: ${report.outcome}${report.reason ? ` (${report.reason})` : ""}` : ""),
      cause === undefined ? undefined : { cause },
    );
    this.timeoutMs = timeoutMs;
    this.stopReports = reports;
    this.stopReport = report;
  }
}

/** How long a stopped call's promise may take to reject after the report, before the next queued call is stopped. */
const SETTLE_AFTER_STOP_MS = 1_000;
/** withTimeout stops at most this many calls (its own and those queued ahead of it). */
const MAX_STOPS = 50;

export class Leash implements AsyncDisposable {
  readonly #link: Connection;
  /** pythonia's main thread: the one whose calls stopCurrent stops. */
  readonly #mainIdent: number;
  readonly #python: PythoniaImport;
  readonly #closeGraceMs: number;
  #closing: Promise<void> | undefined;
  #stoppingCurrent: Promise<unknown> = Promise.resolve();

  private constructor(link: Connection, mainIdent: number, python: PythoniaImport, closeGraceMs: number) {
    this.#link = link;
    this.#mainIdent = mainIdent;
    this.#python = python;
    this.#closeGraceMs = closeGraceMs;
  }

  /** @internal Use `leash(python)`. */
  static async attach(python: PythoniaImport, options: LeashOptions = {}): Promise<Leash> {
    if (typeof python !== "function") throw new InvalidArgumentError(`Expected pythonia's "python" function, got ${describe(python)}`);
    const { startTimeoutMs, closeGraceMs } = { startTimeoutMs: 10_000, closeGraceMs: 2_000, ...stripUndefined(options) };
    nonNegativeInteger("startTimeoutMs", startTimeoutMs);
    nonNegativeInteger("closeGraceMs", closeGraceMs);
    const { link, mainIdent } = await attach(python, { startTimeoutMs, closeGraceMs });
    return new Leash(link, mainIdent, python, closeGraceMs);
  }

  /** pythonia's Python process id. */
  get pid(): number {
    return this.#link.pid;
  }

  /** pythonia's Python version, e.g. "3.11.7". */
  get python(): string {
    return this.#link.python;
  }

  /** True once closed, or once pythonia's process is gone. */
  get closed(): boolean {
    return this.#link.closed;
  }

  /**
   * Stop whatever pythonia's main thread runs now: SIGUSR2 to that thread, whose handler raises
   * `pyleash.attach.CallStopped` (an Exception, so pythonia reports it as the call's error and reads the next call),
   * again after each one swallowed. Resolves to a StopReport: `stopped`, `finished-first` (no call was running),
   * or `blocked` (C code holding the GIL, or pythonia waiting for JavaScript), never a claim it cannot back.
   */
  stopCurrent(options: LeashStopOptions = {}): Promise<StopReport> {
    // One at a time: each stop aims the one signal at the call running when it begins.
    const next = this.#stoppingCurrent
      .catch(() => undefined)
      .then(() => this.#stop("main", "main", "pythonia's current call", this.#mainIdent, options));
    this.#stoppingCurrent = next;
    return next;
  }

  /** Stop another thread of pythonia's Python (one its code started) with an asynchronous exception. */
  stopThread(ident: number, options: LeashStopOptions = {}): Promise<StopReport> {
    if (!Number.isSafeInteger(ident) || ident <= 0)
      return Promise.reject(new InvalidArgumentError(`Expected "ident" to be a thread ident, got ${describe(ident)}`));
    return this.#stop(`thread-${ident}`, "thread", `thread ${ident}`, ident, options);
  }

  /**
   * Every Python thread of pythonia's process, with its top frames; pyleash's own threads have `agent: true`. Read
   * live by the agent, so it rejects with an AbortError after `timeoutMs` (default 5000) while C code holds the GIL:
   * `stack()` answers then.
   */
  threads(options: { timeoutMs?: number } = {}): Promise<ThreadInfo[]> {
    const { timeoutMs } = { timeoutMs: 5_000, ...stripUndefined(options) };
    nonNegativeInteger("timeoutMs", timeoutMs);
    return this.#link.request({ type: "threads" }, { timeoutMs }) as Promise<ThreadInfo[]>;
  }

  /**
   * A thread's stack (pythonia's main thread by default), innermost last: read live by the agent, or, when the
   * agent does not answer within `timeoutMs` (C code holding the GIL), from faulthandler's dump.
   */
  async stack(options: StackOptions = {}): Promise<StackSnapshot> {
    const { ident, timeoutMs } = { ident: this.#mainIdent, timeoutMs: 1_000, ...stripUndefined(options) };
    nonNegativeInteger("timeoutMs", timeoutMs);
    const task = ident === this.#mainIdent ? "main" : `thread-${ident}`;
    try {
      return { source: "agent", frames: (await this.#link.request({ type: "stack", task }, { timeoutMs })) as Frame[] };
    } catch (error) {
      if (this.#link.closed || !(error instanceof Error) || error.name !== "AbortError") throw error;
    }
    const threads = parseDump(await this.#link.dumpThreads());
    return { source: "faulthandler", frames: threads.find((t) => t.ident === BigInt(ident))?.frames ?? [] };
  }

  /**
   * `call` (a pythonia promise), bounded: when it has not settled after `ms`, pyleash stops it in Python for real
   * and the returned promise rejects with a CallTimeoutError carrying the StopReport (`cause`: pythonia's error).
   * pythonia runs calls one at a time, in order: a call queued behind others is reached by stopping those first.
   */
  async withTimeout<T>(call: Promise<T>, ms: number, options: LeashStopOptions = {}): Promise<T> {
    nonNegativeInteger("ms", ms);
    let outcome: { value: T } | { error: unknown } | undefined;
    const settled = call.then(
      (value) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
    const reports: StopReport[] = [];
    while (!outcome && reports.length < MAX_STOPS && !this.closed) {
      const report = await this.stopCurrent(options);
      reports.push(report);
      if (report.outcome === "blocked" || report.outcome === "unavailable") break;
      await settlesWithin(settled, SETTLE_AFTER_STOP_MS);
    }
    if (reports.length === 0 && outcome) {
      if ("value" in outcome) return outcome.value;
      throw outcome.error;
    }
    throw new CallTimeoutError(ms, reports, outcome && "error" in outcome ? outcome.error : undefined);
  }

  /**
   * Detach: the agent's threads end, and pythonia's main thread gets its SIGUSR2 and SIGUSR1 handlers and
   * threading.excepthook back. Resolves once pyleash's threads are gone (the detach call on pythonia's main thread
   * joins them), or after `closeGraceMs` if that thread is stuck (the signal handler then stays installed but does
   * nothing until it is free) or a stop still runs. pyleash's modules stay imported in pythonia's Python.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#link.close();
      // pythonia's python() starts a new process when its own has ended: ask only the process we attached to.
      if (!this.#link.alive) return;
      const restored = (async () => {
        const attach = await this.#python("pyleash.attach");
        await attach.detach(this.#closeGraceMs / 1000); // returns once pyleash's threads have ended
      })();
      restored.catch(() => {}); // pythonia gone, or still stuck: the inert handler stays until it is free
      await settlesWithin(restored, this.#closeGraceMs);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #stop(id: string, kind: "main" | "thread", target: string, ident: number, options: LeashStopOptions): Promise<StopReport> {
    if ("restartWorkerIfBlocked" in options && (options as StopOptions).restartWorkerIfBlocked !== undefined) {
      return Promise.reject(
        new InvalidArgumentError(`"restartWorkerIfBlocked" does not apply to pythonia: its process is pythonia's to end (python.exit())`),
      );
    }
    const link = this.#link;
    let ended!: () => void;
    const result = new Promise<void>((resolve) => (ended = resolve));
    const host: TaskHost = {
      request: (body, requestOptions) => {
        const reply = link.request(body, requestOptions);
        reply.then(ended, () => {});
        return reply;
      },
      dumpThreads: () => link.dumpThreads(),
      ping: (timeoutMs) => link.responsive(timeoutMs),
      busiestThreadShare: (windowMs) => busiestThreadShare(link.pid, windowMs),
      suspended: () => suspended(link.pid),
      python: link.python,
      strategies: link.strategies,
      restartBlocked: async () => false,
      gaveUp: () => {},
    };
    const subject: StopSubject = {
      id,
      kind,
      target,
      ident,
      status: "running",
      endReported: false,
      result,
      markBlocked: () => {},
    };
    return stopTask(subject, host, options);
  }
}

/** Attach a leash to pythonia's Python process, given pythonia's `python` function, while the bridge is healthy. */
export function leash(python: PythoniaImport, options: LeashOptions = {}): Promise<Leash> {
  return Leash.attach(python, options);
}
