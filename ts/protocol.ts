/** The wire protocol, controller side (mirrors py/pyleash/protocol.py; described in docs/protocol.md). */
import type { PythonErrorPayload } from "./errors.js";

export const PROTOCOL_VERSION = 2;

/** Written as one JSON line to the agent's fd 3, which then stays open as its lifeline. */
export interface AgentConfig {
  endpoint: string;
  token: string;
  transport: Transport;
  parentPid: number;
  /** sys.setswitchinterval for the agent, in ms; null keeps Python's default. */
  switchIntervalMs: number | null;
}

export type Transport = "auto" | "pyzmq" | "builtin";

/** The agent's first message: proves it was started by us and says what it is. */
export interface Hello {
  type: "hello";
  protocol: number;
  token: string;
  pid: number;
  python: string;
  implementation: string;
  executable: string;
  transport: "pyzmq" | "builtin";
}

export type Request =
  | { type: "call"; id: number; target: string; args: unknown[]; kwargs: Record<string, unknown> }
  | { type: "ping"; id: number }
  | { type: "shutdown"; id: number };

export type Reply =
  | { id: number; status: "ok"; result: unknown }
  | { id: number | null; status: "error"; error: PythonErrorPayload };

/** Unsolicited news from the agent (task progress); carries `type` and no request `id`. */
export interface AgentEvent {
  type: string;
  [key: string]: unknown;
}

export type Incoming = Hello | Reply | AgentEvent;

export function encode(message: Request | Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(message));
}

export function decode(frame: Buffer): Incoming {
  const message: unknown = JSON.parse(frame.toString("utf8"));
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new TypeError(`expected a JSON object, got ${JSON.stringify(message)?.slice(0, 80)}`);
  }
  return message as Incoming;
}

/** Replies carry no `type`; hello and events always do (task events also carry a `status`). */
export function isReply(message: Incoming): message is Reply {
  return !("type" in message);
}
