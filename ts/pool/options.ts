/** Pool options, their defaults, and eager validation that names the bad value. */
import { availableParallelism } from "node:os";
import { InvalidArgumentError } from "../errors.js";
import { describe, knownKeys, optionKeys, stripUndefined } from "../util/validate.js";
import { type ResolvedWorkerOptions, WORKER_KEYS, type WorkerOptions, resolveWorkerOptions } from "../worker/options.js";
import { checkTarget } from "../worker/worker.js";
import type { RayLauncher } from "./ray.js";

export interface PoolOptions extends WorkerOptions {
  /** How many agents the pool keeps running. @default os.availableParallelism() */
  size?: number;
  /**
   * How many calls one agent has in flight at most; past it on every agent, calls wait in the pool's queue. Many
   * calls in flight let a burst travel in a few messages (a message costs far more than a call in it); they
   * overlap in the agent only where they wait (I/O, sleep) or release the GIL. @default 128
   */
  concurrentCallsPerWorker?: number;
  /** Recycle an agent after it was given this many calls and tasks (for code that leaks), like Celery's max_tasks_per_child. @default no limit */
  maxCallsPerWorker?: number;
  /**
   * A stop that ends `blocked` (the work still runs: C code, a swallowing loop) retires its agent: it gets no new
   * work, a replacement starts at once, and it is closed when its other calls and tasks have settled. @default true
   */
  recycleBlocked?: boolean;
  /** The most calls that may wait for an agent; past it `pool.call` rejects at once with a QueueFullError. @default Infinity */
  maxQueue?: number;
  /** This many crashes within `crashWindowMs` put the pool in back-off: replacements wait, 1 s doubling to 30 s. @default 5 */
  maxCrashes?: number;
  /** The window over which crashes are counted. @default 10000 */
  crashWindowMs?: number;
  /**
   * A call run on every agent before it takes work, replacements included (load a model, open a connection):
   * one that fails is an InitializerError (Pool.start rejects with it; for a replacement, the "error" event).
   * @default none
   */
  initializer?: PoolInitializer;
  /** Where the agents run: spawned here (the default), or in Ray actors (`{ kind: "ray", workers, … }`, docs/ray.md). @default local */
  launcher?: RayLauncher;
}

/** What `initializer` runs: `target(*args, **kwargs)` on each agent, once. */
export interface PoolInitializer {
  target: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

/** @internal */
export const POOL_DEFAULTS = {
  concurrentCallsPerWorker: 128,
  maxCallsPerWorker: Infinity,
  recycleBlocked: true,
  maxQueue: Infinity,
  maxCrashes: 5,
  crashWindowMs: 10_000,
} as const;

/** @internal */
export interface ResolvedPoolOptions {
  size: number;
  concurrentCallsPerWorker: number;
  maxCallsPerWorker: number;
  recycleBlocked: boolean;
  maxQueue: number;
  maxCrashes: number;
  crashWindowMs: number;
  initializer: Required<PoolInitializer> | undefined;
  worker: ResolvedWorkerOptions;
}

const POOL_KEYS = new Set([
  ...WORKER_KEYS,
  ...optionKeys<Omit<PoolOptions, keyof WorkerOptions>>({
    size: true,
    concurrentCallsPerWorker: true,
    maxCallsPerWorker: true,
    recycleBlocked: true,
    maxQueue: true,
    maxCrashes: true,
    crashWindowMs: true,
    initializer: true,
    launcher: true,
  }),
]);

/** @internal */
export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`Expected pool options to be an object, got ${describe(options)}`);
  knownKeys("pool option", options, POOL_KEYS);
  const {
    size,
    concurrentCallsPerWorker,
    maxCallsPerWorker,
    recycleBlocked,
    maxQueue,
    maxCrashes,
    crashWindowMs,
    initializer,
    launcher: _launcher,
    ...worker
  } = options;
  const given = stripUndefined({ concurrentCallsPerWorker, maxCallsPerWorker, recycleBlocked, maxQueue, maxCrashes, crashWindowMs });
  const resolved = { ...POOL_DEFAULTS, ...given, size: size ?? availableParallelism() } as Omit<ResolvedPoolOptions, "worker">;
  positiveInteger("size", resolved.size);
  positiveInteger("concurrentCallsPerWorker", resolved.concurrentCallsPerWorker);
  positiveInteger("maxCallsPerWorker", resolved.maxCallsPerWorker, true);
  positiveInteger("maxCrashes", resolved.maxCrashes);
  positiveInteger("crashWindowMs", resolved.crashWindowMs);
  if (resolved.maxQueue !== Infinity && !(Number.isInteger(resolved.maxQueue) && resolved.maxQueue >= 0)) {
    throw new InvalidArgumentError(`Expected "maxQueue" to be a non-negative integer or Infinity, got ${describe(resolved.maxQueue)}`);
  }
  if (typeof resolved.recycleBlocked !== "boolean") {
    throw new InvalidArgumentError(`Expected "recycleBlocked" to be a boolean, got ${describe(resolved.recycleBlocked)}`);
  }
  return { ...resolved, initializer: resolveInitializer(initializer), worker: resolveWorkerOptions(worker, undefined) };
}

const INITIALIZER_KEYS = optionKeys<PoolInitializer>({ target: true, args: true, kwargs: true });

function resolveInitializer(initializer: PoolInitializer | undefined): Required<PoolInitializer> | undefined {
  if (initializer === undefined) return undefined;
  if (initializer === null || typeof initializer !== "object") {
    throw new InvalidArgumentError(`Expected "initializer" to be an object { target, args?, kwargs? }, got ${describe(initializer)}`);
  }
  knownKeys("initializer option", initializer, INITIALIZER_KEYS);
  checkTarget(initializer.target);
  const { target, args = [], kwargs = {} } = initializer;
  if (!Array.isArray(args)) throw new InvalidArgumentError(`Expected "initializer.args" to be an array, got ${describe(args)}`);
  if (kwargs === null || typeof kwargs !== "object" || Array.isArray(kwargs)) {
    throw new InvalidArgumentError(`Expected "initializer.kwargs" to be a plain object, got ${describe(kwargs)}`);
  }
  return { target, args, kwargs };
}

function positiveInteger(name: string, value: unknown, infinite = false): void {
  if (infinite && value === Infinity) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    const or = infinite ? " or Infinity" : "";
    throw new InvalidArgumentError(`Expected "${name}" to be a positive integer${or}, got ${describe(value)}`);
  }
}
