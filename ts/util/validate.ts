/** Eager validation that names the option and the bad value (execa style). */
import { InvalidArgumentError } from "../errors.js";

export function nonNegativeInteger(name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new InvalidArgumentError(`Expected "${name}" to be a non-negative integer, got ${describe(value)}`);
  }
}

export function oneOf(name: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== "string" || !allowed.includes(value)) {
    const list = allowed.map((a) => `"${a}"`).join(", ");
    throw new InvalidArgumentError(`Expected "${name}" to be one of ${list}, got ${describe(value)}`);
  }
}

export function describe(value: unknown): string {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  return `${shown} (${value === null ? "null" : Array.isArray(value) ? "array" : typeof value})`;
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

/** The options actually given: an explicit `undefined` must not override a default. */
export function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** @internal The option names of `T`, listed once: the compiler fails when one is added to `T` and not here. */
export function optionKeys<T>(keys: Record<keyof T, true>): ReadonlySet<string> {
  return new Set(Object.keys(keys));
}

/** Refuses a key of `options` that is not in `allowed`, naming the nearest valid one (a typo is not ignored). */
export function knownKeys(what: string, options: object, allowed: ReadonlySet<string>): void {
  for (const key in options) {
    if (!allowed.has(key)) throw unknownKey(what, key, allowed);
  }
}

function unknownKey(what: string, key: string, allowed: ReadonlySet<string>): InvalidArgumentError {
  const near = nearest(key, [...allowed]);
  const hint = near ? `: did you mean "${near}"?` : "";
  const list = [...allowed].map((k) => `"${k}"`).join(", ");
  return new InvalidArgumentError(`Unknown ${what} "${key}"${hint} (the ${what}s are ${list})`);
}

/** The candidate closest to `word` (case aside, or by edit distance), when one is close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    const distance =
      other.startsWith(lower) || lower.startsWith(other) ? Math.abs(other.length - lower.length) * 0.5 : editDistance(lower, other);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}
