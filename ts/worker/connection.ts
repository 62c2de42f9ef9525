/** One agent process and the ZeroMQ channel to it, from hello to exit (a Worker may go through several). */
import type { ChildProcess } from "node:child_process";
import { randomBytes, timingSafeEqual } from "node:crypto";
import {
  AbortError,
  InvalidArgumentError,
  PyleashError,
  PythonNotFoundError,
  PythonVersionError,
  WorkerClosedError,
  WorkerCrashedError,
  WorkerStartError,
  errorFromPayload,
} from "../errors.js";
import { type AgentEvent, type Hello, type Incoming, PROTOCOL_VERSION, type Reply, type Request, decode, encode, isReply } from "../protocol.js";
import { defaultPythonSpec, locatePython } from "../python/discover.js";
import { type AgentProcess, exited, killGroup, spawnAgent } from "./agent-process.js";
import { Channel } from "./channel.js";
import type { CallOptions, ResolvedWorkerOptions } from "./options.js";

const UNSUPPORTED_EXIT = 78; // py/pyleash/__init__.py: interpreter too old

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) killGroup(child, "SIGKILL");
});

export class Connection {
  /** Where the channel is bound. */
  get endpoint(): string {
    return this.#channel.endpoint;
  }

  /** The agent's process id. */
  readonly pid: number;
  /** The agent's Python version, e.g. "3.11.7". */
  readonly python: string;
  /** The interpreter that runs the agent. */
  readonly executable: string;
  /** The ZeroMQ client the agent chose. */
  readonly transport: "pyzmq" | "builtin";

  readonly #agent: AgentProcess;
  readonly #channel: Channel;
  readonly #peer: Buffer;
  readonly #options: ResolvedWorkerOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #eventListeners = new Set<(event: AgentEvent) => void>();
  readonly #exitListeners = new Set<(error: PyleashError) => void>();
  #nextId = 0;
  #dead: PyleashError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(agent: AgentProcess, channel: Channel, peer: Buffer, hello: Hello, options: ResolvedWorkerOptions) {
    this.#agent = agent;
    this.#channel = channel;
    this.#peer = peer;
    this.#options = options;
    this.pid = hello.pid;
    this.python = hello.python;
    this.executable = hello.executable;
    this.transport = hello.transport;
  }

  /** Spawn an agent and wait until it has connected and proved it is ours. */
  static async open(resolved: ResolvedWorkerOptions): Promise<Connection> {
    const spec = resolved.python ?? defaultPythonSpec();
    const python = await locatePython(spec);
    const channel = await Channel.bind(resolved.endpoint);
    const token = randomBytes(24).toString("hex");
    const agent = spawnAgent(python, resolved, {
      endpoint: channel.endpoint,
      token,
      transport: resolved.transport,
      parentPid: process.pid,
      switchIntervalMs: resolved.switchIntervalMs,
    });
    live.add(agent.child);
    const messages = channel.messages();
    try {
      const { peer, hello } = await waitForHello(agent, messages, token, resolved.startTimeoutMs, spec, python);
      const connection = new Connection(agent, channel, peer, hello, resolved);
      connection.#watch(messages);
      return connection;
    } catch (error) {
      killGroup(agent.child, "SIGKILL");
      live.delete(agent.child);
      await channel.close();
      throw error;
    }
  }

  /** Send one request and settle with its reply; the low-level door the task API builds on. */
  request(body: RequestBody | ({ type: string } & Record<string, unknown>), options: CallOptions = {}): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(new AbortError("The call was aborted before it started", signal.reason));
    let frame: Buffer;
    const id = ++this.#nextId;
    try {
      frame = encode({ ...body, id });
    } catch (error) {
      return Promise.reject(new InvalidArgumentError(`Arguments are not JSON-serialisable: ${(error as Error).message}`));
    }
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => settle(new AbortError("The call was aborted", signal?.reason));
      const settle = (error: Error | undefined, value?: unknown): void => {
        this.#pending.delete(id);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve(value);
      };
      this.#pending.set(id, { resolve: (value) => settle(undefined, value), reject: (error) => settle(error) });
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const reason = new DOMException(`The call timed out after ${timeoutMs} ms`, "TimeoutError");
          settle(new AbortError(reason.message, reason));
        }, timeoutMs);
      }
      this.#channel.send(this.#peer, frame);
    });
  }

  /** Subscribe to the agent's unsolicited events (task progress); returns the unsubscribe function. */
  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Called once when the connection fails (crash, close, restart) with the error its requests got. */
  onExit(listener: (error: PyleashError) => void): void {
    if (this.#dead) listener(this.#dead);
    else this.#exitListeners.add(listener);
  }

  /** True once the agent is gone or closing; requests then reject at once. */
  get closed(): boolean {
    return this.#dead !== undefined;
  }

  /** The agent process has not exited (it may still be frozen). */
  get alive(): boolean {
    const child = this.#agent.child;
    return child.exitCode === null && child.signalCode === null;
  }

  /** Resolves when the agent process has exited. */
  exited(): Promise<void> {
    return exited(this.#agent.child);
  }

  /** Ask the agent to exit; SIGTERM its process group after `closeGraceMs`, then SIGKILL. */
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
    return this.#agent.dumpThreads(timeoutMs);
  }

  async #shutDown(): Promise<void> {
    const child = this.#agent.child;
    const gone = exited(child);
    const polite = !this.#dead;
    if (polite) {
      this.#channel.send(this.#peer, encode({ type: "shutdown", id: ++this.#nextId }));
      this.#fail(new WorkerClosedError());
    }
    const grace = this.#options.closeGraceMs;
    if (!polite || !(await settlesWithin(gone, grace))) {
      killGroup(child, "SIGTERM");
      if (!(await settlesWithin(gone, grace))) killGroup(child, "SIGKILL");
    }
    await gone;
    killGroup(child, "SIGKILL"); // whatever the tasks left in the group
    live.delete(child);
    await this.#channel.close();
  }

  #watch(messages: AsyncGenerator<Buffer[]>): void {
    const child = this.#agent.child;
    child.once("exit", (code, signal) => {
      live.delete(child);
      // Give stderr a moment to deliver the agent's last words, without waiting on a timeout.
      const drained = child.stderr ? new Promise((r) => child.stderr!.once("close", r)) : Promise.resolve();
      void settlesWithin(drained, 50).then(() => {
        this.#fail(new WorkerCrashedError(code, signal, this.#agent.stderrTail()));
        killGroup(child, "SIGKILL");
        void this.#channel.close();
      });
    });
    void (async () => {
      for await (const [peer, ...frames] of messages) {
        if (!peer?.equals(this.#peer)) continue;
        for (const frame of frames) this.#receive(frame); // the agent sends queued replies together
      }
    })();
  }

  #receive(frame: Buffer): void {
    const message = tryDecode(frame);
    if (!message) {
      process.emitWarning("pyleash: dropped an unreadable message from the agent");
      return;
    }
    if (!isReply(message)) {
      for (const listener of this.#eventListeners) listener(message as AgentEvent);
      return;
    }
    const pending = typeof message.id === "number" ? this.#pending.get(message.id) : undefined;
    if (!pending) return; // aborted or timed out: its late answer has nobody to go to
    settleReply(pending, message);
  }

  #fail(error: PyleashError): void {
    if (this.#dead) return;
    this.#dead = error;
    for (const pending of [...this.#pending.values()]) pending.reject(error);
    this.#pending.clear();
    for (const listener of this.#exitListeners) listener(error);
    this.#exitListeners.clear();
  }
}

function settleReply(pending: Pending, reply: Reply): void {
  if (reply.status === "ok") pending.resolve(reply.result);
  else pending.reject(errorFromPayload(reply.error));
}

async function waitForHello(
  agent: AgentProcess,
  messages: AsyncGenerator<Buffer[]>,
  token: string,
  timeoutMs: number,
  spec: string,
  python: string,
): Promise<{ peer: Buffer; hello: Hello }> {
  const expected = Buffer.from(token);
  const child = agent.child;
  let onError: ((error: NodeJS.ErrnoException) => void) | undefined;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const failure = new Promise<never>((_, reject) => {
    onError = (error) =>
      reject(error.code === "ENOENT" ? new PythonNotFoundError(spec, [python]) : new WorkerStartError(error.message, { cause: error }));
    onExit = (code, signal) => reject(startFailure(python, code, signal, agent.stderrTail()));
    child.once("error", onError);
    child.once("exit", onExit);
    timer = setTimeout(() => {
      const stderr = agent.stderrTail().trim();
      reject(new WorkerStartError(`The Python agent (${python}) did not connect within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
  });
  const hello = (async () => {
    // Pulled by hand: a for-await loop would close the generator the worker goes on reading.
    for (let next = await messages.next(); !next.done; next = await messages.next()) {
      const [peer, frame] = next.value;
      const message = (peer && frame ? tryDecode(frame) : undefined) as Partial<Hello> | undefined;
      if (message?.type !== "hello" || typeof message.token !== "string") continue;
      const given = Buffer.from(message.token);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) continue; // not our agent
      const ours = message as Hello;
      if (ours.protocol !== PROTOCOL_VERSION) {
        throw new WorkerStartError(`The agent speaks protocol ${ours.protocol}, the controller ${PROTOCOL_VERSION}`);
      }
      return { peer: peer!, hello: ours };
    }
    throw new WorkerStartError("The channel closed before the agent said hello");
  })();
  hello.catch(() => {}); // after a failure wins the race, the channel's closing rejects this too
  try {
    return await Promise.race([hello, failure]);
  } finally {
    clearTimeout(timer);
    child.off("error", onError!);
    child.off("exit", onExit!);
  }
}

function startFailure(python: string, code: number | null, signal: NodeJS.Signals | null, stderr: string): PyleashError {
  if (code === UNSUPPORTED_EXIT) return new PythonVersionError(python, /this is (\S+)/.exec(stderr)?.[1] ?? "unknown");
  const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
  return new WorkerStartError(`The Python agent (${python}) ${how} before connecting\n${stderr.trim()}`);
}

function tryDecode(frame: Buffer): Incoming | undefined {
  try {
    return decode(frame);
  } catch {
    return undefined;
  }
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
