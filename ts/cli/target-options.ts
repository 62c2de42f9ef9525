/** The options every command that runs a target shares (its arguments, the interpreter, --json), and their parsers. */
import { type Command, InvalidArgumentError as BadOptionValue, Option } from "commander";
import type { Transport } from "../protocol.js";

/** What `call` and `run` both accept, after parsing. */
export interface TargetOptions {
  args: unknown[];
  kwargs: Record<string, unknown>;
  python?: string;
  pythonpath?: string[];
  transport: Transport;
  json?: boolean;
}

export const TRANSPORTS = ["auto", "pyzmq", "builtin"] as const satisfies readonly Transport[];

/** Add the shared target options to a command (all but --json, which every command lists last). */
export function addTargetOptions(command: Command): Command {
  return command
    .option("--args <json>", "positional arguments for the function, as a JSON array", jsonArray("--args"), [])
    .option("--kwargs <json>", "keyword arguments for the function, as a JSON object", jsonObject("--kwargs"), {})
    .option("--python <python>", "interpreter: a path, a version such as 3.12, or a command name (default: $PYLEASH_PYTHON, else python3)")
    .option("--pythonpath <dir>", "put a directory on the agent's PYTHONPATH so your modules import (repeatable)", collect)
    .addOption(
      new Option(
        "--transport <transport>",
        "the agent's ZeroMQ client; auto is the built-in one (faster and smaller than pyzmq for a local agent)",
      )
        .choices(TRANSPORTS)
        .default("auto"),
    );
}

export const JSON_HELP = "print exactly one JSON object on stdout (and nothing else)";

/** A repeatable option: every occurrence is kept, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A parser for an option whose value must be a JSON array. */
export function jsonArray(flag: string): (text: string) => unknown[] {
  return (text) => parseJson(flag, text, "array") as unknown[];
}

/** A parser for an option whose value must be a JSON object. */
export function jsonObject(flag: string): (text: string) => Record<string, unknown> {
  return (text) => parseJson(flag, text, "object") as Record<string, unknown>;
}

/** A parser for a non-negative whole number of milliseconds. */
export function milliseconds(flag: string): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < 0)
      throw new BadOptionValue(`${flag} must be a non-negative integer of ms, got ${text}`);
    return value;
  };
}

/** Parse an option's JSON, which must be an array or an object; commander reports the error as a usage error. */
function parseJson(flag: string, text: string, shape: "array" | "object"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadOptionValue(`${flag} is not valid JSON (${(error as Error).message})`);
  }
  const ok = shape === "array" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value);
  if (!ok) throw new BadOptionValue(`${flag} must be a JSON ${shape}`);
  return value;
}
