/**
 * `Pool.start({ launcher: { kind: "ray", … } })`: a small Ray driver (py/pyleash/ray_driver.py) places one agent in
 * each of `workers` Ray actors; the agents join the pool's CURVE listener like any remote agent (docs/ray.md). The
 * driver is tied to the controller by the same lifeline as a local agent (fd 3) and reports actor deaths on fd 4.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { delimiter, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { InvalidArgumentError, WorkerStartError } from "../errors.js";
import { describe, knownKeys, optionKeys } from "../util/validate.js";
import { AGENT_PYTHONPATH, exited, killGroup } from "../worker/agent-process.js";
import type { ResolvedWorkerOptions } from "../worker/options.js";

export interface RayLauncher {
  kind: "ray";
  /** How many Ray actors to create, one pyleash agent in each. */
  workers: number;
  /**
   * The Ray cluster, as `ray.init(address=…)` takes it: "auto", "HOST:6379", "ray://HOST:10001".
   * @default none: the driver starts a small single-node Ray of its own on loopback and stops it at close
   */
  address?: string;
  /** CPUs each actor reserves in Ray's scheduler. @default 1 */
  numCpus?: number;
  /** GPUs each actor reserves. @default 0 */
  numGpus?: number;
  /** Custom Ray resources each actor reserves, e.g. `{ "accelerator_type:A100": 0.01 }`. @default none */
  resources?: Record<string, number>;
  /** How many times Ray restarts a dead actor (its new agent joins the pool). @default 3 */
  maxRestarts?: number;
  /** The interpreter that runs the driver: it needs `ray` importable. @default the pool's `python` */
  python?: string;
  /** Where the controller listens for the agents. A real cluster needs an address its nodes reach. @default "tcp://127.0.0.1:0" */
  bind?: string;
  /** The host the agents dial, when `bind`'s host is not it (e.g. bind "tcp://0.0.0.0:7000"). @default bind's host */
  advertise?: string;
  /** More of Ray's runtime_env for the actors (pip, env_vars, …); the agent package is added to its py_modules. @default {} */
  runtimeEnv?: Record<string, unknown>;
  /** How long Pool.start waits for every agent to join (Ray starts slowly on small machines). @default 120000 */
  startTimeoutMs?: number;
  /** How often the controller pings a quiet agent. @default 1000 */
  heartbeatMs?: number;
  /** An agent silent this long is lost (an actor whose death Ray reports is dropped at once). @default 5000 */
  lostAfterMs?: number;
}

/** @internal */
export type ResolvedRayLauncher = Required<Omit<RayLauncher, "address" | "python" | "advertise">> & {
  address: string | undefined;
  python: string | undefined;
  advertise: string | undefined;
};

const RAY_KEYS = optionKeys<RayLauncher>({
  kind: true,
  workers: true,
  address: true,
  numCpus: true,
  numGpus: true,
  resources: true,
  maxRestarts: true,
  python: true,
  bind: true,
  advertise: true,
  runtimeEnv: true,
  startTimeoutMs: true,
  heartbeatMs: true,
  lostAfterMs: true,
});

/** @internal */
export const RAY_DEFAULTS = {
  numCpus: 1,
  numGpus: 0,
  maxRestarts: 3,
  bind: "tcp://127.0.0.1:0",
  startTimeoutMs: 120_000,
  heartbeatMs: 1_000,
  lostAfterMs: 5_000,
} as const;

/** @internal */
export function resolveRayLauncher(launcher: unknown): ResolvedRayLauncher {
  if (launcher === null || typeof launcher !== "object" || Array.isArray(launcher)) {
    throw new InvalidArgumentError(`Expected "launcher" to be an object { kind: "ray", workers, … }, got ${describe(launcher)}`);
  }
  const given = launcher as Partial<RayLauncher>;
  if (given.kind !== "ray") throw new InvalidArgumentError(`Expected "launcher.kind" to be "ray", got ${describe(given.kind)}`);
  knownKeys("ray launcher option", given, RAY_KEYS);
  const out = { ...RAY_DEFAULTS, resources: {}, runtimeEnv: {}, ...stripped(given) } as ResolvedRayLauncher;
  const integer = (name: string, value: unknown, min: number): void => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      throw new InvalidArgumentError(`Expected "launcher.${name}" to be an integer >= ${min}, got ${describe(value)}`);
    }
  };
  integer("workers", out.workers, 1);
  integer("maxRestarts", out.maxRestarts, 0);
  integer("startTimeoutMs", out.startTimeoutMs, 1);
  integer("heartbeatMs", out.heartbeatMs, 1);
  integer("lostAfterMs", out.lostAfterMs, 1);
  for (const name of ["numCpus", "numGpus"] as const) {
    const value = out[name];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError(`Expected "launcher.${name}" to be a non-negative number, got ${describe(value)}`);
    }
  }
  const isRecord = (value: unknown): value is Record<string, unknown> =>
    value !== null && typeof value === "object" && !Array.isArray(value);
  if (!isRecord(out.resources) || !Object.values(out.resources).every((v) => typeof v === "number" && Number.isFinite(v) && v >= 0)) {
    throw new InvalidArgumentError(
      `Expected "launcher.resources" to map resource names to non-negative numbers, got ${describe(out.resources)}`,
    );
  }
  if (!isRecord(out.runtimeEnv))
    throw new InvalidArgumentError(`Expected "launcher.runtimeEnv" to be a plain object, got ${describe(out.runtimeEnv)}`);
  for (const name of ["address", "python", "advertise"] as const) {
    const value = out[name];
    if (value !== undefined && (typeof value !== "string" || value === "")) {
      throw new InvalidArgumentError(`Expected "launcher.${name}" to be a non-empty string, got ${describe(value)}`);
    }
  }
  if (typeof out.bind !== "string" || !/^tcp:\/\/.+:\d+$/.test(out.bind)) {
    throw new InvalidArgumentError(`Expected "launcher.bind" to be a tcp://HOST:PORT endpoint, got ${describe(out.bind)}`);
  }
  if (out.lostAfterMs <= out.heartbeatMs) {
    throw new InvalidArgumentError(
      `Expected "launcher.lostAfterMs" (${out.lostAfterMs}) to exceed "launcher.heartbeatMs" (${out.heartbeatMs})`,
    );
  }
  return out;
}

function stripped(value: object): object {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** The endpoint the agents dial: the bound one, with `advertise` as its host when given. */
export function agentEndpoint(bound: string, advertise: string | undefined): string {
  if (advertise === undefined) return bound;
  const port = /:(\d+)$/.exec(bound)?.[1];
  return `tcp://${advertise.includes(":") && !advertise.startsWith("[") ? `[${advertise}]` : advertise}:${port}`;
}

/** What the driver says on fd 4, one JSON line each. */
export type DriverEvent =
  | { event: "ready"; ray: string; address: string; actors: number }
  | { event: "agent"; actor: number; pid: number; host: string; actorPid: number }
  | { event: "died"; actor: number; tag: string; pid: number | null; host: string | null; restarting: boolean; reason: string }
  | { event: "exited"; actor: number; status: number }
  | { event: "gone"; actor: number; reason: string }
  | { event: "unavailable"; actor: number; tag: string; reason: string }
  | { event: "failed"; message: string }
  | { event: "error"; actor: number; message: string };

/** What the driver needs besides the launcher's options. */
export interface DriverStart {
  launcher: ResolvedRayLauncher;
  python: string;
  worker: ResolvedWorkerOptions;
  endpoint: string;
  serverKey: string;
  /** The agents' CURVE secret key: written on fd 3 only. */
  secretKey: string;
  onEvent: (event: DriverEvent) => void;
}

const STDERR_TAIL_BYTES = 8192;
const CLOSE_GRACE_MS = 20_000;
/** A local Ray's object store: Ray's floor is 75 MiB; pyleash moves nothing through it. */
const LOCAL_OBJECT_STORE_BYTES = 100 * 1024 * 1024;

/** @internal The driver process: started once per pool, closed with it. */
export class RayDriver {
  readonly #child: ChildProcess;
  readonly #lifeline: Writable;
  #stderr = "";
  /** Rejects with a WorkerStartError if the driver fails or exits while the pool needs it; never resolves. */
  readonly failed: Promise<never>;
  /** Actors whose agent's pid the driver has reported (and not since reported dead). */
  readonly #agents = new Set<number>();
  #onAgents: (() => void) | undefined;
  /** What Ray reported when it was up: its version and the cluster's address. */
  ray: { version: string; address: string } | undefined;

  constructor(start: DriverStart) {
    const { launcher, worker } = start;
    const inherited = worker.env?.PYTHONPATH ?? process.env.PYTHONPATH;
    const pythonPath = [AGENT_PYTHONPATH, ...(inherited ? [inherited] : [])].join(delimiter);
    this.#child = spawn(start.python, ["-m", "pyleash.ray_driver"], {
      cwd: worker.cwd,
      env: { ...process.env, ...worker.env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: "1" },
      stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"],
      detached: true, // its own process group: a terminal's Ctrl-C goes to the controller, which closes it
    });
    this.#child.stderr!.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-STDERR_TAIL_BYTES);
    });
    if (worker.output === "forward") {
      this.#child.stdout!.pipe(process.stderr, { end: false });
      this.#child.stderr!.pipe(process.stderr, { end: false });
    } else {
      this.#child.stdout!.resume();
    }
    this.#lifeline = this.#child.stdio[3] as Writable;
    this.#lifeline.on("error", () => {}); // EPIPE once the driver is gone: its exit is reported by `failed`
    let failure: string | undefined;
    const events = createInterface({ input: this.#child.stdio[4] as Readable });
    events.on("line", (line) => {
      let event: DriverEvent;
      try {
        event = JSON.parse(line) as DriverEvent;
      } catch {
        return;
      }
      if (event.event === "failed") failure = event.message;
      if (event.event === "ready") this.ray = { version: event.ray, address: event.address };
      if (event.event === "agent") this.#agents.add(event.actor);
      if (event.event === "died" || event.event === "gone") this.#agents.delete(event.actor);
      this.#onAgents?.();
      start.onEvent(event);
    });
    const spawnError = new Promise<Error>((resolve) => this.#child.once("error", resolve));
    this.failed = Promise.race([
      spawnError.then(
        (error) => new WorkerStartError(`The Ray driver could not start with ${start.python}: ${error.message}`, { cause: error }),
      ),
      exited(this.#child).then(() => {
        const { exitCode, signalCode } = this.#child;
        const how = failure ?? (signalCode ? `was killed by ${signalCode}` : `exited with status ${exitCode}`);
        const tail = this.#stderr.trim().split("\n").slice(-5).join("\n");
        return new WorkerStartError(
          `The Ray driver (${start.python}) ${failure ? "failed: " : ""}${how}${tail && !failure ? `\n${tail}` : ""}`,
        );
      }),
    ]).then((error) => Promise.reject(error));
    this.failed.catch(() => {});
    const local = launcher.address === undefined;
    this.#lifeline.write(
      `${JSON.stringify({
        parentPid: process.pid,
        name: `pyleash-${randomBytes(4).toString("hex")}`,
        address: launcher.address ?? null,
        local: local
          ? { numCpus: Math.max(1, Math.ceil(launcher.workers * launcher.numCpus)), objectStoreBytes: LOCAL_OBJECT_STORE_BYTES }
          : null,
        workers: launcher.workers,
        numCpus: launcher.numCpus,
        numGpus: launcher.numGpus,
        resources: launcher.resources,
        maxRestarts: launcher.maxRestarts,
        runtimeEnv: launcher.runtimeEnv,
        package: join(AGENT_PYTHONPATH, "pyleash"),
        pythonPath: worker.pythonPath ?? [],
        env: worker.env ?? {},
        endpoint: start.endpoint,
        serverKey: start.serverKey,
        secretKey: start.secretKey,
        heartbeatMs: launcher.heartbeatMs,
        logToDriver: worker.output === "forward",
      })}\n`,
    );
  }

  /** Resolves once the driver has reported the agents of `n` actors. */
  agentsKnown(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.#onAgents = () => {
        if (this.#agents.size < n) return;
        this.#onAgents = undefined;
        resolve();
      };
      this.#onAgents();
    });
  }

  /** The driver's pid (its process group holds a local Ray's processes too). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Close the lifeline: the driver kills its actors and shuts Ray down; past a grace period its group is killed. */
  async close(): Promise<void> {
    this.#lifeline.end();
    const gone = exited(this.#child);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), CLOSE_GRACE_MS)));
    if (await Promise.race([gone.then(() => false), late])) killGroup(this.#child, "SIGKILL");
    clearTimeout(timer);
    await gone;
  }
}
