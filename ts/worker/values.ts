/**
 * Values that cross to Python: each one crosses exactly or is refused, naming where it sits (docs/values.md).
 * JSON alone would turn NaN and undefined into null, a Map into {}, a Buffer into {type, data}, -0 into 0, and
 * would lose integers beyond 2^53 (BigInt, and the exact value of an integral number that large); here those are refused, or carried in a tagged object (the contract's
 * `values`) that the other side revives.
 */
import { UnsupportedValueError } from "../errors.js";
import { CONTRACT } from "../protocol.js";
import { OutgoingBytes, bytesFrom } from "./binary.js";

const { tagKey: TAG } = CONTRACT.values;
const { maxNesting: MAX_NESTING, maxIntDigits: MAX_INT_DIGITS } = CONTRACT.limits;
type Tag = keyof typeof CONTRACT.values.tags;

function tagged(tag: Tag, value: string): Record<string, string> {
  return { [TAG]: tag, value };
}

/**
 * `value` ready for JSON.stringify: the same object when nothing needs converting (the usual case, no copy),
 * else a copy with BigInt and -0 tagged and each Uint8Array (Buffer included) marked to leave as a binary frame.
 * Throws UnsupportedValueError for anything that cannot cross exactly.
 */
export function toWire(value: unknown, path: string): unknown {
  return plain(value, 0) ? value : convert(value, path, 0, new Set());
}

/**
 * Whether `value` goes as it is: strings, booleans, null, numbers JSON writes exactly, plain arrays and objects of
 * them within the nesting limit, no reserved key, no undefined. A walk that allocates nothing (no paths, no set of
 * open objects: a cycle runs into the nesting limit), so the usual arguments skip convert(); anything else, false.
 */
function plain(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return value <= Number.MAX_SAFE_INTEGER && value >= -Number.MAX_SAFE_INTEGER && !Object.is(value, -0); // NaN fails both
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_NESTING) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!plain(value[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (key === TAG || !plain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function convert(value: unknown, path: string, depth: number, open: Set<object>): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new UnsupportedValueError(path, String(value), "has no exact JSON form");
      // JSON writes 2 ** 60 as 1152921504606847000 (its shortest form), 1e21 as 1e+21 (a float in Python): an
      // integral number beyond ±(2^53 - 1) crosses as the exact integer the double holds, tagged like a BigInt.
      if (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER) {
        return tagged("int", BigInt(value).toString()); // every finite double that large is integral
      }
      return Object.is(value, -0) ? tagged("float", "-0") : value;
    case "bigint": {
      const digits = value.toString();
      if (digits.length - (value < 0n ? 1 : 0) > MAX_INT_DIGITS) {
        throw new UnsupportedValueError(
          path,
          `a bigint of ${digits.length} digits`,
          `has more than CPython's ${MAX_INT_DIGITS}-digit int/str conversion limit (sys.set_int_max_str_digits), which the agent's JSON decoder applies`,
        );
      }
      return tagged("int", digits);
    }
    case "undefined":
      throw new UnsupportedValueError(path, "undefined", "has no Python counterpart (send null for None)");
    case "function":
    case "symbol":
      throw new UnsupportedValueError(path, `a ${typeof value}`, "cannot be sent");
  }
  if (value === null) return null;
  const object = value as object;
  if (depth >= MAX_NESTING) throw new UnsupportedValueError(path, "a value", `is nested deeper than ${MAX_NESTING} levels`);
  if (object instanceof Uint8Array) return new OutgoingBytes(object); // bytes in Python, sent as a frame of its own
  if (open.has(object)) throw new UnsupportedValueError(path, "a circular reference", "cannot be sent");
  open.add(object);
  try {
    if (Array.isArray(object)) return convertArray(object, path, depth, open);
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) throw new UnsupportedValueError(path, describeObject(object), unsupportedWhy(object));
    return convertObject(object as Record<string, unknown>, path, depth, open);
  } finally {
    open.delete(object);
  }
}

function convertArray(array: unknown[], path: string, depth: number, open: Set<object>): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    const converted = convert(item, `${path}[${i}]`, depth + 1, open);
    if (converted !== item) (out ??= array.slice())[i] = converted;
  }
  return out ?? array;
}

function convertObject(object: Record<string, unknown>, path: string, depth: number, open: Set<object>): object {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(object)) {
    const item = object[key];
    if (key === TAG) throw new UnsupportedValueError(`${path}.${key}`, `the key "${TAG}"`, "is reserved by pyleash");
    if (item === undefined) {
      out ??= { ...object };
      delete out[key]; // as JSON.stringify does: an undefined property is absent
      continue;
    }
    const converted = convert(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, depth + 1, open);
    if (converted !== item) (out ??= { ...object })[key] = converted;
  }
  return out ?? object;
}

function describeObject(object: object): string {
  if (ArrayBuffer.isView(object)) return `a ${object.constructor.name}`;
  const name = (object as { constructor?: { name?: string } }).constructor?.name;
  return name ? `a ${name}` : "an object with a custom prototype";
}

function unsupportedWhy(object: object): string {
  if (object instanceof Map) return "has no JSON form (send an object, or an array of [key, value] pairs)";
  if (object instanceof Set) return "has no JSON form (send an array)";
  if (object instanceof Date) return "is not sent implicitly (send date.toISOString() or date.getTime())";
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) {
    return "is not a Uint8Array (send new Uint8Array(view.buffer, view.byteOffset, view.byteLength) for its bytes)";
  }
  return "is not a plain object or array; send its fields as a plain object";
}

/** The JSON.parse reviver of a message that mentions the tag; `binary` holds the frames its `bytes` tags name. */
export function reviveTags(binary: readonly Buffer[]): (key: string, value: unknown) => unknown {
  return (_key, value) => {
    if (value === null || typeof value !== "object" || !(TAG in value)) return value;
    const { [TAG]: tag, value: text } = value as Record<string, unknown>;
    if (typeof text !== "string") return value;
    if (tag === "int") return BigInt(text);
    if (tag === "float") return Number(text);
    if (tag === "bytes") return bytesFrom(text, binary);
    return value;
  };
}

/**
 * Whether a message's JSON text carries any tagged value, so that untagged messages parse without a reviver: a
 * search of the text already decoded (a builtin of V8), not of the frame's bytes (a native call per message).
 */
export function hasTags(text: string): boolean {
  return text.includes(TAG_JSON);
}
const TAG_JSON = JSON.stringify(TAG);
