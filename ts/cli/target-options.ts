/** The flags every command that runs a target shares: its arguments, the interpreter, --json. */
import { InvalidArgumentError } from "../errors.js";

export const TARGET_OPTIONS = {
  args: { type: "string", default: "[]" },
  kwargs: { type: "string", default: "{}" },
  python: { type: "string" },
  pythonpath: { type: "string", multiple: true, default: [] as string[] },
  transport: { type: "string" },
  json: { type: "boolean", default: false },
} as const;

/** The one target among the positionals, or an error showing the usage. */
export function onlyTarget(positionals: string[], usage: string): string {
  const [target, ...extra] = positionals;
  if (!target || extra.length) throw new InvalidArgumentError(`Expected exactly one target, usage:\n${usage}`);
  return target;
}

/** Parse a flag's JSON, which must be an array or an object. */
export function parseJson(flag: string, text: string, shape: "array" | "object"): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`${flag} is not valid JSON (${(error as Error).message}): ${text}`);
  }
  const ok = shape === "array" ? Array.isArray(value) : value !== null && typeof value === "object" && !Array.isArray(value);
  if (!ok) throw new InvalidArgumentError(`${flag} must be a JSON ${shape}, got ${text}`);
  return value;
}
