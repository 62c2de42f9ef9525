/**
 * The lifecycle of an agent attached inside a process pyleash did not start (pythonia's): a ROUTER bound privately,
 * the attach call made through pythonia, and faulthandler's dumps through a file (there is no fd 4 to a process
 * someone else spawned). The link itself (hello, token check, requests, replies, close) is the one Connection.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type PyleashError, WorkerCrashedError, WorkerStartError } from "../errors.js";
import { CONTRACT } from "../protocol.js";
import { Channel } from "../worker/channel.js";
import { Connection } from "../worker/connection.js";
import { helloFrom } from "../worker/handshake.js";
import type { AgentLife } from "../worker/life.js";

/** pythonia's `python(module)`: resolves to a proxy of the imported module (typed loosely: pythonia is optional). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
// biome-ignore lint/suspicious/noExplicitAny: pythonia's proxies are untyped by design (any attribute is a Python one)
export type PythoniaImport = (module: string) => Promise<any>;

/** Run by path inside pythonia's Python: puts this pyleash package in sys.modules without touching sys.path. */
const LOADER = fileURLToPath(new URL("../../py/pyleash/attach_load.py", import.meta.url));
const DUMP_SIGNAL = CONTRACT.signals.threadDump satisfies NodeJS.Signals;
/** How often the link checks that pythonia's process is still there (it is pythonia's child, not ours). */
const WATCH_MS = 1_000;

export interface AttachOptions {
  /** How long the attach may take: pythonia's round trips, then the agent's hello. */
  startTimeoutMs: number;
  /** How long closing waits for the agent to detach. */
  closeGraceMs: number;
}

/** The link to the attached agent, and pythonia's main thread (the one whose calls a leash stops). */
export interface Attached {
  link: Connection;
  mainIdent: number;
}

/** Attach an agent inside pythonia's Python (the call runs on its main thread) and wait for its hello. */
export async function attach(python: PythoniaImport, options: AttachOptions): Promise<Attached> {
  const channel = await Channel.bind("ipc");
  const dir = await mkdtemp(join(tmpdir(), `pyleash-attach-${process.pid}-`)); // 0700: the dumps are ours alone
  const dumpPath = join(dir, "threads.txt");
  const token = randomBytes(24).toString("hex");
  const messages = channel.messages();
  const maxMessageBytes = CONTRACT.limits.maxMessageBytes;
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
      const config = { endpoint: channel.endpoint, token, dumpPath, maxMessageBytes, notAfter };
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
    const life = attachedLife(greeting.pid, channel, dir, dumpPath);
    const link = Connection.adopt(life, channel, peer, greeting, messages, { maxMessageBytes, closeGraceMs: options.closeGraceMs });
    return { link, mainIdent: info.mainIdent };
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

/**
 * pythonia's process is pythonia's child, never signalled by pyleash: it is watched (every WATCH_MS, every 20 ms once
 * asked to detach), its end is the agent's death, and forcing it away only lets go of it.
 */
function attachedLife(pid: number, channel: Channel, dir: string, dumpPath: string): AgentLife {
  let letGo!: () => void;
  const gone = new Promise<void>((resolve) => (letGo = resolve));
  let over = false;
  let asked = false;
  let onDeath: ((error: PyleashError) => void) | undefined;
  void gone.then(() => (over = true));
  const watch = setInterval(() => {
    if (isRunning(pid)) return;
    letGo();
    if (!asked) onDeath?.(new WorkerCrashedError(null, null, "", "is gone (pythonia's Python process)"));
  }, WATCH_MS).unref();
  const release = async (): Promise<void> => {
    clearInterval(watch);
    letGo();
    await channel.close();
    await rm(dir, { recursive: true, force: true });
  };
  return {
    get alive() {
      return isRunning(pid);
    },
    gone,
    onDeath(listener) {
      onDeath = (error) => {
        listener(error);
        void release();
      };
    },
    askedToExit(answered) {
      asked = true;
      answered.then(letGo, () => {});
      // pythonia's process may be ending (python.exit()): its end settles the close too, not the next liveness tick.
      void (async () => {
        while (!over && isRunning(pid)) await delay(20);
        letGo();
      })();
    },
    kill: () => letGo(),
    dumpThreads: (timeoutMs) => dumpThreads(pid, dumpPath, timeoutMs),
    release,
  };
}

/**
 * Every thread's stack as faulthandler writes it from its C signal handler, which needs no GIL: SIGUSR1 to
 * pythonia's process, then what the dump file gained, once it stops growing.
 */
async function dumpThreads(pid: number, dumpPath: string, timeoutMs: number): Promise<string> {
  if (!isRunning(pid)) return "";
  const start = await stat(dumpPath).then(
    (s) => s.size,
    () => 0,
  );
  try {
    process.kill(pid, DUMP_SIGNAL);
  } catch {
    return "";
  }
  const until = performance.now() + timeoutMs;
  let size = start;
  let steadySince = performance.now();
  while (performance.now() < until) {
    await delay(10);
    const now = await stat(dumpPath).then(
      (s) => s.size,
      () => start,
    );
    if (now !== size) {
      size = now;
      steadySince = performance.now();
    } else if (size > start && performance.now() - steadySince >= 30) {
      break; // faulthandler writes the whole dump at once; a pause ends it
    }
  }
  if (size <= start) return "";
  const file = await open(dumpPath, "r");
  try {
    const buffer = Buffer.alloc(size - start);
    await file.read(buffer, 0, buffer.length, start);
    return buffer.toString("utf8");
  } finally {
    await file.close();
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
