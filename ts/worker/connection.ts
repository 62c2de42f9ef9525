/** One agent and the ZeroMQ channel to it, from hello to exit, whatever its lifecycle (a Worker may go through several). */
import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { hostname } from "node:os";
import { InvalidArgumentError, type PyleashError, WorkerClosedError, WorkerLostError } from "../errors.js";
import type { AgentEvent, Hello, RequestBody, Strategy } from "../protocol.js";
import { encode, forEachMessage, isReply } from "./framing.js";
import { defaultPythonSpec, locatePython } from "../python/discover.js";
import { settlesWithin } from "../util/time.js";
import { killGroup, spawnAgent } from "./agent-process.js";
import { Channel, PUMP, type Pumpable } from "./channel.js";
import { tryDecode, waitForHello } from "./handshake.js";
import { type AgentLife, spawnedLife } from "./life.js";
import type { ResolvedWorkerOptions } from "./options.js";
import { PendingRequests, type RequestOptions } from "./pending.js";
import { release, track } from "./reaper.js";

/** What a link needs of its options (a Worker's resolved options have them; pythonia's leash makes its own). */
export type LinkOptions = Pick<ResolvedWorkerOptions, "maxMessageBytes" | "closeGraceMs">;

/**
 * The one link to an agent, whatever its lifecycle (ts/worker/life.ts): its hello's facts, the request table, the
 * receive loop, its events and its end. A Worker may go through several (restarts).
 */
export class Connection {
  /** The agent's process id. */
  readonly pid: number;
  /** The agent's Python version, e.g. "3.11.7". */
  readonly python: string;
  /** The interpreter that runs the agent. */
  readonly executable: string;
  /** The ZeroMQ client the agent chose. */
  readonly transport: "pyzmq" | "builtin";
  /** The stop strategies the agent's interpreter supports (its hello says). */
  readonly strategies: readonly Strategy[];

  /** The agent's host name (remote agents say; spawned ones run here). */
  readonly host: string;
  /** Joined a listening pool rather than spawned by this controller. */
  readonly remote: boolean;

  readonly #life: AgentLife;
  readonly #channel: Channel;
  readonly #peer: Buffer;
  readonly #options: LinkOptions;
  readonly #pending = new PendingRequests();
  readonly #eventListeners = new Set<(event: AgentEvent) => void>();
  readonly #exitListeners = new Set<(error: PyleashError) => void>();
  #dead: PyleashError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(life: AgentLife, channel: Channel, peer: Buffer, hello: Hello, options: LinkOptions) {
    this.#life = life;
    this.#channel = channel;
    this.#peer = peer;
    this.#options = options;
    this.pid = hello.pid;
    this.python = hello.python;
    this.executable = hello.executable;
    this.transport = hello.transport as "pyzmq" | "builtin";
    this.strategies = hello.strategies as Strategy[];
    const extra = hello as Hello & { host?: unknown; remote?: unknown };
    this.remote = extra.remote === true;
    this.host = typeof extra.host === "string" ? extra.host : hostname();
  }

  /**
   * An agent whose hello was checked elsewhere: a remote one on a listening pool's channel (the pool demultiplexes
   * `messages`), or one attached inside pythonia's Python.
   */
  static adopt(
    life: AgentLife,
    channel: Channel,
    peer: Buffer,
    hello: Hello,
    messages: AsyncGenerator<Buffer[]>,
    resolved: LinkOptions,
  ): Connection {
    const connection = new Connection(life, channel, peer, hello, resolved);
    connection.#watch(messages);
    return connection;
  }

  /** Spawn an agent and wait until it has connected and proved it is ours. */
  static async open(resolved: ResolvedWorkerOptions): Promise<Connection> {
    const spec = resolved.python ?? defaultPythonSpec();
    const python = await locatePython(spec);
    if (resolved.cwd !== undefined) await checkCwd(resolved.cwd);
    const channel = await Channel.bind(resolved.endpoint, resolved.maxMessageBytes);
    const token = randomBytes(24).toString("hex");
    const agent = spawnAgent(python, resolved, {
      endpoint: channel.endpoint,
      token,
      transport: resolved.transport,
      parentPid: process.pid,
      switchIntervalMs: resolved.switchIntervalMs,
      maxMessageBytes: resolved.maxMessageBytes,
      allowedModules: resolved.allowedModules ?? null,
    });
    track(agent.child);
    const messages = channel.messages();
    try {
      const { peer, hello } = await waitForHello(agent, messages, token, resolved.startTimeoutMs, spec, python);
      const connection = new Connection(spawnedLife(agent, channel), channel, peer, hello, resolved);
      connection.#watch(messages);
      return connection;
    } catch (error) {
      killGroup(agent.child, "SIGKILL");
      release(agent.child);
      await channel.close();
      throw error;
    }
  }

  /** Where the channel is bound. */
  get endpoint(): string {
    return this.#channel.endpoint;
  }

  /** Send one request and settle with its reply. */
  request(body: RequestBody, options: RequestOptions = {}): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    return this.#pending.send(body, options, this.#options.maxMessageBytes, this.#write);
  }

  readonly #write = (frames: Buffer[]): void => this.#channel.send(this.#peer, frames);

  /** Whether the agent's control loop answers a ping within `timeoutMs` (false while C code holds the GIL). */
  responsive(timeoutMs: number): Promise<boolean> {
    return this.request({ type: "ping" }, { timeoutMs }).then(
      () => true,
      () => false,
    );
  }

  /** Subscribe to the agent's events about tasks, calls and streams; returns the unsubscribe function. */
  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Called once when the connection fails (crash, close, restart) with the error its requests got. */
  onExit(listener: (error: PyleashError) => void): void {
    if (this.#dead) listener(this.#dead);
    else this.#exitListeners.add(listener);
  }

  /** The WorkerLostError of a remote agent declared lost; undefined otherwise. */
  get lost(): WorkerLostError | undefined {
    return this.#dead instanceof WorkerLostError ? this.#dead : undefined;
  }

  /** True once the agent is gone or closing; requests then reject at once. */
  get closed(): boolean {
    return this.#dead !== undefined;
  }

  /** Killing it brings a fresh agent: always for a spawned one; for a remote one, when a live supervisor runs it. */
  get recyclable(): boolean {
    return this.#life.recyclable ?? true;
  }

  /** The agent process has not exited (it may still be frozen). */
  get alive(): boolean {
    return this.#life.alive;
  }

  /** Ask the agent to exit; after `closeGraceMs` force it (SIGTERM its process group, then SIGKILL; others are let go of). */
  close(): Promise<void> {
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  /** Reject everything in flight with `error`, then kill the agent's process group without asking. */
  abandon(error: PyleashError): Promise<void> {
    this.#fail(error);
    this.#closing ??= this.#shutDown();
    return this.#closing;
  }

  /** Every thread's Python stack, dumped by the agent's faulthandler; works even when the agent is frozen. */
  dumpThreads(timeoutMs = 1_000): Promise<string> {
    return this.#life.dumpThreads(timeoutMs);
  }

  async #shutDown(): Promise<void> {
    const life = this.#life;
    const polite = !this.#dead;
    const grace = this.#options.closeGraceMs;
    if (polite) {
      const id = this.#pending.nextId();
      this.#channel.send(this.#peer, encode({ type: "shutdown", id }));
      this.#fail(new WorkerClosedError());
      // Waited for after the fail, which rejects what is in flight: only the lifecycle cares about this answer.
      const answered = this.#pending.wait(id, { timeoutMs: grace });
      answered.catch(() => {});
      life.askedToExit(answered);
    }
    if (!polite || !(await settlesWithin(life.gone, grace))) {
      life.kill("SIGTERM");
      if (!(await settlesWithin(life.gone, grace))) life.kill("SIGKILL");
    }
    await life.gone;
    await life.release();
  }

  #watch(messages: AsyncGenerator<Buffer[]> & Partial<Pumpable>): void {
    this.#life.onDeath((error) => this.#fail(error));
    const peer = this.#peer;
    const each = (message: Buffer[]): void => {
      if (samePeer(message[0], peer)) forEachMessage(message, 1, this.#receive); // queued replies leave together
    };
    // The channel's own messages are pumped (one promise per message); a pool's demultiplexed ones are iterated.
    const pump = messages[PUMP];
    void (pump
      ? pump(each)
      : (async () => {
          for await (const message of messages) each(message);
        })());
  }

  readonly #receive = (frame: Buffer, binary: Buffer[]): void => {
    const message = tryDecode(frame, binary);
    if (!message) {
      process.emitWarning("pyleash: dropped an unreadable message from the agent");
    } else if (isReply(message)) {
      this.#pending.answer(message);
    } else if (message.type !== "hello") {
      for (const listener of this.#eventListeners) listener(message);
    }
  };

  #fail(error: PyleashError): void {
    if (this.#dead) return;
    this.#dead = error;
    this.#pending.failAll(error);
    for (const listener of this.#exitListeners) listener(error);
    this.#exitListeners.clear();
  }
}

/** Whether a message's routing id is the agent's: ZeroMQ's are 5 bytes, where a loop beats Buffer.equals' native call. */
function samePeer(id: Buffer | undefined, peer: Buffer): boolean {
  if (id === undefined || id.length !== peer.length) return false;
  for (let i = 0; i < id.length; i++) if (id[i] !== peer[i]) return false;
  return true;
}

/** A missing working directory would fail the spawn with ENOENT, which reads as a missing interpreter. */
async function checkCwd(cwd: string): Promise<void> {
  const found = await stat(cwd).catch(() => undefined);
  if (!found?.isDirectory()) {
    throw new InvalidArgumentError(
      `Expected "cwd" to be an existing directory, got ${JSON.stringify(cwd)} (${found ? "not a directory" : "it does not exist"})`,
    );
  }
}
