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
