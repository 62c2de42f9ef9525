/**
 * The controller's ROUTER socket: binds privately, queues sends (zeromq.js allows one at a time). Requests that
 * queue up behind a send leave together, as one message of several frames (each request its JSON frame and the
 * binary frames after it): a burst of calls costs a few socket sends instead of one each, while a lone request
 * leaves at once. A burst leaves in parts of {@link EAGER_REQUESTS} as it is made, so the agent works on its
 * first calls while the rest are still being encoded.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Router } from "zeromq";

import { CONTRACT } from "../protocol.js";
import type { EndpointKind } from "./options.js";

/**
 * Bounds on one message of queued requests: the agent handles them one after another. A request past the byte
 * bound leaves alone, so no message is larger than its largest request (the agent drops any over its limit).
 */
const MAX_FRAMES = 256;
const MAX_BYTES = 1 << 20;
/**
 * This many requests queued behind a send leave without waiting for it: a burst made in one tick of the event loop
 * would otherwise leave only once the tick ends, the agent idle until then. Measured with windows of 256 pipelined
 * calls: 32 and 64 send ~10% more calls a second than waiting; 16 costs Node more CPU in socket sends than it saves.
 */
const EAGER_REQUESTS = 64;

/** The key of {@link Pumpable}'s method. */
export const PUMP: unique symbol = Symbol("pyleash.pump");
/**
 * A message source that can hand each message straight to a callback (`[PUMP](each)`), saving the promise hop and
 * the result object per message of a `for await` loop; resolves when the source ends, rejects as the loop would.
 * Only the last reader of a source may pump it (it reads until the end).
 */
export interface Pumpable {
  [PUMP](each: (message: Buffer[]) => void): Promise<void>;
}

/** ipc directories are named for the controller's pid, so a later controller can tell whose are orphans. */
const DIR_PREFIX = "pyleash-";
let sweeping: Promise<void> | undefined;

/**
 * Remove the ipc directories of controllers that died without closing (SIGKILL leaves them: the agent dies by
 * PR_SET_PDEATHSIG at once, so neither side could clean up). Only this user's, only those of dead pids.
 */
async function sweepStaleDirs(): Promise<void> {
  const root = tmpdir();
  const names = await readdir(root).catch(() => [] as string[]);
  await Promise.all(
    names.map(async (name) => {
      const pid = Number(new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name)?.[1]);
      if (!pid || pid === process.pid || isRunning(pid)) return;
      const path = join(root, name);
      const info = await stat(path).catch(() => undefined);
      if (info?.isDirectory() && info.uid === process.getuid?.()) await rm(path, { recursive: true, force: true }).catch(() => {});
    }),
  );
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, someone else's
  }
}

export class Channel {
  readonly endpoint: string;
  readonly #router: Router;
  readonly #dir: string | undefined;
  readonly #queue: Array<[peer: Buffer, frames: Buffer[], bytes: number]> = [];
  readonly #maxBytes: number;
  #inFlight = 0; // sends whose promise has not settled
  #refused = false; // an eager send was refused (EBUSY) since the last send completed
  #closed = false;

  private constructor(router: Router, endpoint: string, dir: string | undefined, maxMessageBytes: number) {
    this.#router = router;
    this.#maxBytes = Math.min(MAX_BYTES, maxMessageBytes);
    this.endpoint = endpoint;
    this.#dir = dir;
  }

  /**
   * ipc: a socket in a fresh 0700 directory, so only this user can connect; tcp: loopback, random port.
   * `maxMessageBytes`: the agent's limit, which queued requests leaving together must stay within.
   */
  static async bind(kind: EndpointKind, maxMessageBytes: number = CONTRACT.limits.maxMessageBytes): Promise<Channel> {
    // No send high-water mark: past libzmq's default 1 000 queued messages a ROUTER drops silently.
    const router = new Router({ linger: 0, mandatory: false, sendHighWaterMark: 0 });
    if (kind === "tcp") {
      await router.bind("tcp://127.0.0.1:*");
      return new Channel(router, router.lastEndpoint ?? "", undefined, maxMessageBytes);
    }
    sweeping ??= sweepStaleDirs();
    await sweeping;
    const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`)); // mkdtemp makes it 0700
    const endpoint = `ipc://${join(dir, "agent.sock")}`;
    try {
      await router.bind(endpoint);
    } catch (error) {
      router.close();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return new Channel(router, endpoint, dir, maxMessageBytes);
  }

  /**
   * A listening pool's channel: one ROUTER bound where asked (any interface), shared by every remote agent;
   * `socketOptions` carry CURVE, the ZAP domain and heartbeats (ts/pool/listener.ts).
   */
  static async listen(bind: string, socketOptions: ConstructorParameters<typeof Router>[0], maxMessageBytes: number): Promise<Channel> {
    const router = new Router({ ...socketOptions, linger: 0, mandatory: false, sendHighWaterMark: 0 });
    try {
      await router.bind(bind);
    } catch (error) {
      router.close();
      throw error;
    }
    return new Channel(router, router.lastEndpoint ?? bind, undefined, maxMessageBytes);
  }

  /** Send `[peer, ...frames]` (one request); never throws EBUSY: a send behind another waits its turn. */
  send(peer: Buffer, frames: Buffer[]): void {
    if (this.#closed) return;
    const queue = this.#queue;
    if (this.#inFlight === 0 && queue.length === 0) {
      this.#dispatch([peer, ...frames]);
      return;
    }
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    queue.push([peer, frames, bytes]);
    if (queue.length >= EAGER_REQUESTS && !this.#refused) this.#sendQueued(true);
  }

  #dispatch(message: Buffer[]): void {
    this.#inFlight++;
    this.#router.send(message).then(this.#sent, this.#failed);
  }

  readonly #sent = (): void => {
    this.#refused = false;
    if (--this.#inFlight === 0 && this.#queue.length > 0 && !this.#closed) this.#sendQueued(false);
  };

  /**
   * Send the queue's first requests (those for one peer, within the bounds) as one message. `eager`: while an
   * earlier send may still be outstanding. zeromq.js sends at once while the socket takes messages and refuses
   * (EBUSY) while an earlier send waits; refused, the requests stay queued for that send's completion.
   */
  #sendQueued(eager: boolean): void {
    const queue = this.#queue;
    const peer = queue[0]![0];
    const message = [peer];
    let n = 0;
    let bytes = 0;
    while (
      n < queue.length &&
      message.length <= MAX_FRAMES &&
      queue[n]![0] === peer &&
      (n === 0 || bytes + queue[n]![2] <= this.#maxBytes)
    ) {
      message.push(...queue[n]![1]);
      bytes += queue[n]![2];
      n++;
    }
    try {
      this.#dispatch(message);
    } catch (error) {
      this.#inFlight--;
      // With no send outstanding zeromq.js never refuses: only an eager send may stay queued.
      if (!eager || (error as NodeJS.ErrnoException).code !== "EBUSY") throw error;
      this.#refused = true; // until that send completes: no use asking again for each request
      return;
    }
    queue.splice(0, n);
  }

  readonly #failed = (): void => {
    // A send fails only once the socket is closing; what is queued has nowhere to go.
    this.#queue.length = 0;
    this.#inFlight--;
  };

  /**
   * `[peer, ...frames]` for each incoming message; ends when the channel closes. Written by hand over
   * `router.receive()`: an async generator over the router's own async iterator costs two more promise hops per
   * message than this one `.then`. The iterator also has `[PUMP]`, which its last reader may call instead of
   * iterating: see {@link Pumpable}.
   */
  messages(): AsyncGenerator<Buffer[]> & Pumpable {
    const router = this.#router;
    let done = false;
    const end = (): IteratorResult<Buffer[]> => {
      done = true;
      return { value: undefined, done: true };
    };
    const got = (value: Buffer[]): IteratorResult<Buffer[]> => ({ value, done: false });
    // As the router's iterator does: a receive cut short by the close ends the iteration; anything else is an error.
    const cutShort = (): boolean => this.#closed || router.closed;
    const failed = (error: unknown): IteratorResult<Buffer[]> => {
      if (cutShort()) return end();
      done = true;
      throw error;
    };
    const pump = (each: (message: Buffer[]) => void): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const stop = (error?: unknown): void => {
          done = true;
          if (error === undefined || cutShort()) resolve();
          else reject(error);
        };
        const receive = (): void => {
          if (done || router.closed) {
            stop();
            return;
          }
          try {
            router.receive().then(deliver, stop);
          } catch (error) {
            stop(error);
          }
        };
        const deliver = (message: Buffer[]): void => {
          try {
            each(message);
          } catch (error) {
            done = true;
            reject(error); // as a for-await loop whose body throws: the loop ends with the error
            return;
          }
          receive();
        };
        receive();
      });
    const iterator: AsyncGenerator<Buffer[]> & Pumpable = {
      next: () => (done || router.closed ? Promise.resolve(end()) : router.receive().then(got, failed)),
      return: () => Promise.resolve(end()),
      throw: (error: unknown) => {
        done = true;
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]: () => iterator,
      [Symbol.asyncDispose]: async () => {
        done = true;
      },
      [PUMP]: pump,
    };
    return iterator;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#router.close();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}
