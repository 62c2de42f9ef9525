/** Options of `worker.start()` and `task.stop()`, their defaults, and eager validation. */
import { InvalidArgumentError } from "../errors.js";
import { CONTRACT, KINDS, STRATEGIES, type Strategy, type TaskKind } from "../protocol.js";
import { describe, knownKeys, nonNegativeInteger, oneOf, optionKeys, stripUndefined } from "../util/validate.js";
import type { ProgressListener } from "./progress.js";

export type { Strategy, TaskKind };

export interface StartOptions {
  /** Positional arguments, JSON. @default [] */
  args?: unknown[];
  /** Keyword arguments, JSON. @default {} */
  kwargs?: Record<string, unknown>;
  /**
   * Where the work runs: a new `thread`; the agent's `main` thread (one at a time, where signals land);
   * a child `process`; or an `asyncio` task on the agent's event-loop thread. @default "thread"
   */
  kind?: TaskKind;
  /** A name shown in thread lists and reports. @default the target */
  name?: string;
  /** Aborting stops the task with the `auto` ladder and rejects `result` with an AbortError. */
  signal?: AbortSignal;
  /** Install the `sys.settrace` kill when the task starts (needed by the `trace` strategy; slows the task). @default false */
  trace?: boolean;
  /** Called with each `pyleash.progress()` update the task sends (rate-limited in the agent); `task.progress` iterates them too. */
  onProgress?: ProgressListener;
}

export interface StopOptions {
  /** How to stop; `auto` escalates from the gentle step to the forceful one. @default "auto" */
  strategy?: Strategy;
  /** How long each step of `auto` waits before the next one. @default 250 */
  graceMs?: number;
  /** When a still-running task is reported `blocked`. @default 3000 */
  deadlineMs?: number;
  /** Recycle the worker when the task is blocked (every other call and task then rejects). @default false */
  restartWorkerIfBlocked?: boolean;
}

/** @internal */
export const STOP_DEFAULTS = CONTRACT.stopDefaults;

/** @internal */
export type ResolvedStart = Required<Omit<StartOptions, "signal" | "name" | "onProgress">> &
  Pick<StartOptions, "signal" | "name" | "onProgress">;

const START_KEYS = optionKeys<StartOptions>({
  args: true,
  kwargs: true,
  kind: true,
  name: true,
  signal: true,
  trace: true,
  onProgress: true,
});
const STOP_KEYS = optionKeys<StopOptions>({ strategy: true, graceMs: true, deadlineMs: true, restartWorkerIfBlocked: true });

/** @internal */
export function resolveStartOptions(options: StartOptions): ResolvedStart {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`Expected start options to be an object, got ${describe(options)}`);
  knownKeys("start option", options, START_KEYS);
  const resolved = {
    args: [],
    kwargs: {},
    kind: CONTRACT.requests.start.fields.kind.default as TaskKind,
    trace: false,
    ...stripUndefined(options),
  };
  oneOf("kind", resolved.kind, KINDS);
  if (typeof resolved.trace !== "boolean")
    throw new InvalidArgumentError(`Expected "trace" to be a boolean, got ${describe(resolved.trace)}`);
  if (resolved.name !== undefined && typeof resolved.name !== "string") {
    throw new InvalidArgumentError(`Expected "name" to be a string, got ${describe(resolved.name)}`);
  }
  if (resolved.signal !== undefined && !(resolved.signal instanceof AbortSignal)) {
    throw new InvalidArgumentError(`Expected "signal" to be an AbortSignal, got ${describe(resolved.signal)}`);
  }
  validateListener("onProgress", resolved.onProgress);
  return resolved;
}

/** @internal */
export function validateListener(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") {
    throw new InvalidArgumentError(`Expected "${name}" to be a function, got ${describe(value)}`);
  }
}

/** Checks the options, and that the strategy fits the task's kind (the contract lists each kind's). */
/** @internal */
export function resolveStopOptions(options: StopOptions, kind: TaskKind, subject = `a "${kind}" task`): Required<StopOptions> {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`Expected stop options to be an object, got ${describe(options)}`);
  knownKeys("stop option", options, STOP_KEYS);
  const resolved: Required<StopOptions> = { ...STOP_DEFAULTS, ...stripUndefined(options) };
  oneOf("strategy", resolved.strategy, STRATEGIES);
  const fits: readonly string[] = CONTRACT.kinds[kind].strategies;
  if (resolved.strategy !== "auto" && !fits.includes(resolved.strategy)) {
    const kinds = KINDS.filter((k) => (CONTRACT.kinds[k].strategies as readonly string[]).includes(resolved.strategy));
    throw new InvalidArgumentError(
      `Strategy "${resolved.strategy}" does not fit ${subject}: it stops ${kinds.map((k) => `"${k}"`).join(" or ")} tasks; ` +
        `${subject} takes ${["auto", ...fits].map((s) => `"${s}"`).join(", ")}`,
    );
  }
  nonNegativeInteger("graceMs", resolved.graceMs);
  nonNegativeInteger("deadlineMs", resolved.deadlineMs);
  if (typeof resolved.restartWorkerIfBlocked !== "boolean") {
    throw new InvalidArgumentError(`Expected "restartWorkerIfBlocked" to be a boolean, got ${describe(resolved.restartWorkerIfBlocked)}`);
  }
  return resolved;
}
