/** Every error pyleash raises is a PyleashError with a stable `code`; subclasses carry the facts. */
import type { PythonErrorPayload } from "./protocol.js";
import type { StopReport } from "./task/report.js";

/** Every `code` a PyleashError may carry (docs/errors.md), to match on: `error.code === ERROR_CODES.WORKER_CRASHED`. */
export const ERROR_CODES = {
  PYTHON_NOT_FOUND: "PYTHON_NOT_FOUND",
  PYTHON_UNSUPPORTED: "PYTHON_UNSUPPORTED",
  PYTHON_ERROR: "PYTHON_ERROR",
  TARGET_NOT_FOUND: "TARGET_NOT_FOUND",
  TARGET_NOT_ALLOWED: "TARGET_NOT_ALLOWED",
  RESULT_NOT_SERIALIZABLE: "RESULT_NOT_SERIALIZABLE",
  PROTOCOL_ERROR: "PROTOCOL_ERROR",
  WORKER_CRASHED: "WORKER_CRASHED",
  WORKER_LOST: "WORKER_LOST",
  WORKER_START_FAILED: "WORKER_START_FAILED",
  WORKER_CLOSED: "WORKER_CLOSED",
  WORKER_RESTARTED: "WORKER_RESTARTED",
  QUEUE_FULL: "QUEUE_FULL",
  WORKER_CRASH_LOOP: "WORKER_CRASH_LOOP",
  ABORT_ERR: "ABORT_ERR",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  UNSUPPORTED_VALUE: "UNSUPPORTED_VALUE",
  TASK_STOPPED: "TASK_STOPPED",
  CALL_TIMEOUT: "CALL_TIMEOUT",
  INITIALIZER_FAILED: "INITIALIZER_FAILED",
} as const;

/** A PyleashError's stable `code`. */
export type ErrorCode = keyof typeof ERROR_CODES;

export class PyleashError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No usable interpreter at what was asked for; `tried` lists every path or command attempted. */
export class PythonNotFoundError extends PyleashError {
  readonly tried: string[];
  constructor(spec: string, tried: string[], detail?: string) {
    super(
      "PYTHON_NOT_FOUND",
      `No Python interpreter found for "${spec}" (tried: ${tried.join(", ") || "nothing"})` + (detail ? `: ${detail}` : ""),
    );
    this.tried = tried;
  }
}

/** The interpreter exists but is older than CPython 3.8 or is not CPython. */
export class PythonVersionError extends PyleashError {
  readonly version: string;
  readonly path: string;
  constructor(path: string, version: string) {
    super("PYTHON_UNSUPPORTED", `pyleash needs CPython >= 3.8, but ${path} is Python ${version}`);
    this.version = version;
    this.path = path;
  }
}

/** An exception raised by Python code: `type` is its class name, `traceback` the formatted stack. */
export class PythonError extends PyleashError {
  readonly type: string;
  readonly traceback: string | undefined;
  constructor(payload: PythonErrorPayload, code: ErrorCode = "PYTHON_ERROR") {
    super(code, `${payload.type}: ${payload.message}`);
    this.type = payload.type;
    this.traceback = payload.traceback;
  }
}

/** The "module:function" target could not be imported or has no such attribute. */
export class TargetNotFoundError extends PyleashError {
  constructor(payload: PythonErrorPayload) {
    super("TARGET_NOT_FOUND", payload.message);
  }
}

/** The target lies outside the agent's `allowedModules` (WorkerOptions): refused in the agent, nothing ran. */
export class TargetNotAllowedError extends PyleashError {
  constructor(payload: PythonErrorPayload) {
    super("TARGET_NOT_ALLOWED", payload.message);
  }
}

/** The Python function returned a value that cannot cross exactly; `pythonType` names it, `path` says where. */
export class ResultNotSerializableError extends PyleashError {
  readonly pythonType: string;
  readonly path: string | undefined;
  constructor(payload: PythonErrorPayload) {
    const pythonType = payload.pythonType ?? "unknown";
    const where = payload.path ? ` at ${payload.path}` : "";
    super("RESULT_NOT_SERIALIZABLE", `The result contains a ${pythonType}${where}, which cannot cross to TypeScript (${payload.message})`);
    this.pythonType = pythonType;
    this.path = payload.path;
  }
}

/** The agent refused a request as malformed, or sent something the controller cannot read. */
export class ProtocolError extends PyleashError {
  constructor(message: string) {
    super("PROTOCOL_ERROR", message);
  }
}

/** The agent process died; every in-flight call is rejected with this as soon as it happens. */
export class WorkerCrashedError extends PyleashError {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the agent wrote to stderr, for the post-mortem (kept here, not in the message: they may be older and unrelated). */
  readonly stderr: string;
  constructor(exitCode: number | null, signal: NodeJS.Signals | null, stderr: string, detail?: string) {
    const how = detail ?? (signal ? `was killed by ${signal}` : `exited with status ${exitCode}`);
    const tail = stderr.trim() ? " (its last stderr lines are in the error's stderr)" : "";
    super("WORKER_CRASHED", `The Python agent ${how}${tail}`);
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderr = stderr;
  }
}

/** A remote agent stopped answering (host down, link cut, frozen): its in-flight work rejects with this. */
export class WorkerLostError extends PyleashError {
  /** The agent's host name and pid, as its hello said. */
  readonly host: string;
  readonly pid: number;
  /** When the controller last heard from it (ms since the epoch). */
  readonly lastSeen: number;
  constructor(host: string, pid: number, lastSeen: number, silentMs: number) {
    super("WORKER_LOST", `The remote agent ${pid} on ${host} was lost: nothing heard from it for ${silentMs} ms`);
    this.host = host;
    this.pid = pid;
    this.lastSeen = lastSeen;
  }
}

/** The agent did not say hello in time, or exited before it did. */
export class WorkerStartError extends PyleashError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WORKER_START_FAILED", message, options);
  }
}

/** The worker was closed (by `close()`) while the call was pending, or before it was made. */
export class WorkerClosedError extends PyleashError {
  constructor() {
    super("WORKER_CLOSED", "The worker is closed");
  }
}

/** The worker was recycled (a blocked task forced a restart); the work it had in flight is lost. */
export class WorkerRestartedError extends PyleashError {
  constructor(reason: string) {
    super("WORKER_RESTARTED", `The worker was restarted: ${reason}`);
  }
}

/** The pool's queue already holds `maxQueue` calls waiting for a worker: refused at once, nothing ran. */
export class QueueFullError extends PyleashError {
  readonly maxQueue: number;
  constructor(maxQueue: number) {
    super("QUEUE_FULL", `The pool's queue is full: ${maxQueue} calls already wait for a worker (the maxQueue pool option)`);
    this.maxQueue = maxQueue;
  }
}

/**
 * The pool's workers crashed `crashes` times within `windowMs`: it waits `retryInMs` before it starts the next
 * replacement. Emitted on the pool's "error" event; calls that find no live worker meanwhile reject with it.
 * `cause` is the last crash (a WorkerCrashedError, or the WorkerStartError of a replacement that did not start).
 */
export class WorkerCrashLoopError extends PyleashError {
  readonly crashes: number;
  readonly windowMs: number;
  readonly retryInMs: number;
  constructor(crashes: number, windowMs: number, retryInMs: number, cause: unknown) {
    super(
      "WORKER_CRASH_LOOP",
      `The pool's workers crashed ${crashes} times within ${windowMs} ms: the next replacement starts in ${retryInMs} ms`,
      { cause },
    );
    this.crashes = crashes;
    this.windowMs = windowMs;
    this.retryInMs = retryInMs;
  }
}

/** A pool's `initializer` failed on an agent (`pid`), which was closed without taking work; `cause` is why. */
export class InitializerError extends PyleashError {
  readonly pid: number;
  readonly target: string;
  constructor(target: string, pid: number, cause: unknown) {
    super("INITIALIZER_FAILED", `The pool's initializer ${target} failed on agent ${pid}: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.pid = pid;
    this.target = target;
  }
}

/**
 * A call or task was aborted through its AbortSignal or timed out; `cause` is the signal's reason (a TimeoutError
 * for `timeoutMs`). An aborted call also says what became of its Python work: `stopReport` (stopped, blocked…),
 * or `stopError` when the stop itself failed (the agent died meanwhile, for one).
 */
export class AbortError extends PyleashError {
  readonly stopReport: StopReport | undefined;
  readonly stopError: Error | undefined;
  constructor(message: string, cause: unknown, stop: { report?: StopReport; error?: Error } = {}) {
    super("ABORT_ERR", message, { cause });
    this.name = "AbortError";
    this.stopReport = stop.report;
    this.stopError = stop.error;
  }
}

/** An option or argument has a value pyleash cannot use; the message names it and the bad value. */
export class InvalidArgumentError extends PyleashError {
  constructor(message: string, code: ErrorCode = "INVALID_ARGUMENT") {
    super(code, message);
  }
}

/** A message over `maxMessageBytes`: refused before it is sent, so nothing ran and the agent never saw it. */
export class MessageTooLargeError extends InvalidArgumentError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(
      `The request encodes to ${size} bytes, over the limit of ${limit} bytes (the maxMessageBytes worker option)`,
      "MESSAGE_TOO_LARGE",
    );
    this.size = size;
    this.limit = limit;
  }
}

/**
 * A value in a call's or task's arguments that cannot cross to Python exactly (a Map, NaN, a function...):
 * refused before anything is sent. `path` names it (`args[0].b`), `valueType` says what it is.
 */
export class UnsupportedValueError extends InvalidArgumentError {
  readonly path: string;
  readonly valueType: string;
  constructor(path: string, valueType: string, why: string) {
    super(`Cannot send ${path} to Python: ${valueType} ${why} (docs/values.md)`, "UNSUPPORTED_VALUE");
    this.path = path;
    this.valueType = valueType;
  }
}

/** @internal */
export function errorFromPayload(payload: PythonErrorPayload): PyleashError {
  switch (payload.kind) {
    case "target":
      return new TargetNotFoundError(payload);
    case "forbidden":
      return new TargetNotAllowedError(payload);
    case "result":
      return new ResultNotSerializableError(payload);
    case "protocol":
      return new ProtocolError(`${payload.type}: ${payload.message}`);
    case "exception":
      return new PythonError(payload);
    default: {
      const unknown: never = payload.kind; // a kind added to the contract fails to compile here until it is mapped
      return new PythonError({ ...payload, kind: unknown });
    }
  }
}

/** The task was stopped before it returned; `how` names what ended it, `value` is a cooperative return. */
export class TaskStoppedError extends PyleashError {
  readonly task: string;
  readonly how: string | undefined;
  readonly value: unknown;
  constructor(task: string, how: string | undefined, value: unknown) {
    super("TASK_STOPPED", `Task ${task} was stopped${how ? ` (${how})` : ""}`);
    this.task = task;
    this.how = how;
    this.value = value;
  }
}
