/**
 * The channel to an agent attached inside a process pyleash did not start (pythonia's): a ROUTER bound privately,
 * the attach call made through pythonia, the hello checked against the token, requests and replies, and
 * faulthandler's dumps through a file (there is no fd 4 to a process someone else spawned).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type PyleashError, WorkerClosedError, WorkerCrashedError, WorkerStartError } from "../errors.js";
import { CONTRACT, type Hello, PROTOCOL_VERSION, type RequestBody, type Strategy } from "../protocol.js";
import { settlesWithin } from "../util/time.js";
import { Channel } from "../worker/channel.js";
import { decode, isReply, splitMessages } from "../worker/framing.js";
import { PendingRequests, type RequestOptions } from "../worker/pending.js";

/** pythonia's `python(module)`: resolves to a proxy of the imported module (typed loosely: pythonia is optional). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
// biome-ignore lint/suspicious/noExplicitAny: pythonia's proxies are untyped by design (any attribute is a Python one)
export type PythoniaImport = (module: string) => Promise<any>;

/** Run by path inside pythonia's Python: puts this pyleash package in sys.modules without touching sys.path. */
const LOADER = fileURLToPath(new URL("../../py/pyleash/attach_load.py", import.meta.url));
const DUMP_SIGNAL = CONTRACT.signals.threadDump satisfies NodeJS.Signals;
/** How often the link checks that pythonia's process is still there (it is pythonia's child, not ours). */
const WATCH_MS = 1_000;


export interface LinkOptions {
  /** How long the attach may take: pythonia's round trips, then the agent's hello. */
  startTimeoutMs: number;
}

export class AttachedLink {
  readonly pid: number;
  readonly mainIdent: number;
  readonly python: string;
  readonly executable: string;
  readonly strategies: readonly Strategy[];
  readonly #channel: Channel;
  readonly #peer: Buffer;
  readonly #dir: string;
  readonly #dumpPath: string;
  readonly #pending = new PendingRequests();
  readonly #watch: NodeJS.Timeout;
  readonly #exitListeners = new Set<(error: PyleashError) => void>();
  #dead: PyleashError | undefined;

  private constructor(channel: Channel, peer: Buffer, hello: Hello, info: { mainIdent: number }, dir: string, dumpPath: string) {
    this.#channel = channel;
    this.#peer = peer;
    this.#dir = dir;
    this.#dumpPath = dumpPath;
    this.pid = hello.pid;
    this.mainIdent = info.mainIdent;
    this.python = hello.python;
    this.executable = hello.executable;
    this.strategies = hello.strategies as Strategy[];
    this.#watch = setInterval(() => {
      if (!isRunning(this.pid)) this.fail(new WorkerCrashedError(null, null, "", "is gone (pythonia's Python process)"));
    }, WATCH_MS).unref();
  }

  /** Attach an agent inside pythonia's Python (the call runs on its main thread) and wait for its hello. */
  static async open(python: PythoniaImport, options: LinkOptions): Promise<AttachedLink> {
    const channel = await Channel.bind("ipc");
    const dir = await mkdtemp(join(tmpdir(), `pyleash-attach-${process.pid}-`)); // 0700: the dumps are ours alone
    const dumpPath = join(dir, "threads.txt");
    const token = randomBytes(24).toString("hex");
    const messages = channel.messages();
    let timer: NodeJS.Timeout | undefined;
    try {
      const hello = helloFrom(messages, token);
      hello.catch(() => {});
      const attached = (async () => {
        const runpy = await python("runpy");
        await runpy.run_path(LOADER);
        const attach = await python("pyleash.attach");
        // notAfter: should pythonia's main thread reach the attach only after we gave up, it refuses at once.
        const notAfter = Date.now() + options.startTimeoutMs;
        const config = { endpoint: channel.endpoint, token, dumpPath, maxMessageBytes: CONTRACT.limits.maxMessageBytes, notAfter };
        return JSON.parse(String(await attach.attach(JSON.stringify(config)))) as { pid: number; mainIdent: number };
      })();
      attached.catch(() => {});
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new WorkerStartError(`The agent did not attach inside pythonia's Python within ${options.startTimeoutMs} ms`)),
          options.startTimeoutMs,
        );
      });
      const [info, { peer, hello: greeting }] = await Promise.race([Promise.all([attached, hello]), timeout]);
      const link = new AttachedLink(channel, peer, greeting, info, dir, dumpPath);
      link.#listen(messages);
      return link;
    } catch (error) {
      await channel.close();
      await rm(dir, { recursive: true, force: true });
      throw error instanceof Error && !(error instanceof WorkerStartError)
        ? new WorkerStartError(`Could not attach inside pythonia's Python: ${error.message}`, { cause: error })
        : error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Send one request and settle with its reply. */
  request(body: RequestBody, options: RequestOptions = {}): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    return this.#pending.send(body, options, CONTRACT.limits.maxMessageBytes, (frames) => this.#channel.send(this.#peer, frames));
  }

  /** Whether the agent's control loop answers a ping within `timeoutMs` (false while C code holds the GIL). */
  responsive(timeoutMs: number): Promise<boolean> {
    return this.request({ type: "ping" }, { timeoutMs }).then(
      () => true,
      () => false,
    );
  }

  /**
   * Every thread's stack as faulthandler writes it from its C signal handler, which needs no GIL: SIGUSR1 to
   * pythonia's process, then what the dump file gained, once it stops growing.
   */
  async dumpThreads(timeoutMs = 1_000): Promise<string> {
    if (!isRunning(this.pid)) return "";
    const start = await stat(this.#dumpPath).then((s) => s.size, () => 0);
    try {
      process.kill(this.pid, DUMP_SIGNAL);
    } catch {
      return "";
    }
    const until = performance.now() + timeoutMs;
    let size = start;
    let steadySince = performance.now();
    while (performance.now() < until) {
      await delay(10);
      const now = await stat(this.#dumpPath).then((s) => s.size, () => start);
      if (now !== size) {
        size = now;
        steadySince = performance.now();
      } else if (size > start && performance.now() - steadySince >= 30) {
        break; // faulthandler writes the whole dump at once; a pause ends it
      }
    }
    if (size <= start) return "";
    const file = await open(this.#dumpPath, "r");
    try {
      const buffer = Buffer.alloc(size - start);
      await file.read(buffer, 0, buffer.length, start);
      return buffer.toString("utf8");
    } finally {
      await file.close();
    }
  }

  /** pythonia's Python process, the one attached to, is still running. */
  processAlive(): boolean {
    return isRunning(this.pid);
  }

  /** Called once when the link fails or closes, with the error its requests got. */
  onExit(listener: (error: PyleashError) => void): void {
    if (this.#dead) listener(this.#dead);
    else this.#exitListeners.add(listener);
  }

  get closed(): boolean {
    return this.#dead !== undefined;
  }

  /** Ask the agent to detach (its threads end); then close the channel whatever it answered. */
  async close(graceMs: number): Promise<void> {
    if (!this.#dead && isRunning(this.pid)) {
      const answered = this.request({ type: "shutdown" }, { timeoutMs: graceMs }).catch(() => {});
      // pythonia's process may be ending (python.exit()): its end settles the close too, not the next liveness tick.
      await settlesWithin(Promise.race([answered, ended(this.pid, graceMs)]), graceMs);
    }
    this.fail(new WorkerClosedError());
  }

  /** Reject everything in flight, stop watching, close the channel and remove the dump file. */
  fail(error: PyleashError): void {
    if (this.#dead) return;
    this.#dead = error;
    clearInterval(this.#watch);
    this.#pending.failAll(error);
    for (const listener of this.#exitListeners) listener(error);
    this.#exitListeners.clear();
    void this.#channel.close().then(() => rm(this.#dir, { recursive: true, force: true }));
  }

  #listen(messages: AsyncGenerator<Buffer[]>): void {
    void (async () => {
      for await (const [peer, ...frames] of messages) {
        if (!peer?.equals(this.#peer)) continue;
        for (const [frame, binary] of splitMessages(frames)) {
          const message = tryDecode(frame, binary);
          if (message && isReply(message)) this.#pending.answer(message);
        }
      }
    })();
  }
}

/** The first hello on the channel that carries our token; rejects if the channel closes first. */
async function helloFrom(messages: AsyncGenerator<Buffer[]>, token: string): Promise<{ peer: Buffer; hello: Hello }> {
  const expected = Buffer.from(token);
  // Pulled by hand: a for-await loop would close the generator the link goes on reading.
  for (let next = await messages.next(); !next.done; next = await messages.next()) {
    const [peer, frame] = next.value;
    const message = (peer && frame ? tryDecode(frame) : undefined) as Partial<Hello> | undefined;
    if (message?.type !== "hello" || typeof message.token !== "string") continue;
    const given = Buffer.from(message.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) continue;
    if (message.protocol !== PROTOCOL_VERSION) {
      throw new WorkerStartError(`The agent speaks protocol ${message.protocol}, the controller ${PROTOCOL_VERSION}`);
    }
    return { peer: peer!, hello: message as Hello };
  }
  throw new WorkerStartError("The channel closed before the agent said hello");
}

function tryDecode(frame: Buffer, binary: Buffer[] = []): ReturnType<typeof decode> | undefined {
  try {
    return decode(frame, binary);
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Resolves once `pid` is gone (polled every 20 ms), or after `limitMs`. */
async function ended(pid: number, limitMs: number): Promise<void> {
  const until = performance.now() + limitMs;
  while (isRunning(pid) && performance.now() < until) await delay(20);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
