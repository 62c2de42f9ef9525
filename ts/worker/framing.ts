/** One JSON message per ZeroMQ frame, both ways (docs/protocol.md). */
import type { Incoming, Reply, Request } from "../protocol.js";
import { hasTags, reviveTags } from "./values.js";

export function encode(message: Request | Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(message));
}

export function decode(frame: Buffer): Incoming {
  const text = frame.toString("utf8");
  const message: unknown = hasTags(frame) ? JSON.parse(text, reviveTags) : JSON.parse(text);
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new TypeError(`expected a JSON object, got ${JSON.stringify(message)?.slice(0, 80)}`);
  }
  return message as Incoming;
}

/** Replies carry no `type`; hello and events always do. */
export function isReply(message: Incoming): message is Reply {
  return !("type" in message);
}
