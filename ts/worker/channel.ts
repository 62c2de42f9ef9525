/**
 * The controller's ROUTER socket: binds privately, queues sends (zeromq.js allows one at a time). Frames that
 * queue up behind a send leave together, as one message of several frames (each still one request): a
 * burst of calls costs a few socket sends instead of one each, while a lone request leaves at once.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Router } from "zeromq";

import type { EndpointKind } from "./options.js";

/** Bounds on one message of queued frames: the agent handles its frames one after another. */
const MAX_FRAMES = 256;
const MAX_BYTES = 1 << 20;

export class Channel {
  readonly endpoint: string;
  readonly #router: Router;
  readonly #dir: string | undefined;
  readonly #queue: Array<[peer: Buffer, frame: Buffer]> = [];
  #busy = false;
  #closed = false;

  private constructor(router: Router, endpoint: string, dir: string | undefined) {
    this.#router = router;
    this.endpoint = endpoint;
    this.#dir = dir;
  }

  /** ipc: a socket in a fresh 0700 directory, so only this user can connect; tcp: loopback, random port. */
  static async bind(kind: EndpointKind): Promise<Channel> {
    // No send high-water mark: past libzmq's default 1 000 queued messages a ROUTER drops silently.
    const router = new Router({ linger: 0, mandatory: false, sendHighWaterMark: 0 });
    if (kind === "tcp") {
      await router.bind("tcp://127.0.0.1:*");
      return new Channel(router, router.lastEndpoint ?? "", undefined);
    }
    const dir = await mkdtemp(join(tmpdir(), "pyleash-")); // mkdtemp makes it 0700
    const endpoint = `ipc://${join(dir, "agent.sock")}`;
    try {
      await router.bind(endpoint);
    } catch (error) {
      router.close();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return new Channel(router, endpoint, dir);
  }

  /** Send `[peer, frame]`; never throws EBUSY: a send behind another waits its turn. */
  send(peer: Buffer, frame: Buffer): void {
    if (this.#closed) return;
    if (this.#busy) {
      this.#queue.push([peer, frame]);
      return;
    }
    this.#busy = true;
    this.#router.send([peer, frame]).then(this.#next, this.#failed);
  }

  readonly #next = (): void => {
    const queue = this.#queue;
    if (queue.length === 0 || this.#closed) {
      this.#busy = false;
      return;
    }
    const peer = queue[0]![0];
    const message = [peer];
    let n = 0;
    let bytes = 0;
    while (n < queue.length && n < MAX_FRAMES && bytes < MAX_BYTES && queue[n]![0] === peer) {
      message.push(queue[n]![1]);
      bytes += queue[n]![1].length;
      n++;
    }
    queue.splice(0, n);
    this.#router.send(message).then(this.#next, this.#failed);
  };

  readonly #failed = (): void => {
    // A send fails only once the socket is closing; what is queued has nowhere to go.
    this.#queue.length = 0;
    this.#busy = false;
  };

  /** `[peer, ...frames]` for each incoming message; ends when the channel closes. */
  async *messages(): AsyncGenerator<Buffer[]> {
    try {
      for await (const message of this.#router) yield message;
    } catch (error) {
      if (!this.#closed) throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#router.close();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}
