/**
 * The wire protocol, controller side: the types of every message, derived from the contract that the agent
 * loads too (py/pyleash/contract.json → ts/contract.ts), and the JSON framing. Described in docs/protocol.md.
 */
import { CONTRACT } from "./contract.js";

export { CONTRACT };
type Contract = typeof CONTRACT;

export const PROTOCOL_VERSION: Contract["protocol"] = CONTRACT.protocol;

export type TaskKind = keyof Contract["kinds"];
export type Lane = keyof Contract["lanes"];
export type Strategy = keyof Contract["strategies"];
export type StopOutcome = Contract["stopOutcomes"][number];
export type Transport = Contract["transports"][number];
export type TaskEndStatus = Contract["taskEndStatuses"][number];
/** Which part of a request went wrong (contract "errorKinds"); the controller maps each to an error class. */
export type ErrorKind = keyof Contract["errorKinds"];

export const KINDS = Object.keys(CONTRACT.kinds) as TaskKind[];
export const LANES = Object.keys(CONTRACT.lanes) as Lane[];
export const STRATEGIES = Object.keys(CONTRACT.strategies) as Strategy[];
export const TRANSPORTS: readonly Transport[] = CONTRACT.transports;

/** The field types of the contract, as TypeScript types. */
interface FieldTypes {
  string: string;
  integer: number;
  number: number;
  boolean: boolean;
  array: unknown[];
  object: Record<string, unknown>;
  any: unknown;
  kinds: TaskKind;
  lanes: Lane;
  strategies: Strategy;
  transports: Transport;
  taskEndStatuses: TaskEndStatus;
}
type FieldSpec = { readonly type: keyof FieldTypes; readonly optional?: boolean; readonly nullable?: boolean };
type ValueOf<S extends FieldSpec> = FieldTypes[S["type"]] | (S extends { nullable: true } ? null : never);
type Fields<F> = {
  -readonly [K in keyof F as F[K] extends { optional: true } ? never : K]: F[K] extends FieldSpec ? ValueOf<F[K]> : never;
} & {
  -readonly [K in keyof F as F[K] extends { optional: true } ? K : never]?: F[K] extends FieldSpec ? ValueOf<F[K]> : never;
};

/** Written as one JSON line to the agent's fd 3, which then stays open as its lifeline. */
export type AgentConfig = Fields<Contract["config"]>;

export type RequestType = keyof Contract["requests"];
/** A request of `type` as it goes on the wire, `id` included. */
export type RequestOf<T extends RequestType> = { type: T; id: number } & Fields<Contract["requests"][T]["fields"]>;
export type Request = { [T in RequestType]: RequestOf<T> }[RequestType];
/** A request before the connection numbers it. */
export type RequestBody = { [T in RequestType]: Omit<RequestOf<T>, "id"> }[RequestType];

export type EventType = keyof Contract["events"];
export type EventOf<T extends EventType> = { type: T } & Fields<Contract["events"][T]["fields"]>;
/** The agent's first message: proves it was started by us and says what it is. */
export type Hello = EventOf<"hello">;
/** Unsolicited news about a task. */
export type TaskEvent = EventOf<"task-started"> | EventOf<"task-ended">;
/** Items of a stream (a call recorded as task `task`), in order. */
export type StreamItemsEvent = EventOf<"stream-items">;
/** `pyleash.progress()` in a task, a call or a stream. */
export type ProgressEvent = EventOf<"progress">;
/** Every event that concerns one task, call or stream, by its `task` id. */
export type AgentEvent = TaskEvent | StreamItemsEvent | ProgressEvent;

/** An error reply's payload: `kind` is one of the contract's errorKinds. */
export interface PythonErrorPayload {
  kind: ErrorKind;
  type: string;
  message: string;
  traceback?: string;
  pythonType?: string;
  /** Where in the value the offender sits, e.g. `result[2].a`. */
  path?: string;
}

export type Reply = { id: number; status: "ok"; result: unknown } | { id: number | null; status: "error"; error: PythonErrorPayload };

export type Incoming = Hello | AgentEvent | Reply;
