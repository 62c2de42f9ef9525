/** Helpers for experiments that go through the task API: wait for a line, then stop and time it end to end. */
export { reached } from "../../dist/util/reached.js";

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
