/** Every experiment, in report order: the four articles' claims, then pyleash's own findings. */
import { experiments as a0 } from "./a0.js";
import { experiments as a1 } from "./a1.js";
import { experiments as a2 } from "./a2.js";
import { experiments as a3 } from "./a3.js";
import { experiments as x } from "./x.js";
import type { Experiment } from "./types.js";

export const EXPERIMENTS: readonly Experiment[] = [...a0, ...a1, ...a2, ...a3, ...x];

/** The experiments named in `only` (all when empty); an unknown id is an error that lists the known ones. */
export function selectExperiments(only: string[]): Experiment[] {
  if (!only.length) return [...EXPERIMENTS];
  const known = new Map(EXPERIMENTS.map((e) => [e.id, e]));
  const unknown = only.filter((id) => !known.has(id));
  if (unknown.length) {
    throw new Error(`Unknown experiment id(s): ${unknown.join(", ")}. Known: ${[...known.keys()].join(", ")}`);
  }
  return only.map((id) => known.get(id)!);
}
