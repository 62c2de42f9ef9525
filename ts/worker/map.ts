/**
 * map: a target over many items. The items go in chunks, one stream per chunk (`pyleash.mapping:chunk` in the
 * agent), so results come back with the stream's credit and an abort stops the chunk running with the stop ladder;
 * a chunk's results arrive in slices (docs/pool.md, map). An item that raises is a result, not the map's end.
 */
import { InvalidArgumentError, PythonError } from "../errors.js";
import type { StopOptions } from "../task/options.js";
import type { StopReport } from "../task/report.js";
import { describe, optionKeys } from "../util/validate.js";
import { type Cutoff, abortedBeforeStart, cutoffError, whenCutOff } from "../util/abort.js";
import { validateWaitOptions } from "./options.js";
import type { Stream } from "./stream.js";

export interface MapOptions {
  /** Items per request; each chunk runs as one stream on one agent. @default items / (4 × chunks in flight), 1 to 1024 */
  chunkSize?: number;
  /** Results in the order of the items; false yields each as it arrives. @default true */
  ordered?: boolean;
  /** Aborting stops the chunks running (the stop ladder), drops the rest; the iteration rejects with an AbortError. */
  signal?: AbortSignal;
  /** After this long (from the first `next()`), the map is stopped as on abort. @default no timeout */
  timeoutMs?: number;
  /** The first item that raises ends the map with its PythonError (the chunks running are stopped). @default false */
  stopOnError?: boolean;
  /** How a chunk running is stopped: the options of `task.stop()`. @default { strategy: "auto" } */
  stop?: StopOptions;
}

/** One item's outcome: its index among the items, and its value or the PythonError it raised. */
export type MapResult<T = unknown> = { index: number; ok: true; value: T } | { index: number; ok: false; error: PythonError };

/** @internal */
export interface ResolvedMap {
  chunkSize: number | undefined;
  ordered: boolean;
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  stopOnError: boolean;
  stop: StopOptions | undefined;
}

const MAP_KEYS = optionKeys<MapOptions>({ chunkSize: true, ordered: true, signal: true, timeoutMs: true, stopOnError: true, stop: true });
/** The most items one chunk gets by default: its request stays small, its results start soon. */
const DEFAULT_CHUNK_MAX = 1024;
/** How many slices of results a chunk may run ahead of the map (each slice holds up to 4096 results). */
export const MAP_HIGH_WATER_MARK = 4;
export const MAP_TARGET = "pyleash.mapping:chunk";

/** @internal Check map's options (an unknown key is refused: a misspelt `ordered` would silently do nothing). */
export function resolveMapOptions(options: MapOptions): ResolvedMap {
  validateWaitOptions(options, MAP_KEYS, "map option");
  const { chunkSize, ordered = true, stopOnError = false, stop } = options;
  if (chunkSize !== undefined && (typeof chunkSize !== "number" || !Number.isSafeInteger(chunkSize) || chunkSize < 1)) {
    throw new InvalidArgumentError(`Expected "chunkSize" to be a positive integer, got ${describe(chunkSize)}`);
  }
  if (typeof ordered !== "boolean") throw new InvalidArgumentError(`Expected "ordered" to be a boolean, got ${describe(ordered)}`);
  if (typeof stopOnError !== "boolean")
    throw new InvalidArgumentError(`Expected "stopOnError" to be a boolean, got ${describe(stopOnError)}`);
  return { chunkSize, ordered, signal: options.signal, timeoutMs: options.timeoutMs, stopOnError, stop };
}

/** @internal The items as an array; a string (iterable, but surely a mistake) and non-iterables are refused. */
export function mapItems(items: unknown): unknown[] {
  if (Array.isArray(items)) return items;
  if (items !== null && typeof items === "object" && typeof (items as Iterable<unknown>)[Symbol.iterator] === "function") {
    return Array.from(items as Iterable<unknown>);
  }
  throw new InvalidArgumentError(`Expected "items" to be an array or an iterable, got ${describe(items)}`);
}

/** @internal Where a chunk runs: a stream on some agent, and what to call once it has ended. */
export interface ChunkRunner {
  /** How many chunks run at once. */
  lanes: number;
  open(items: unknown[]): Promise<{ stream: Stream<Slice>; release?: () => void }>;
}

/** What `pyleash.mapping:chunk` yields: a value per item, and `[offset, type, message, traceback]` per item that raised. */
type Slice = [unknown[], [number, string, string, string][]];

interface Chunk {
  start: number;
  items: unknown[];
  results: MapResult[];
  head: number;
  done: boolean;
  error: unknown;
  stream: Stream<Slice> | undefined;
  pump: Promise<void>;
}

/** The map's results, for `for await`; leaving the loop stops the chunks running. */
export async function* runMap<T>(
  runner: ChunkRunner,
  items: unknown[],
  options: ResolvedMap,
): AsyncGenerator<MapResult<T>, void, undefined> {
  const lanes = runner.lanes;
  const chunkSize = options.chunkSize ?? Math.max(1, Math.min(DEFAULT_CHUNK_MAX, Math.ceil(items.length / (4 * lanes))));
  /** The chunks not yet consumed, in the order of their items: running, or done with results still to yield. */
  const active: Chunk[] = [];
  let running = 0;
  let next = 0;
  let closing = false;
  let stopping: Promise<(StopReport | undefined)[]> | undefined;
  let aborted: Cutoff | undefined;
  let wake: (() => void) | undefined;
  const nudge = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const pump = async (chunk: Chunk): Promise<void> => {
    let release: (() => void) | undefined;
    try {
      const opened = await runner.open(chunk.items);
      release = opened.release;
      chunk.stream = opened.stream;
      if (closing) {
        await opened.stream.close();
        return;
      }
      let offset = chunk.start;
      for await (const [values, errors] of opened.stream) {
        let e = 0;
        for (let i = 0; i < values.length; i++) {
          const failed = errors[e];
          if (failed !== undefined && failed[0] === i) {
            e++;
            const error = new PythonError({ kind: "exception", type: failed[1], message: failed[2], traceback: failed[3] });
            chunk.results.push({ index: offset + i, ok: false, error });
          } else {
            chunk.results.push({ index: offset + i, ok: true, value: values[i] });
          }
        }
        offset += values.length;
        nudge();
      }
    } catch (error) {
      chunk.error = error;
    } finally {
      release?.();
      chunk.done = true;
      running--;
      fill(); // the next chunk starts now, not once this one's results are taken: a slow head does not idle the lanes
      nudge();
    }
  };

  /** Start chunks while fewer than `lanes` run, and at most 2 × lanes wait to be consumed (what bounds the memory). */
  const fill = (): void => {
    while (!closing && running < lanes && active.length < 2 * lanes && next < items.length) {
      const chunk: Chunk = {
        start: next,
        items: items.slice(next, next + chunkSize),
        results: [],
        head: 0,
        done: false,
        error: undefined,
        stream: undefined,
        pump: Promise.resolve(),
      };
      next += chunk.items.length;
      active.push(chunk);
      running++;
      chunk.pump = pump(chunk);
    }
  };

  /** Stop every chunk running (its stream's close: the stop ladder), once; the reports of the stops needed. */
  const stopAll = (): Promise<(StopReport | undefined)[]> => {
    closing = true;
    stopping ??= Promise.all(
      active.map(async (chunk) => {
        const report = chunk.stream ? await chunk.stream.close().catch(() => undefined) : undefined;
        await chunk.pump;
        return report ?? chunk.stream?.stopReport;
      }),
    );
    return stopping;
  };

  const trigger = whenCutOff(options.signal, options.timeoutMs, "map");
  void trigger.fired.then((fired) => {
    aborted = fired;
    void stopAll();
    nudge();
  });
  try {
    if (options.signal?.aborted) throw abortedBeforeStart("map", options.signal);
    fill();
    for (;;) {
      if (aborted) {
        const reports = await stopAll();
        throw cutoffError(aborted, { report: reports.find((r) => r !== undefined) });
      }
      if (active.length === 0) return;
      let took: MapResult | undefined;
      let ended = -1;
      const look = options.ordered ? 1 : active.length;
      for (let i = 0; i < look; i++) {
        const chunk = active[i]!;
        if (chunk.head < chunk.results.length) {
          took = chunk.results[chunk.head];
          chunk.results[chunk.head++] = undefined as never;
          break;
        }
        if (chunk.done) {
          ended = i;
          break;
        }
      }
      if (took) {
        if (!took.ok && options.stopOnError) throw took.error;
        yield took as MapResult<T>;
        continue;
      }
      if (ended >= 0) {
        const [chunk] = active.splice(ended, 1);
        if (chunk!.error !== undefined && !aborted) throw chunk!.error;
        fill();
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    trigger.dispose();
    await stopAll(); // break, an error, stopOnError: what still runs is stopped, what was not sent is dropped
  }
}
