/** Worker: the public face of one Python agent; survives a restart by opening a new connection. */
import { InvalidArgumentError, type PyleashError, WorkerClosedError, WorkerRestartedError } from "../errors.js";
import { type AgentEvent, CONTRACT, type RequestBody } from "../protocol.js";
import type { TaskHost } from "../task/host.js";
import { Task } from "../task/task.js";
import { type StartOptions, resolveStartOptions } from "../task/options.js";
import type { AbandonedWork, StopReport, ThreadInfo } from "../task/report.js";
import { abortedBeforeStart } from "../util/abort.js";
import { Connection } from "./connection.js";
import { busiestThreadShare, suspended } from "./thread-cpu.js";
import { toWire } from "./values.js";
import { stoppableCall } from "./call.js";
import { Stream } from "./stream.js";
import {
  type ChunkRunner,
  MAP_HIGH_WATER_MARK,
  MAP_TARGET,
  type MapOptions,
  type MapResult,
  mapItems,
  resolveMapOptions,
  runMap,
} from "./map.js";
import {
  type CallOptions,
  type ResolvedCall,
  type ResolvedWorkerOptions,
  type StreamOptions,
  type WaitOptions,
  type WorkerOptions,
  NO_CALL_OPTIONS,
  resolveCallOptions,
  resolveStreamOptions,
  resolveWorkerOptions,
  validateWaitOptions,
} from "./options.js";

const TARGET = new RegExp(CONTRACT.limits.targetPattern);

/** One agent and what runs on it: the tasks of a connection die with it, and a restart opens a new one. */
interface Live {
  connection: Connection;
  host: TaskHost;
  tasks: Map<string, Task>;
  /** Where the events of recorded calls and streams go, by id (tasks have `tasks`). */
  routes: Map<string, (event: AgentEvent) => void>;
}

export class Worker implements AsyncDisposable {
  readonly #options: ResolvedWorkerOptions;
  #live: Live;
  #restarting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #nextTask = 0;
  #nextCall = 0;
  readonly #watchers = new Set<WorkerWatcher>();
  #nextStream = 0;

  private constructor(options: ResolvedWorkerOptions, connection: Connection) {
    this.#options = options;
    this.#live = this.#adopt(connection);
  }

  get #connection(): Connection {
    return this.#live.connection;
  }

  /** Spawn an agent and wait until it has connected and proved it is ours. */
  static async start(options: WorkerOptions = {}): Promise<Worker> {
    const resolved = resolveWorkerOptions(options);
    return new Worker(resolved, await Connection.open(resolved));
  }

  /** @internal A remote agent that joined a listening pool (Pool.listen); a restart cannot make a new one. */
  static adopt(connection: Connection, options: ResolvedWorkerOptions): Worker {
    return new Worker(options, connection);
  }

  /** The host the agent runs on (this one for a spawned agent). */
  get host(): string {
    return this.#connection.host;
  }

  /** Joined over the network (Pool.listen) rather than spawned here. */
  get remote(): boolean {
    return this.#connection.remote;
  }

  /** @internal Whether restart() brings a fresh agent: a remote one needs a live supervisor (`serve` without --no-supervise). */
  get recyclable(): boolean {
    return this.#connection.recyclable;
  }

  /** The agent's process id (a new one after a restart). */
  get pid(): number {
    return this.#connection.pid;
  }

  /** The agent's Python version, e.g. "3.11.7". */
  get python(): string {
    return this.#connection.python;
  }

  /** The interpreter that runs the agent. */
  get executable(): string {
    return this.#connection.executable;
  }

  /** The controller's ROUTER endpoint the agent connected to (ipc://… or tcp://127.0.0.1:…). */
  get endpoint(): string {
    return this.#connection.endpoint;
  }

  /** The ZeroMQ client the agent chose: "pyzmq" or "builtin". */
  get transport(): "pyzmq" | "builtin" {
    return this.#connection.transport;
  }

  /**
   * Call `"package.module:function"`; resolves to its return value. Arguments and result cross exactly or are
   * refused with an error naming where the offending value sits (docs/values.md).
   */
  call<T = unknown>(
    target: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: CallOptions = NO_CALL_OPTIONS,
  ): Promise<T> {
    let wire: WireArgs;
    let resolved: ResolvedCall | undefined;
    try {
      wire = wireArgs(target, args, kwargs);
      if (options !== NO_CALL_OPTIONS) resolved = resolveCallOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (resolved === undefined)
      return this.#connection.request({ type: "call", target, args: wire.args, kwargs: wire.kwargs }) as Promise<T>; // the common call
    const { signal, timeoutMs, lane, onProgress } = resolved;
    if (signal?.aborted) return Promise.reject(abortedBeforeStart("call", signal));
    if (signal === undefined && timeoutMs === undefined && onProgress === undefined) {
      // Nothing can stop it: the agent records nothing (the fastest path).
      return this.#connection.request({ type: "call", target, ...wire, ...(lane === "thread" ? {} : { lane }) }) as Promise<T>;
    }
    return stoppableCall<T>(this.#live.host, `c${++this.#nextCall}`, { target, ...wire, lane }, resolved);
  }

  /**
   * Iterate what `"package.module:function"` returns (a generator, an async generator, or any iterable) with
   * `for await`. The generator runs at most `highWaterMark` items ahead of the loop; leaving the loop early
   * (`break`, `return`, an exception), an abort or a timeout stops it in Python (GeneratorExit first, then the
   * stop ladder); its exception rejects the iteration with a PythonError. Throws an InvalidArgumentError for a bad
   * option, and an AbortError when the signal has already aborted (nothing is sent then).
   */
  stream<T = unknown>(target: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: StreamOptions = {}): Stream<T> {
    const wire = wireArgs(target, args, kwargs);
    const resolved = resolveStreamOptions(options);
    if (resolved.signal?.aborted) throw abortedBeforeStart("stream", resolved.signal);
    return new Stream<T>(this.#live.host, `s${++this.#nextStream}`, { target, ...wire }, resolved);
  }

  /**
   * Call `"package.module:function"` on each item, as `target(item)`, in chunks of `chunkSize` items per request;
   * iterate the results with `for await`: `{ index, ok: true, value }`, or `{ index, ok: false, error }` for an
   * item that raised (a PythonError; the map goes on unless `stopOnError`). Leaving the loop, an abort or a timeout
   * stops the chunks running with the stop ladder and drops the rest. Throws an InvalidArgumentError for a bad
   * option, target or items, and an AbortError when the signal has already aborted (nothing is sent then).
   */
  map<T = unknown>(target: string, items: Iterable<unknown>, options: MapOptions = {}): AsyncGenerator<MapResult<T>, void, undefined> {
    checkTarget(target);
    const resolved = resolveMapOptions(options);
    const list = mapItems(items);
    if (resolved.signal?.aborted) throw abortedBeforeStart("map", resolved.signal);
    return runMap<T>(this.chunkRunner(target, resolved.stop, 2), list, resolved);
  }

  /** @internal Where map's chunks run on this agent: `lanes` streams at once (one computes while one's results cross). */
  chunkRunner(target: string, stop: MapOptions["stop"], lanes: number): ChunkRunner {
    return { lanes, open: async (chunk) => ({ stream: this.mapChunk(target, chunk, stop) }) };
  }

  /** @internal One chunk of a map, as a stream of result slices. */
  mapChunk(target: string, chunk: unknown[], stop: MapOptions["stop"]): Stream<never> {
    return this.stream(MAP_TARGET, [target, chunk], {}, { highWaterMark: MAP_HIGH_WATER_MARK, ...(stop ? { stop } : {}) });
  }

  /**
   * Start `"package.module:function"` as a task (a thread by default) and return at once;
   * `task.result` settles when it ends, `task.stop()` stops it.
   */
  start<T = unknown>(target: string, options: StartOptions = {}): Promise<Task<T>> {
    let resolved: ReturnType<typeof resolveStartOptions>;
    try {
      resolved = resolveStartOptions(options);
      resolved = { ...resolved, ...wireArgs(target, resolved.args, resolved.kwargs) };
    } catch (error) {
      return Promise.reject(error);
    }
    const id = `t${++this.#nextTask}`;
    const { host, tasks } = this.#live;
    const task = Task.create<T>(id, target, resolved, host);
    tasks.set(id, task as Task);
    const forget = (): boolean => tasks.delete(id);
    void task.result.then(forget, forget);
    return task.begin();
  }

  /** Every Python thread of the agent, with the task or call it runs, and its top frames. */
  threads(options: WaitOptions = {}): Promise<ThreadInfo[]> {
    try {
      validateWaitOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#connection.request({ type: "threads" }, options) as Promise<ThreadInfo[]>;
  }

  /**
   * Two liveness signals kept apart: `alive` — the agent process exists; `responsive` — its interpreter
   * answered a ping within `timeoutMs` (false while C code holds the GIL, or when it is gone). `abandoned` lists
   * the calls and tasks a stop gave up on that still run (null when the agent did not answer).
   */
  async health(timeoutMs = 1_000): Promise<Health> {
    const connection = this.#connection;
    const answer = await this.ping({ timeoutMs }).catch(() => undefined);
    return { pid: connection.pid, alive: connection.alive, responsive: answer !== undefined, abandoned: answer?.abandoned ?? null };
  }

  /** Ask the agent to answer; proves its control loop is responsive. */
  ping(options: WaitOptions = {}): Promise<Ping> {
    try {
      validateWaitOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#connection.request({ type: "ping" }, options) as Promise<Ping>;
  }

  /** @internal A raw protocol request (docs/protocol.md), for tests that speak the protocol. */
  request(body: RequestBody | ({ type: string } & Record<string, unknown>), options: WaitOptions = {}): Promise<unknown> {
    return this.#connection.request(body as RequestBody, options);
  }

  /**
   * Replace the agent with a fresh one: the old process group is killed (SIGTERM, then SIGKILL) and
   * everything it had in flight is rejected with a WorkerRestartedError. A remote agent's supervisor kills it and
   * starts a fresh one, which joins its pool as a new member (this Worker then stays closed); without a live
   * supervisor the remote agent is only dropped, and this rejects.
   */
  restart(reason = "restart requested"): Promise<void> {
    if (this.#closing) return Promise.reject(new WorkerClosedError());
    this.#restarting ??= (async () => {
      const old = this.#live;
      const error = new WorkerRestartedError(reason);
      const recycled = old.connection.recyclable;
      abandonAll(old, error);
      await old.connection.abandon(error);
      if (old.connection.remote) {
        if (recycled) return; // its supervisor started a fresh agent, which joins the pool by itself
        throw error; // nothing here can start it again: the pool drops it
      }
      this.#live = this.#adopt(await Connection.open(this.#options));
    })().finally(() => (this.#restarting = undefined));
    return this.#restarting;
  }

  /** True once closed (or the agent died); calls then reject at once. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#connection.closed;
  }

  /** Ask the agent to exit; SIGTERM its process group after `closeGraceMs`, then SIGKILL. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#restarting?.catch(() => {});
      await this.#connection.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal Hear of each agent's end (crash, close, restart) and of stops that gave up; returns the unsubscribe. */
  watch(watcher: WorkerWatcher): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /** Route a fresh connection's task events to its tasks, and give them a host bound to it. */
  #adopt(connection: Connection): Live {
    const live: Live = {
      connection,
      tasks: new Map(),
      routes: new Map(),
      host: {
        request: (body, options) => connection.request(body, options),
        dumpThreads: () => connection.dumpThreads(),
        ping: (timeoutMs) => connection.responsive(timeoutMs),
        // A remote agent's pid names a process on another host: its CPU and state cannot be read from here.
        busiestThreadShare: (windowMs) => (connection.remote ? Promise.resolve(undefined) : busiestThreadShare(connection.pid, windowMs)),
        suspended: () => !connection.remote && suspended(connection.pid),
        unreachable: () => connection.lost?.message,
        python: connection.python,
        strategies: connection.strategies,
        listen: (id, listener) => {
          live.routes.set(id, listener);
          return () => live.routes.delete(id);
        },
        // A task of an agent already replaced has nothing left to restart; nor has a remote one without a supervisor.
        restartBlocked: async (reason) => {
          if (this.#live !== live || !connection.recyclable) return false;
          await this.restart(reason);
          return true;
        },
        gaveUp: (report) => {
          for (const watcher of this.#watchers) watcher.gaveUp?.(report);
        },
      },
    };
    connection.onEvent((event) => {
      const task = live.tasks.get(event.task);
      if (task) task.handle(event);
      else live.routes.get(event.task)?.(event);
    });
    connection.onExit((error) => {
      abandonAll(live, error);
      for (const watcher of this.#watchers) watcher.lost?.(error);
    });
    return live;
  }
}

/** @internal What a pool hears from its workers. */
export interface WorkerWatcher {
  /** An agent's connection ended with `error` (WorkerCrashedError on a crash; the Worker may live on after a restart). */
  lost?(error: PyleashError): void;
  /** A stop ended `blocked`: its work still runs in the agent. */
  gaveUp?(report: StopReport): void;
}

/** What `worker.ping()` answers. */
export interface Ping {
  pid: number;
  /** Python threads alive in the agent. */
  threads: number;
  /** Calls and tasks a stop gave up on (outcome `blocked`) that still run. */
  abandoned: AbandonedWork[];
}

/** What `worker.health()` answers. */
export interface Health {
  pid: number;
  /** The agent process exists. */
  alive: boolean;
  /** Its control loop answered a ping in time. */
  responsive: boolean;
  /** Calls and tasks a stop gave up on that still run; null when the agent did not answer. */
  abandoned: AbandonedWork[] | null;
}

function abandonAll(live: Live, error: PyleashError): void {
  for (const task of live.tasks.values()) task.abandon(error);
}

interface WireArgs {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Check the target and the arguments' shapes; the arguments as they go on the wire. */
function wireArgs(target: unknown, args: unknown, kwargs: unknown): WireArgs {
  checkTarget(target);
  if (!Array.isArray(args)) throw new InvalidArgumentError(`Expected "args" to be an array, got ${typeof args}`);
  if (kwargs === null || typeof kwargs !== "object" || Array.isArray(kwargs)) {
    throw new InvalidArgumentError(`Expected "kwargs" to be a plain object, got ${JSON.stringify(kwargs)}`);
  }
  return { args: toWire(args, "args") as unknown[], kwargs: toWire(kwargs, "kwargs") as Record<string, unknown> };
}

/** @internal Throws an InvalidArgumentError unless `target` reads "package.module:function". */
export function checkTarget(target: unknown): void {
  if (typeof target !== "string" || !TARGET.test(target)) {
    throw new InvalidArgumentError(`Expected a target like "package.module:function", got ${JSON.stringify(target)}`);
  }
}
