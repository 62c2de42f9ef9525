/**
 * One JSON frame per message, followed by the binary frames it carries; several messages may share one ZeroMQ
 * message (docs/protocol.md).
 */
import type { Incoming, Reply, Request } from "../protocol.js";
import { BINARY_FRAMES_KEY, binaryCount, stringifyToFrames } from "./binary.js";
import { hasTags, reviveTags } from "./values.js";

/** The message's frames: its JSON frame, then one per Buffer or Uint8Array in it. */
export function encode(message: Request | Record<string, unknown>): Buffer[] {
  return stringifyToFrames(message);
}

/** Decode a JSON frame, reviving its tags; `bytes` tags become the `binary` frames they name. */
export function decode(frame: Buffer, binary: readonly Buffer[] = []): Incoming {
  const text = frame.toString("utf8");
  const message: unknown = hasTags(text) ? JSON.parse(text, reviveTags(binary)) : JSON.parse(text);
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new TypeError(`expected a JSON object, got ${JSON.stringify(message)?.slice(0, 80)}`);
  }
  if (binary.length > 0) delete (message as Record<string, unknown>)[BINARY_FRAMES_KEY];
  return message as Incoming;
}

/** The messages of one ZeroMQ message: each JSON frame with the binary frames that follow it. */
export function* splitMessages(frames: readonly Buffer[]): Generator<[frame: Buffer, binary: Buffer[]]> {
  for (let i = 0; i < frames.length; ) {
    const frame = frames[i]!;
    const count = binaryCount(frame);
    yield [frame, count === 0 ? NO_BINARY : frames.slice(i + 1, i + 1 + count)];
    i += 1 + count;
  }
}

/** `each(frame, binary)` for the messages of `frames` from index `start` on (splitMessages without its allocations). */
export function forEachMessage(frames: readonly Buffer[], start: number, each: (frame: Buffer, binary: Buffer[]) => void): void {
  for (let i = start; i < frames.length; ) {
    const frame = frames[i]!;
    const count = binaryCount(frame);
    each(frame, count === 0 ? NO_BINARY : frames.slice(i + 1, i + 1 + count));
    i += 1 + count;
  }
}
const NO_BINARY: Buffer[] = [];

/** Replies carry no `type`; hello and events always do. */
export function isReply(message: Incoming): message is Reply {
  return !("type" in message);
}
