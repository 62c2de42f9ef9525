/** Worker and call options, their defaults, and eager validation that names the bad value. */
import { InvalidArgumentError } from "../errors.js";
import { describe, isStringArray, knownKeys, nonNegativeInteger, oneOf, optionKeys, stripUndefined } from "../util/validate.js";
import { CONTRACT, LANES, type Lane, type TaskKind, type Transport } from "../protocol.js";
import { type StopOptions, resolveStopOptions, validateListener } from "../task/options.js";
import type { ProgressListener } from "../task/progress.js";

/** Where the controller binds: `ipc` (a socket in a private 0700 directory) or `tcp` (127.0.0.1). */
export type EndpointKind = "ipc" | "tcp";

export interface WorkerOptions {
  /** Interpreter: a path, a version ("3.12"), or a command name. @default env PYLEASH_PYTHON, else "python3" */
  python?: string;
  /** Working directory of the agent. @default process.cwd() */
  cwd?: string;
  /** Extra environment variables for the agent, over the controller's own. @default {} */
  env?: Record<string, string | undefined>;
  /** Directories put on the agent's PYTHONPATH after pyleash's own, so your modules import. @default [] */
  pythonPath?: string[];
  /** The agent's ZeroMQ client; `auto` is the built-in ZMTP client (faster and smaller than pyzmq here), `pyzmq` needs pyzmq importable. @default "auto" */
  transport?: Transport;
  /** `ipc` (a socket in a private 0700 directory) or `tcp` (127.0.0.1, random port). @default "ipc" */
  endpoint?: EndpointKind;
  /** How long the agent has to connect and say hello. @default 10000 */
  startTimeoutMs?: number;
  /** On close: how long the agent has to exit after being asked, and again after SIGTERM. @default 2000 */
  closeGraceMs?: number;
  /** Where the agent's stdout and stderr go: the controller's stderr, or nowhere. @default "forward" */
  output?: "forward" | "ignore";
  /**
   * The agent's `sys.setswitchinterval`, in ms: how long a busy Python thread may keep the GIL while the
   * control loop waits for it. Behind 8 CPU-bound threads a stop takes ~60 ms (p50) at Python's own 5 ms and
   * ~5 ms at 0.2 ms, which costs those threads ~8% of their throughput (none with a single busy thread);
   * see docs/performance.md. `null` keeps Python's. With more than 16 thread tasks running the agent raises it
   * to at least 25 µs per running task (at most 5 ms), so the threads waiting for the GIL do not wake so often
   * that they starve the machine (docs/stop-strategies.md, "With many busy threads"). @default 0.2
   */
  switchIntervalMs?: number | null;
  /**
   * The largest message either side sends, its binary frames (Buffers, bytes) included: a request over it
   * rejects at once with a MessageTooLargeError, and a result over it comes back as a ResultNotSerializableError;
   * the agent never reads a larger message into memory. @default 268435456 (256 MiB)
   */
  maxMessageBytes?: number;
  /**
   * Restrict what the agent runs to these modules and their submodules (`["numpy", "myapp.jobs"]`); any other
   * target is refused in the agent with a TargetNotAllowedError. Without it, a caller may run any importable
   * `module:function`, `os:system` and `builtins:eval` included. @default no restriction
   */
  allowedModules?: string[];
}

/** Options of requests that only wait for an answer (`worker.threads()`, `worker.ping()`): nothing to stop in Python. */
export interface WaitOptions {
  /** Aborting stops waiting for the answer. */
  signal?: AbortSignal;
  /** Reject with an AbortError (cause: a TimeoutError) after this long. @default no timeout */
  timeoutMs?: number;
}

export interface CallOptions {
  /**
   * Aborting stops the call's Python work (as `stop` says) and rejects with an AbortError whose `cause` is the
   * signal's reason and whose `stopReport` says how the Python side ended.
   */
  signal?: AbortSignal;
  /** After this long, the call is stopped as on abort; the AbortError's `cause` is a TimeoutError. @default no timeout */
  timeoutMs?: number;
  /** How an aborted or timed-out call is stopped: the options of `task.stop()`. @default { strategy: "auto" } */
  stop?: StopOptions;
  /**
   * Where the call runs: `thread`, a thread of the agent's call pool (many calls at once); or `main`, the agent's
   * main thread, one call at a time (queued), where a stop's signal interrupts `time.sleep`, lock waits,
   * `queue.get`, `subprocess.wait` and socket reads. @default "thread"
   */
  lane?: Lane;
  /**
   * Called with each `pyleash.progress()` update the call sends (rate-limited in the agent). A call with it is
   * recorded in the agent like a call with a signal, so that its updates can be routed to it.
   */
  onProgress?: ProgressListener;
}

export interface StreamOptions {
  /** Aborting stops the generator (as `stop` says) and the iteration rejects with an AbortError carrying the StopReport. */
  signal?: AbortSignal;
  /** After this long, the stream is stopped as on abort; the AbortError's `cause` is a TimeoutError. @default no timeout */
  timeoutMs?: number;
  /**
   * How the generator is stopped when the loop is left early or aborted: the options of `task.stop()`; its `flag`
   * step closes the generator between items (GeneratorExit), `async-exc` reaches one stuck between items.
   * @default { strategy: "auto" }
   */
  stop?: StopOptions;
  /** How many items the generator may run ahead of the consumer (credit-based backpressure). @default 64 */
  highWaterMark?: number;
  /** Called with each `pyleash.progress()` update the generator sends. */
  onProgress?: ProgressListener;
}

const MODULE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** @internal */
export const WORKER_DEFAULTS = {
  transport: "auto",
  endpoint: "ipc",
  startTimeoutMs: 10_000,
  closeGraceMs: 2_000,
  output: "forward",
  switchIntervalMs: 0.2,
  maxMessageBytes: CONTRACT.limits.maxMessageBytes,
} as const satisfies Partial<WorkerOptions>;

/** @internal */
export type ResolvedWorkerOptions = WorkerOptions &
  Required<Pick<WorkerOptions, Exclude<keyof typeof WORKER_DEFAULTS, "switchIntervalMs">>> & { switchIntervalMs: number | null };

/** @internal */
export const WORKER_KEYS = optionKeys<WorkerOptions>({
  python: true,
  cwd: true,
  env: true,
  pythonPath: true,
  transport: true,
  endpoint: true,
  startTimeoutMs: true,
  closeGraceMs: true,
  output: true,
  switchIntervalMs: true,
  maxMessageBytes: true,
  allowedModules: true,
});
const WAIT_KEYS = optionKeys<WaitOptions>({ signal: true, timeoutMs: true });
const CALL_KEYS = optionKeys<CallOptions>({ signal: true, timeoutMs: true, stop: true, lane: true, onProgress: true });
const STREAM_KEYS = optionKeys<StreamOptions>({ signal: true, timeoutMs: true, stop: true, highWaterMark: true, onProgress: true });

/** @internal */
export function resolveWorkerOptions(
  options: WorkerOptions = {},
  keys: ReadonlySet<string> | undefined = WORKER_KEYS,
): ResolvedWorkerOptions {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`Expected worker options to be an object, got ${describe(options)}`);
  if (keys) knownKeys("worker option", options, keys);
  const resolved = { ...WORKER_DEFAULTS, ...stripUndefined(options) };
  oneOf("transport", resolved.transport, ["auto", "pyzmq", "builtin"]);
  oneOf("endpoint", resolved.endpoint, ["ipc", "tcp"]);
  oneOf("output", resolved.output, ["forward", "ignore"]);
  nonNegativeInteger("startTimeoutMs", resolved.startTimeoutMs);
  nonNegativeInteger("closeGraceMs", resolved.closeGraceMs);
  if (!Number.isSafeInteger(resolved.maxMessageBytes) || resolved.maxMessageBytes < 1024) {
    throw new InvalidArgumentError(
      `Expected "maxMessageBytes" to be an integer of at least 1024, got ${describe(resolved.maxMessageBytes)}`,
    );
  }
  const interval = resolved.switchIntervalMs;
  if (interval !== null && (typeof interval !== "number" || !(interval > 0) || interval > 1000)) {
    throw new InvalidArgumentError(`Expected "switchIntervalMs" to be a number of ms in (0, 1000] or null, got ${describe(interval)}`);
  }
  if (resolved.python !== undefined && (typeof resolved.python !== "string" || !resolved.python)) {
    throw new InvalidArgumentError(`Expected "python" to be a non-empty string, got ${describe(resolved.python)}`);
  }
  if (
    resolved.allowedModules !== undefined &&
    !(isStringArray(resolved.allowedModules) && resolved.allowedModules.every((m) => MODULE.test(m)))
  ) {
    throw new InvalidArgumentError(
      `Expected "allowedModules" to be an array of module names like "pkg.mod", got ${describe(resolved.allowedModules)}`,
    );
  }
  if (resolved.pythonPath !== undefined && !isStringArray(resolved.pythonPath)) {
    throw new InvalidArgumentError(`Expected "pythonPath" to be an array of strings, got ${describe(resolved.pythonPath)}`);
  }
  return resolved;
}

/** @internal */
export function validateWaitOptions(options: WaitOptions, keys = WAIT_KEYS, what = "option"): void {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`Expected options to be an object, got ${describe(options)}`);
  knownKeys(what, options, keys);
  if (options.timeoutMs !== undefined) nonNegativeInteger("timeoutMs", options.timeoutMs);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`Expected "signal" to be an AbortSignal, got ${describe(options.signal)}`);
  }
}

/** @internal A call made without options: nothing to check, nothing to stop (the fast path; a pool passes it on). */
export const NO_CALL_OPTIONS: CallOptions = Object.freeze({});

/** @internal A call's options checked, the stop's included, against the lane's kind. */
export interface ResolvedCall {
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  lane: Lane;
  /** The kind whose strategies and ladder stop a call on this lane. */
  kind: TaskKind;
  stop: Required<StopOptions>;
  onProgress: ProgressListener | undefined;
}

/** @internal */
export function resolveCallOptions(options: CallOptions): ResolvedCall {
  validateWaitOptions(options, CALL_KEYS, "call option");
  const lane = options.lane ?? (CONTRACT.requests.call.fields.lane.default as Lane);
  oneOf("lane", lane, LANES);
  const kind = CONTRACT.lanes[lane].kind as TaskKind;
  if (options.stop !== undefined && (options.stop === null || typeof options.stop !== "object")) {
    throw new InvalidArgumentError(`Expected "stop" to be an object of stop options, got ${describe(options.stop)}`);
  }
  const stop = resolveStopOptions(options.stop ?? {}, kind, `the "${lane}" lane`);
  validateListener("onProgress", options.onProgress);
  return { signal: options.signal, timeoutMs: options.timeoutMs, lane, kind, stop, onProgress: options.onProgress };
}

/** @internal */
export const STREAM_HIGH_WATER_MARK: number = CONTRACT.limits.streamHighWaterMark;

/** @internal A stream's options checked; it runs on the call pool, so its stop is a `thread` task's. */
export interface ResolvedStream {
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  kind: TaskKind;
  stop: Required<StopOptions>;
  highWaterMark: number;
  onProgress: ProgressListener | undefined;
}

/** @internal */
export function resolveStreamOptions(options: StreamOptions): ResolvedStream {
  validateWaitOptions(options, STREAM_KEYS, "stream option");
  const highWaterMark = options.highWaterMark ?? STREAM_HIGH_WATER_MARK;
  if (typeof highWaterMark !== "number" || !Number.isSafeInteger(highWaterMark) || highWaterMark < 1) {
    throw new InvalidArgumentError(`Expected "highWaterMark" to be a positive integer, got ${describe(highWaterMark)}`);
  }
  if (options.stop !== undefined && (options.stop === null || typeof options.stop !== "object")) {
    throw new InvalidArgumentError(`Expected "stop" to be an object of stop options, got ${describe(options.stop)}`);
  }
  const kind = CONTRACT.lanes.thread.kind as TaskKind;
  const stop = resolveStopOptions(options.stop ?? {}, kind, "a stream");
  validateListener("onProgress", options.onProgress);
  return { signal: options.signal, timeoutMs: options.timeoutMs, kind, stop, highWaterMark, onProgress: options.onProgress };
}
