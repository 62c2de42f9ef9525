/**
 * Pool: many agents behind one face. Work goes to the ready agent with the least in flight; an agent that
 * crashes is replaced (with a back-off when crashes repeat), one whose stop gave up is retired.
 */
import { EventEmitter } from "node:events";
import {
  InitializerError,
  InvalidArgumentError,
  type PyleashError,
  QueueFullError,
  WorkerClosedError,
  WorkerCrashLoopError,
  WorkerCrashedError,
  WorkerLostError,
  WorkerStartError,
} from "../errors.js";
import { type StartOptions, resolveStartOptions } from "../task/options.js";
import type { Task } from "../task/task.js";
import { type CallOptions, NO_CALL_OPTIONS, resolveCallOptions } from "../worker/options.js";
import { Worker, checkTarget } from "../worker/worker.js";
import { type ChunkRunner, type MapOptions, type MapResult, mapItems, resolveMapOptions, runMap } from "../worker/map.js";
import type { Stream } from "../worker/stream.js";
import { type PoolOptions, type ResolvedPoolOptions, resolvePoolOptions } from "./options.js";
import { type ListenOptions, Listener, resolveListen } from "./listener.js";
import { type Work, abortedBeforeStart } from "../util/abort.js";
import { type DriverEvent, RayDriver, agentEndpoint, resolveRayLauncher } from "./ray.js";
import { curveKeyPair } from "zeromq";
import { defaultPythonSpec, locatePython } from "../python/discover.js";
import { type Waiting, WaitingLine } from "./queue.js";
import { type PoolWorkerInfo, Slot } from "./slot.js";

/** How long an agent whose Ray actor is reported unavailable has to answer a ping before it counts as dead. */
const RAY_PROBE_MS = 2_000;

/** The first back-off, doubled while crashes go on, up to the last. */
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** What the pool's "crash" event carries. */
export interface PoolCrash {
  /** The agent that died. */
  pid: number;
  /** How: its exit code or signal, and its last stderr lines; its in-flight calls rejected with this error. */
  error: WorkerCrashedError;
}

/** What the pool's "lost" event carries. */
export interface PoolLost {
  worker: PoolWorkerInfo;
  /** What its in-flight calls and tasks rejected with. */
  error: WorkerLostError;
}

export interface PoolEvents {
  /** A remote agent joined (Pool.listen) and takes work. */
  join: [PoolWorkerInfo];
  /** A remote agent went silent past lostAfterMs; its work rejected with `error`; the pool no longer uses it. */
  lost: [PoolLost];
  /** An agent died on its own; its calls rejected with `error`, and a replacement is on its way (a remote one's comes from its supervisor, as a "join"). */
  crash: [PoolCrash];
  /**
   * Crashes repeat: the pool backs off before the next replacement; or a replacement's `initializer` failed (it
   * counts as a crash, so a failing initializer backs off too). With no listener: a process warning.
   */
  error: [WorkerCrashLoopError | InitializerError];
}

/** What `pool.broadcast` answers for one agent. */
export type BroadcastResult<T = unknown> =
  | { pid: number; status: "fulfilled"; value: T }
  | { pid: number; status: "rejected"; reason: unknown };

export class Pool extends EventEmitter<PoolEvents> implements AsyncDisposable {
  readonly #options: ResolvedPoolOptions;
  /** Every agent the pool holds, starting to dead-and-closing: `pool.workers` lists them. */
  readonly #slots = new Set<Slot>();
  /** Calls wait for an agent under its call limit; tasks (a thread of their own each) only for a ready agent. */
  readonly #calls = new WaitingLine();
  readonly #tasks = new WaitingLine();
  /** Replacements being started and agents being closed: close() waits for them. */
  readonly #pending = new Set<Promise<unknown>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** When recent crashes happened, oldest first (within crashWindowMs). */
  #crashes: number[] = [];
  #backoffMs = 0;
  /** Set while the pool backs off with no agent up: calls reject with it instead of waiting. */
  #down: WorkerCrashLoopError | undefined;
  #closing: Promise<void> | undefined;
  #draining = false;
  #listener: Listener | undefined;
  #ray: RayDriver | undefined;

  private constructor(options: ResolvedPoolOptions) {
    super();
    this.#options = options;
  }

  /** Start `size` agents and wait until every one has said hello; if one cannot start, the others are closed. */
  static async start(options: PoolOptions = {}): Promise<Pool> {
    if (options?.launcher !== undefined) return Pool.#startOnRay(options);
    const pool = new Pool(resolvePoolOptions(options));
    const started = await Promise.allSettled(Array.from({ length: pool.#options.size }, () => pool.#spawn()));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    return pool;
  }

  /**
   * A pool that remote agents join (`python -m pyleash serve --connect …`, docs/distributed.md) over CURVE on tcp;
   * `size` (default 0) local agents are spawned besides. Resolves once it listens: see `endpoint`, `waitForWorkers`.
   */
  static async listen(options: PoolOptions & ListenOptions): Promise<Pool> {
    const { bind, curve, allow, heartbeatMs, lostAfterMs, size = 0, ...rest } = options ?? ({} as PoolOptions & ListenOptions);
    const listen = resolveListen({ bind, curve, allow, heartbeatMs, lostAfterMs });
    if (!Number.isInteger(size) || size < 0)
      throw new InvalidArgumentError(`Expected "size" to be a non-negative integer, got ${String(size)}`);
    const pool = new Pool({ ...resolvePoolOptions({ ...rest, size: 1 }), size });
    pool.#listener = await Listener.open(listen, pool.#options.worker, (worker) => pool.#join(worker));
    try {
      await Promise.all(Array.from({ length: size }, () => pool.#spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /**
   * `launcher: { kind: "ray" }` (docs/ray.md): a Ray driver creates `workers` actors, each runs an agent that joins
   * this pool over CURVE on tcp with a key pair made here for this pool alone; resolves once all have joined.
   */
  static async #startOnRay(options: PoolOptions): Promise<Pool> {
    const { launcher: given, size, ...rest } = options;
    const launcher = resolveRayLauncher(given);
    if (size !== undefined)
      throw new InvalidArgumentError('Expected no "size" with a ray launcher: "launcher.workers" says how many agents');
    const pool = new Pool({ ...resolvePoolOptions({ ...rest, size: 1 }), size: launcher.workers });
    const python = await locatePython(launcher.python ?? pool.#options.worker.python ?? defaultPythonSpec());
    const server = curveKeyPair();
    const agent = curveKeyPair();
    const { bind, heartbeatMs, lostAfterMs } = launcher;
    const listen = resolveListen({ bind, curve: server, allow: [agent.publicKey], heartbeatMs, lostAfterMs });
    pool.#listener = await Listener.open(listen, pool.#options.worker, (worker) => pool.#join(worker));
    try {
      const driver = new RayDriver({
        launcher,
        python,
        worker: pool.#options.worker,
        endpoint: agentEndpoint(pool.#listener.endpoint, launcher.advertise),
        serverKey: server.publicKey,
        secretKey: agent.secretKey,
        onEvent: (event) => pool.#onRay(event),
      });
      pool.#ray = driver;
      // Ready once every agent joined and the driver knows each one's pid (so that a death can be reported for it).
      const known = driver.agentsKnown(launcher.workers);
      await Promise.race([pool.waitForWorkers(launcher.workers, { timeoutMs: launcher.startTimeoutMs }).then(() => known), driver.failed]);
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  /** Ray said an actor died: its agent's work rejects now, not after the heartbeat timeout. */
  #onRay(event: DriverEvent): void {
    if (this.#closing) return;
    const died = (reason: string, restart: string): WorkerCrashedError =>
      new WorkerCrashedError(null, null, "", `was in a Ray actor that died (${reason}); ${restart}`);
    if (event.event === "died") {
      const restart = event.restarting ? "Ray restarts it" : "Ray will not restart it (maxRestarts reached)";
      this.#listener?.drop({ tag: event.tag, host: event.host ?? undefined, pid: event.pid ?? undefined }, died(event.reason, restart));
    } else if (event.event === "unavailable") {
      // The actor died before the driver learned of its new agent, or is only restarting: an agent that does not answer is gone.
      this.#listener?.probe(event.tag, RAY_PROBE_MS, () => died(event.reason, "Ray restarts it if maxRestarts allows"));
    }
  }

  /** Where a listening pool is bound, with its real port (undefined for a pool that does not listen). */
  get endpoint(): string | undefined {
    return this.#listener?.endpoint;
  }

  /** Resolves once `n` agents are ready; rejects with a WorkerStartError after `timeoutMs` (default 30 s). */
  waitForWorkers(n: number, { timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const ready = (): number => [...this.#slots].filter((slot) => slot.state === "ready").length;
    if (ready() >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (ready() < n) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new WorkerStartError(`Only ${ready()} of ${n} workers were ready within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.off("join", check);
      };
      this.on("join", check);
    });
  }

  /** How many agents the pool keeps running. */
  get size(): number {
    return this.#options.size;
  }

  /** Calls and tasks waiting for an agent. */
  get queued(): number {
    return this.#calls.size + this.#tasks.size;
  }

  /** Each agent: pid, python, transport, state, calls in flight, tasks, work done. */
  get workers(): PoolWorkerInfo[] {
    return [...this.#slots].map((slot) => slot.info());
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * `worker.call` on the least loaded agent, with the same options; a call that waits for an agent counts its
   * wait against `timeoutMs`, and leaves the queue on abort (its AbortError then has no stopReport: nothing ran).
   */
  call<T = unknown>(
    target: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: CallOptions = NO_CALL_OPTIONS,
  ): Promise<T> {
    if (this.#closing) return Promise.reject(new WorkerClosedError());
    const slot = this.#calls.size === 0 ? this.#pick(false) : undefined; // first come, first served
    if (slot) return this.#call<T>(slot, target, args, kwargs, options);
    let timeoutMs: number | undefined;
    try {
      checkTarget(target);
      if (options !== NO_CALL_OPTIONS) timeoutMs = resolveCallOptions(options).timeoutMs;
    } catch (error) {
      return Promise.reject(error);
    }
    const run = (slot: Slot, waitedMs: number): Promise<unknown> => {
      const left = timeoutMs === undefined ? options : { ...options, timeoutMs: Math.max(1, Math.round(timeoutMs - waitedMs)) };
      return this.#call(slot, target, args, kwargs, left);
    };
    return this.#wait(this.#calls, "call", run, options.signal, timeoutMs) as Promise<T>;
  }

  /**
   * The same call on every ready agent at once (to load or reset state each holds); resolves, once all have
   * settled, to one result per agent, in the order of `pool.workers`. Agents that start later do not get it:
   * use the `initializer` pool option for that.
   */
  broadcast<T = unknown>(
    target: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: CallOptions = NO_CALL_OPTIONS,
  ): Promise<BroadcastResult<T>[]> {
    if (this.#closing) return Promise.reject(new WorkerClosedError());
    try {
      checkTarget(target);
      if (options !== NO_CALL_OPTIONS) resolveCallOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const ready = [...this.#slots].filter((slot) => slot.state === "ready");
    return Promise.all(
      ready.map((slot) => {
        const pid = slot.worker!.pid;
        return this.#call<T>(slot, target, args, kwargs, options).then(
          (value): BroadcastResult<T> => ({ pid, status: "fulfilled", value }),
          (reason: unknown): BroadcastResult<T> => ({ pid, status: "rejected", reason }),
        );
      }),
    );
  }

  /** `worker.start` on the least loaded agent, with the same options; the task stays on that agent. */
  start<T = unknown>(target: string, options: StartOptions = {}): Promise<Task<T>> {
    if (this.#closing) return Promise.reject(new WorkerClosedError());
    const slot = this.#tasks.size === 0 ? this.#pick(true) : undefined;
    if (slot) return this.#start<T>(slot, target, options);
    try {
      checkTarget(target);
      resolveStartOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#wait(this.#tasks, "task", (slot) => this.#start(slot, target, options), options.signal, undefined) as Promise<Task<T>>;
  }

  /**
   * `worker.map` spread over the pool: each chunk goes to the least loaded agent (two chunks per agent at once) and
   * counts there as a task; the results come back as from one worker, in the order of the items unless `ordered: false`.
   */
  map<T = unknown>(target: string, items: Iterable<unknown>, options: MapOptions = {}): AsyncGenerator<MapResult<T>, void, undefined> {
    if (this.#closing) throw new WorkerClosedError();
    checkTarget(target);
    const resolved = resolveMapOptions(options);
    const list = mapItems(items);
    if (resolved.signal?.aborted) throw abortedBeforeStart("map", resolved.signal);
    const runner: ChunkRunner = {
      lanes: 2 * this.#options.size,
      open: (chunk) => {
        const start = (slot: Slot): Promise<{ stream: Stream<never>; release: () => void }> => {
          const release = this.#holdTask(slot);
          try {
            return Promise.resolve({ stream: slot.worker!.mapChunk(target, chunk, resolved.stop), release });
          } catch (error) {
            release();
            return Promise.reject(error);
          }
        };
        if (this.#closing) return Promise.reject(new WorkerClosedError());
        const slot = this.#tasks.size === 0 ? this.#pick(true) : undefined;
        if (slot) return start(slot);
        return this.#wait(this.#tasks, "map", start, resolved.signal, undefined) as ReturnType<typeof start>;
      },
    };
    return runMap<T>(runner, list, resolved);
  }

  /**
   * Replace the agent `pid` (one of `pool.workers`) with a fresh one, whatever it is doing (C code holding the GIL
   * included): its work in flight rejects with a WorkerRestartedError. A spawned agent is restarted in its place; a
   * remote one is killed and started again by its `serve` supervisor, and the fresh agent joins as a new member
   * (a "join" event). Rejects with an InvalidArgumentError for a pid the pool does not hold, or a remote agent
   * without a live supervisor (`serve --no-supervise`).
   */
  async recycle(pid: number, reason = "recycled by pool.recycle"): Promise<void> {
    if (this.#closing) throw new WorkerClosedError();
    const slot = [...this.#slots].find((s) => s.worker?.pid === pid && (s.state === "ready" || s.state === "retiring"));
    const worker = slot?.worker;
    if (!worker) throw new InvalidArgumentError(`Expected "pid" to be the pid of one of the pool's agents, got ${JSON.stringify(pid)}`);
    if (!worker.recyclable) {
      throw new InvalidArgumentError(
        `The remote agent ${pid} on ${worker.host} has no live supervisor (serve --no-supervise?): nothing can recycle it from here`,
      );
    }
    await worker.restart(reason);
  }

  /** Reject what waits, close every agent (their in-flight calls reject with WorkerClosedError); no process is left. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const timer of this.#timers) clearTimeout(timer);
      const listening = this.#listener?.close();
      this.#calls.clear(new WorkerClosedError());
      this.#tasks.clear(new WorkerClosedError());
      await Promise.allSettled([...this.#pending]); // a replacement that started meanwhile closes itself
      await Promise.allSettled([...this.#slots].filter((slot) => slot.worker).map((slot) => this.#bury(slot)));
      await Promise.allSettled([...this.#pending]);
      await listening;
      await this.#ray?.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #call<T>(slot: Slot, target: string, args: unknown[], kwargs: Record<string, unknown>, options: CallOptions): Promise<T> {
    slot.inFlight++;
    this.#given(slot);
    const call = slot.worker!.call<T>(target, args, kwargs, options);
    const settled = (): void => {
      slot.inFlight--;
      this.#settled(slot);
    };
    call.then(settled, settled);
    return call;
  }

  /** Counts a task (or a map chunk) on `slot`; the function returned, called once, counts it settled. */
  #holdTask(slot: Slot): () => void {
    slot.tasks++;
    this.#given(slot);
    return () => {
      slot.tasks--;
      this.#settled(slot);
    };
  }

  async #start<T>(slot: Slot, target: string, options: StartOptions): Promise<Task<T>> {
    const ended = this.#holdTask(slot);
    try {
      const task = await slot.worker!.start<T>(target, options);
      task.result.then(ended, ended);
      return task;
    } catch (error) {
      ended();
      throw error;
    }
  }

  #wait(
    line: WaitingLine,
    work: Work,
    run: Waiting["run"],
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
  ): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(abortedBeforeStart(work, signal));
    if (this.queued >= this.#options.maxQueue) return Promise.reject(new QueueFullError(this.#options.maxQueue));
    if (this.#down && !this.#anyUp()) return Promise.reject(this.#down);
    return new Promise((resolve, reject) => line.push({ run, resolve, reject }, work, signal, timeoutMs));
  }

  /** The ready agent with the least work; for a call, only one under its call limit. */
  #pick(task: boolean): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of this.#slots) {
      if (slot.state !== "ready" || (!task && slot.inFlight >= this.#options.concurrentCallsPerWorker)) continue;
      if (best === undefined || slot.load < best.load) best = slot;
    }
    return best;
  }

  /** Hand waiting work to agents while some can take it. */
  #drain(): void {
    if (this.#closing) return;
    const calls = this.#calls;
    if (calls.size > 0) {
      // An agent takes queued calls once it is down to half its limit, and then up to its limit: queued calls
      // leave in batches (one message for many), where refilling one place at a time would send one message per call.
      const cap = this.#options.concurrentCallsPerWorker;
      for (const slot of this.#slots) {
        if (slot.state !== "ready" || slot.inFlight > cap >> 1) continue;
        while (slot.inFlight < cap && calls.size > 0 && slot.state === "ready") this.#dispatch(calls, slot);
      }
    }
    for (let slot = this.#pick(true); slot && this.#tasks.size > 0; slot = this.#pick(true)) this.#dispatch(this.#tasks, slot);
  }

  #dispatch(line: WaitingLine, slot: Slot): void {
    const { job, waitedMs } = line.take()!;
    job.run(slot, waitedMs).then(job.resolve, job.reject);
  }

  #given(slot: Slot): void {
    if (++slot.given >= this.#options.maxCallsPerWorker) this.#retire(slot);
  }

  #settled(slot: Slot): void {
    slot.done++;
    if (slot.state === "retiring" && slot.idle) void this.#bury(slot);
    else if (slot.state === "ready" && slot.worker!.closed && !this.#closing) this.#lost(slot, undefined); // it died and its restart failed
    if (this.queued > 0 && !this.#draining) {
      // Replies arrive in batches: refill once they have all settled, so the calls that take their places leave
      // together too (one message each way per batch, not one per call).
      this.#draining = true;
      setImmediate(this.#drainSoon);
    }
  }

  readonly #drainSoon = (): void => {
    this.#draining = false;
    this.#drain();
  };

  /** Start one agent; it takes work at once. Rejects (and leaves no trace) if it cannot start. */
  #spawn(): Promise<void> {
    const slot = new Slot();
    this.#slots.add(slot);
    const spawning = (async () => {
      let worker: Worker;
      try {
        worker = await Worker.start(this.#options.worker);
      } catch (error) {
        this.#slots.delete(slot);
        throw error;
      }
      const init = this.#options.initializer;
      if (init && !this.#closing) {
        try {
          await worker.call(init.target, init.args, init.kwargs);
        } catch (cause) {
          this.#slots.delete(slot);
          await worker.close();
          throw new InitializerError(init.target, worker.pid, cause);
        }
      }
      slot.worker = worker;
      if (this.#closing) {
        this.#slots.delete(slot);
        return worker.close();
      }
      slot.state = "ready";
      this.#down = undefined;
      slot.unwatch = worker.watch({
        lost: (error) => this.#lost(slot, error),
        gaveUp: () => {
          if (this.#options.recycleBlocked) this.#retire(slot);
        },
      });
      this.#drain();
    })();
    this.#track(spawning);
    return spawning;
  }

  /** A remote agent said hello: it takes work at once, and is dropped (not replaced) when lost. */
  #join(worker: Worker): void {
    if (this.#closing) {
      void worker.close();
      return;
    }
    const slot = new Slot();
    slot.worker = worker;
    slot.remote = true;
    slot.state = "ready";
    this.#slots.add(slot);
    slot.unwatch = worker.watch({
      lost: (error) => {
        if (this.#closing || slot.state === "dead") return;
        void this.#bury(slot);
        if (error instanceof WorkerLostError) this.emit("lost", { worker: slot.info(), error });
        else if (error instanceof WorkerCrashedError) this.emit("crash", { pid: worker.pid, error }); // its supervisor starts a new one
      },
      gaveUp: () => {
        if (this.#options.recycleBlocked) this.#retire(slot);
      },
    });
    this.emit("join", slot.info());
    this.#drain();
  }

  /** An agent's connection ended: a crash (or a failed restart) kills the slot; a restart or our own close does not. */
  #lost(slot: Slot, error: PyleashError | undefined): void {
    if (this.#closing || slot.state === "dead" || slot.state === "starting") return;
    if (slot.remote) return void this.#bury(slot); // its restart failed: nothing here can start it again
    if (error !== undefined && !(error instanceof WorkerCrashedError)) return; // restarted or closed: the Worker lives on, or we closed it
    const wasReady = slot.state === "ready";
    void this.#bury(slot);
    if (error) this.emit("crash", { pid: slot.worker!.pid, error });
    this.#crashed(error ?? new WorkerCrashedError(null, null, "", "died and could not be restarted"));
    if (wasReady) this.#replace();
  }

  /** Count a crash; past maxCrashes within the window, back off and say so. */
  #crashed(cause: unknown): void {
    const now = performance.now();
    this.#crashes.push(now);
    this.#crashes = this.#crashes.filter((at) => now - at <= this.#options.crashWindowMs);
    if (this.#crashes.length < this.#options.maxCrashes) {
      this.#backoffMs = 0;
      return;
    }
    this.#backoffMs = Math.min(BACKOFF_MAX_MS, this.#backoffMs ? this.#backoffMs * 2 : BACKOFF_FIRST_MS);
    const error = new WorkerCrashLoopError(this.#crashes.length, this.#options.crashWindowMs, this.#backoffMs, cause);
    if (!this.#anyUp()) {
      this.#down = error;
      this.#calls.clear(error);
      this.#tasks.clear(error);
    }
    this.#warn(error);
  }

  #warn(error: WorkerCrashLoopError | InitializerError): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
    else process.emitWarning(error);
  }

  /** Start a replacement now, or after the back-off; one that cannot start counts as a crash and is tried again. */
  #replace(): void {
    if (this.#closing) return;
    const start = (): void => {
      if (this.#closing) return;
      this.#spawn().catch((error: unknown) => {
        if (error instanceof InitializerError) this.#warn(error);
        this.#crashed(error);
        this.#replace();
      });
    };
    if (this.#backoffMs === 0) {
      start();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      start();
    }, this.#backoffMs);
    this.#timers.add(timer);
  }

  /** No new work for `slot`; a replacement starts now; it is closed once its work has settled. */
  #retire(slot: Slot): void {
    if (slot.state !== "ready") return;
    slot.state = "retiring";
    if (!slot.remote) this.#replace();
    if (slot.idle) void this.#bury(slot);
  }

  /**
   * Close the slot's agent (whatever it still runs rejects) and forget it once it is gone. A retiring remote agent
   * with a supervisor is recycled instead: its supervisor starts a fresh one, which joins as its replacement.
   */
  #bury(slot: Slot): Promise<void> {
    if (slot.state === "dead") return Promise.resolve();
    const worker = slot.worker;
    const recycle = slot.remote && slot.state === "retiring" && !this.#closing && worker?.recyclable === true;
    slot.state = "dead";
    slot.unwatch();
    const gone = recycle ? worker.restart("retired by the pool").catch(() => worker.close()) : (worker?.close() ?? Promise.resolve());
    const closing = gone.finally(() => this.#slots.delete(slot));
    this.#track(closing);
    return closing;
  }

  #track(promise: Promise<unknown>): void {
    const settled: Promise<unknown> = promise.then(
      () => this.#pending.delete(settled),
      () => this.#pending.delete(settled),
    );
    this.#pending.add(settled);
  }

  /** Some agent is ready or on its way. */
  #anyUp(): boolean {
    for (const slot of this.#slots) if (slot.state === "ready" || slot.state === "starting") return true;
    return false;
  }
}
