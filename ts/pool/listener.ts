/**
 * A listening pool's door: one CURVE ROUTER on tcp that remote agents (`python -m pyleash serve`) connect to.
 * libzmq asks our ZAP handler about each new peer's key before it may send or receive a message; allowed agents
 * say hello and become pool workers through the same Connection and Worker as spawned ones, with a remote life:
 * the controller pings each one and declares it lost when nothing came from it for `lostAfterMs`.
 * An agent run by `serve`'s supervisor (py/pyleash/supervisor.py) names it in its hello; the supervisor has a link of
 * its own on the same socket, by which it reports its child's end and takes the order to recycle a frozen child.
 */
import { Reply } from "zeromq";
import { InvalidArgumentError, type PyleashError, WorkerCrashedError, WorkerLostError } from "../errors.js";
import { CONTRACT, type Hello, PROTOCOL_VERSION } from "../protocol.js";
import { describe } from "../util/validate.js";
import { Connection } from "../worker/connection.js";
import type { AgentLife } from "../worker/life.js";
import { Channel } from "../worker/channel.js";
import { encode } from "../worker/framing.js";
import { tryDecode } from "../worker/handshake.js";
import type { ResolvedWorkerOptions } from "../worker/options.js";
import { Worker } from "../worker/worker.js";

export interface ListenOptions {
  /** Where to listen, e.g. "tcp://0.0.0.0:7000" or "tcp://127.0.0.1:0" (any free port: see `pool.endpoint`). */
  bind: string;
  /** The controller's CURVE key pair (z85, 40 characters each), e.g. from `pyleash keys`. */
  curve: { publicKey: string; secretKey: string };
  /** The agents' CURVE public keys that may join; any other is refused before a single message. @default any key */
  allow?: string[];
  /** How often the controller pings a quiet agent (and libzmq sends ZMTP PINGs). @default 1000 */
  heartbeatMs?: number;
  /** Nothing heard from an agent this long: it is lost, its work rejects with WorkerLostError. @default 5000 */
  lostAfterMs?: number;
}

/** @internal */
export interface ResolvedListen {
  bind: string;
  curve: { publicKey: string; secretKey: string };
  allow: Set<string> | undefined;
  heartbeatMs: number;
  lostAfterMs: number;
}

/** The message types of a serve supervisor's link (py/pyleash/supervisor.py). */
const SUPERVISOR = CONTRACT.supervisor.messages;

const Z85 = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** @internal */
export function resolveListen(options: ListenOptions): ResolvedListen {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`Expected listen options to be an object, got ${describe(options)}`);
  const { bind, curve, allow, heartbeatMs = 1_000, lostAfterMs = 5_000 } = options;
  if (typeof bind !== "string" || !bind.startsWith("tcp://"))
    throw new InvalidArgumentError(`Expected "bind" to be a tcp://HOST:PORT endpoint, got ${describe(bind)}`);
  if (!curve || !Z85.test(curve.publicKey) || !Z85.test(curve.secretKey)) {
    throw new InvalidArgumentError(
      'Expected "curve" to be { publicKey, secretKey }, each a 40-character z85 CURVE key (pyleash keys makes a pair)',
    );
  }
  if (allow !== undefined && (!Array.isArray(allow) || !allow.every((key) => typeof key === "string" && Z85.test(key)))) {
    throw new InvalidArgumentError(`Expected "allow" to be an array of 40-character z85 public keys, got ${describe(allow)}`);
  }
  for (const [name, value] of [
    ["heartbeatMs", heartbeatMs],
    ["lostAfterMs", lostAfterMs],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new InvalidArgumentError(`Expected "${name}" to be a positive integer, got ${describe(value)}`);
  }
  if (lostAfterMs <= heartbeatMs)
    throw new InvalidArgumentError(`Expected "lostAfterMs" (${lostAfterMs}) to exceed "heartbeatMs" (${heartbeatMs})`);
  return { bind, curve, allow: allow && new Set(allow), heartbeatMs, lostAfterMs };
}

/** libzmq takes one ZAP handler per context: it serves every listener, each by its own domain. */
const domains = new Map<string, (key: string) => boolean>();
let zap: Reply | undefined;
let nextDomain = 0;

async function serveZap(): Promise<void> {
  if (zap) return;
  const socket = new Reply({ linger: 0 });
  zap = socket;
  await bindZap(socket);
  void (async () => {
    // ZAP request: version, request id, domain, address, identity, mechanism, then the mechanism's credentials.
    for await (const [version, id, domain, , , mechanism, key] of socket) {
      const check = domains.get(domain?.toString() ?? "");
      const ok = check !== undefined && mechanism?.toString() === "CURVE" && key !== undefined && check(z85(key));
      await socket.send([version ?? "1.0", id ?? "", ok ? "200" : "400", ok ? "OK" : "key not allowed", "", ""]);
    }
  })().catch(() => {});
}

/**
 * Binds the ZAP address. A handler closed a moment ago (the last pool closed, a new one opens) may still hold it
 * until libzmq's I/O thread lets go, so "Address already in use" is tried again for up to ZAP_REBIND_MS.
 */
async function bindZap(socket: Reply): Promise<void> {
  const until = Date.now() + ZAP_REBIND_MS;
  for (;;) {
    try {
      await socket.bind("inproc://zeromq.zap.01");
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== "EADDRINUSE" || Date.now() >= until) {
        if (zap === socket) zap = undefined;
        socket.close();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
const ZAP_REBIND_MS = 2_000;

function stopZap(): void {
  zap?.close();
  zap = undefined;
}

const Z85_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** The z85 text of a 32-byte key (ZAP hands over raw bytes). */
function z85(raw: Buffer): string {
  let out = "";
  for (let i = 0; i + 4 <= raw.length; i += 4) {
    let value = raw.readUInt32BE(i);
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85_CHARS[value % 85]!);
      value = Math.floor(value / 85);
    }
    out += chunk.join("");
  }
  return out;
}

/** A serve supervisor's link: where to send it a recycle order, and when it last said it was there. */
interface Supervisor {
  routing: Buffer;
  lastSeen: number;
}

/** What a peer asks of its listener. */
interface PeerHooks {
  /** Ask the peer's supervisor to kill and restart it; false when it has none that is alive. */
  recycle(peer: Peer): boolean;
  supervised(peer: Peer): boolean;
  forget(): void;
}

/** One joined agent: its messages, when it was last heard from, and its life. */
class Peer {
  lastSeen = Date.now();
  connection: Connection | undefined;
  /** Its supervisor's id (the hello's `supervisor`), if `serve` runs it under one. */
  readonly supervisor: string | undefined;
  /** A recycle order went to its supervisor: its end is the supervisor's `exited` (or, failing that, a timeout). */
  recycling: NodeJS.Timeout | undefined;
  /** What its launcher calls it (hello's `tag`; a Ray agent's is its actor's name). */
  tag: string | undefined;
  /** A ping of `probe` is on its way. */
  probing = false;
  readonly #queue: Buffer[][] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #dead = false;
  #onDeath: ((error: PyleashError) => void) | undefined;
  #resolveGone!: () => void;
  readonly gone = new Promise<void>((resolve) => (this.#resolveGone = resolve));

  constructor(supervisor: string | undefined) {
    this.supervisor = supervisor;
  }

  push(message: Buffer[]): void {
    this.lastSeen = Date.now();
    this.#queue.push(message);
    this.#wake?.();
  }

  async *messages(): AsyncGenerator<Buffer[]> {
    while (!this.#ended) {
      const next = this.#queue.shift();
      if (next) yield next;
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  end(): void {
    clearTimeout(this.recycling);
    this.#ended = true;
    this.#resolveGone();
    this.#wake?.();
  }

  die(error: PyleashError): void {
    if (this.#dead) return;
    this.#dead = true;
    this.end();
    this.#onDeath?.(error);
  }

  life(hooks: PeerHooks): AgentLife {
    const peer = this;
    return {
      get alive() {
        return !peer.#ended;
      },
      get recyclable() {
        return hooks.supervised(peer);
      },
      gone: this.gone,
      onDeath: (listener) => (this.#onDeath = listener),
      askedToExit: () => this.end(), // it exits on shutdown; nothing here to wait for
      // Its supervisor kills it (SIGKILL: whatever holds the GIL) and starts a fresh agent, which joins anew.
      kill: () => {
        if (this.#ended || this.recycling) return; // a recycle order is out: its `exited` (or a timeout) ends it
        if (!hooks.recycle(this)) this.end();
      },
      dumpThreads: () => Promise.resolve("(no thread dump: the agent runs on another host)"),
      release: async () => hooks.forget(),
    };
  }
}

export class Listener {
  readonly #channel: Channel;
  readonly #options: ResolvedListen;
  readonly #worker: ResolvedWorkerOptions;
  readonly #domain: string;
  readonly #peers = new Map<string, Peer>();
  /** Peers lost or closed: whatever they still send is dropped. */
  readonly #gone = new Set<string>();
  /** Serve supervisors by id, and their ids by routing id. */
  readonly #supervisors = new Map<string, Supervisor>();
  readonly #supervisorIds = new Map<string, string>();
  /**
   * Lost agents whose supervisor had not spoken since they fell silent, by supervisor id: the recycle order goes when
   * it next does (frozen, not cut off), or is dropped once the supervisor is forgotten.
   */
  readonly #toRecycle = new Map<string, Peer[]>();
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  private constructor(
    channel: Channel,
    options: ResolvedListen,
    worker: ResolvedWorkerOptions,
    domain: string,
    join: (worker: Worker) => void,
  ) {
    this.#channel = channel;
    this.#options = options;
    this.#worker = worker;
    this.#domain = domain;
    this.#timer = setInterval(() => this.#beat(), options.heartbeatMs);
    void this.#accept(join);
  }

  static async open(options: ResolvedListen, worker: ResolvedWorkerOptions, join: (worker: Worker) => void): Promise<Listener> {
    await serveZap();
    const domain = `pyleash-${process.pid}-${++nextDomain}`;
    const allow = options.allow;
    domains.set(domain, (key) => allow === undefined || allow.has(key));
    try {
      const channel = await Channel.listen(
        options.bind,
        {
          curveServer: true,
          curvePublicKey: options.curve.publicKey,
          curveSecretKey: options.curve.secretKey,
          zapDomain: domain,
          heartbeatInterval: options.heartbeatMs,
          heartbeatTimeout: options.lostAfterMs,
          heartbeatTimeToLive: options.lostAfterMs,
        },
        worker.maxMessageBytes,
      );
      return new Listener(channel, options, worker, domain, join);
    } catch (error) {
      domains.delete(domain);
      if (domains.size === 0) stopZap();
      throw error;
    }
  }

  /** The bound endpoint, with its real port. */
  get endpoint(): string {
    return this.#channel.endpoint;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const peer of this.#peers.values()) peer.end();
    domains.delete(this.#domain);
    if (domains.size === 0) stopZap(); // an open socket would keep the process alive after the last pool closed
    await this.#channel.close();
  }

  async #accept(join: (worker: Worker) => void): Promise<void> {
    for await (const message of this.#channel.messages()) {
      const [id, frame] = message;
      if (!id || !frame) continue;
      const key = id.toString("hex");
      const supervisor = this.#supervisorIds.get(key);
      if (supervisor !== undefined) {
        this.#fromSupervisor(supervisor, frame);
        continue;
      }
      const known = this.#peers.get(key);
      if (known) {
        known.push(message);
        continue;
      }
      if (this.#gone.has(key)) continue;
      const hello = tryDecode(frame) as (Omit<Partial<Hello>, "type"> & { type?: string; id?: unknown; supervisor?: unknown }) | undefined;
      if (hello?.type === SUPERVISOR.hello && hello.protocol === PROTOCOL_VERSION && typeof hello.id === "string") {
        this.#supervisorIds.set(key, hello.id);
        this.#supervisors.set(hello.id, { routing: id, lastSeen: Date.now() });
        this.#recycleWaiting(hello.id); // its link came back: a child lost meanwhile is still to be replaced
        continue;
      }
      if (hello?.type !== "hello" || hello.protocol !== PROTOCOL_VERSION || typeof hello.pid !== "number") continue;
      const peer = new Peer(typeof hello.supervisor === "string" ? hello.supervisor : undefined);
      const tag = (hello as { tag?: unknown }).tag;
      if (typeof tag === "string") peer.tag = tag;
      this.#peers.set(key, peer);
      const hooks: PeerHooks = {
        recycle: (p) => this.#recycle(p),
        supervised: (p) => this.#supervisorOf(p) !== undefined,
        forget: () => {
          this.#peers.delete(key);
          this.#gone.add(key);
        },
      };
      peer.connection = Connection.adopt(peer.life(hooks), this.#channel, id, hello as Hello, peer.messages(), this.#worker);
      join(Worker.adopt(peer.connection, this.#worker));
    }
  }

  /** The peer's supervisor, if it has one that was heard from within `withinMs`. */
  #supervisorOf(peer: Peer, withinMs = this.#options.lostAfterMs): Supervisor | undefined {
    const supervisor = peer.supervisor === undefined ? undefined : this.#supervisors.get(peer.supervisor);
    return supervisor && Date.now() - supervisor.lastSeen <= withinMs ? supervisor : undefined;
  }

  /** Order the peer's supervisor to kill and restart it; its `exited` (or lostAfterMs) ends the peer. */
  #recycle(peer: Peer, withinMs?: number): boolean {
    const supervisor = this.#supervisorOf(peer, withinMs);
    const pid = peer.connection?.pid;
    if (!supervisor || pid === undefined) return false;
    this.#channel.send(supervisor.routing, encode({ type: SUPERVISOR.recycle, pid }));
    peer.recycling ??= setTimeout(() => peer.end(), this.#options.lostAfterMs);
    return true;
  }

  /**
   * A peer just declared lost: have its supervisor replace it if the supervisor has spoken since the peer fell silent
   * (frozen, not cut off); if it has not yet (it speaks once a heartbeat, on its own clock), when it next does.
   */
  #recycleLost(peer: Peer): void {
    const supervisor = peer.supervisor === undefined ? undefined : this.#supervisors.get(peer.supervisor);
    if (!supervisor || peer.supervisor === undefined) return;
    if (supervisor.lastSeen >= peer.lastSeen) this.#recycle(peer, Number.POSITIVE_INFINITY);
    else this.#toRecycle.set(peer.supervisor, [...(this.#toRecycle.get(peer.supervisor) ?? []), peer]);
  }

  /** The supervisor `id` just spoke: the recycle orders waiting for it go. */
  #recycleWaiting(id: string): void {
    const waiting = this.#toRecycle.get(id);
    if (!waiting) return;
    this.#toRecycle.delete(id);
    for (const peer of waiting) this.#recycle(peer);
  }

  /** A supervisor's keepalive, or the end of its child: a crash fails the child's work with WorkerCrashedError. */
  #fromSupervisor(id: string, frame: Buffer): void {
    const supervisor = this.#supervisors.get(id);
    if (supervisor) supervisor.lastSeen = Date.now();
    this.#recycleWaiting(id);
    const message = tryDecode(frame) as { type?: unknown; pid?: unknown; code?: unknown; signal?: unknown } | undefined;
    if (message?.type !== SUPERVISOR.exited) return;
    for (const [key, peer] of this.#peers) {
      const connection = peer.connection;
      if (peer.supervisor !== id || !connection || connection.pid !== message.pid) continue;
      this.#peers.delete(key);
      this.#gone.add(key);
      if (peer.recycling) peer.end();
      else {
        const code = typeof message.code === "number" ? message.code : null;
        const signal = typeof message.signal === "string" ? (message.signal as NodeJS.Signals) : null;
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        peer.die(
          new WorkerCrashedError(code, signal, "", `${connection.pid} on ${connection.host} ${how} (its supervisor starts a new one)`),
        );
      }
    }
  }

  /**
   * Something outside the link (Ray reporting an actor's death) says an agent is gone — the one whose hello gave
   * `tag`, or else `pid` on `host`: its work rejects with `error` now rather than after lostAfterMs of silence.
   * False when no such agent is joined.
   */
  drop(which: { tag?: string; host?: string; pid?: number }, error: PyleashError): boolean {
    for (const [key, peer] of this.#peers) {
      const byTag = which.tag !== undefined && peer.tag === which.tag;
      const byPid = which.pid !== undefined && peer.connection?.host === which.host && peer.connection?.pid === which.pid;
      if (!byTag && !byPid) continue;
      this.#peers.delete(key);
      this.#gone.add(key);
      peer.die(error);
      return true;
    }
    return false;
  }

  /** Ping the agents whose hello gave `tag` (once at a time each); drop, with `error()`, those silent for `timeoutMs`. */
  probe(tag: string, timeoutMs: number, error: () => PyleashError): void {
    for (const peer of this.#peers.values()) {
      const connection = peer.connection;
      if (peer.tag !== tag || !connection || peer.probing) continue;
      peer.probing = true;
      void connection.responsive(timeoutMs).then((answered) => {
        peer.probing = false;
        if (!answered && !this.#closed) this.drop({ tag }, error());
      });
    }
  }

  /** Ping the quiet agents; declare lost those silent past lostAfterMs (and have a live supervisor replace them). */
  #beat(): void {
    const now = Date.now();
    for (const [id, supervisor] of this.#supervisors) {
      if (now - supervisor.lastSeen > 2 * this.#options.lostAfterMs) {
        this.#supervisors.delete(id);
        this.#supervisorIds.delete(supervisor.routing.toString("hex"));
        this.#toRecycle.delete(id);
      }
    }
    for (const [key, peer] of this.#peers) {
      const silent = now - peer.lastSeen;
      const connection = peer.connection;
      if (!connection) continue;
      if (silent > this.#options.lostAfterMs) {
        this.#peers.delete(key);
        this.#gone.add(key);
        peer.die(new WorkerLostError(connection.host, connection.pid, peer.lastSeen, silent));
        this.#recycleLost(peer); // frozen, not cut off: its supervisor kills it and a fresh agent joins
      } else if (silent >= this.#options.heartbeatMs) {
        void connection.responsive(this.#options.lostAfterMs);
      }
    }
  }
}
