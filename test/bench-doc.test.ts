/** docs/performance.md's figures are the rendering of docs/performance.json, a real bench run: never typed. */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";

const ROOT = new URL("..", import.meta.url).pathname;
// Loaded by path, so the type check does not walk the untyped bench scripts.
const docScript: string = `${ROOT}scripts/bench/doc.mjs`;
const { BEGIN, END, withFigures } = (await import(docScript)) as {
  BEGIN: string;
  END: string;
  withFigures: (doc: string, report: unknown) => string;
};

test("the figures in docs/performance.md are generated from docs/performance.json", () => {
  const doc = readFileSync(`${ROOT}docs/performance.md`, "utf8");
  const report = JSON.parse(readFileSync(`${ROOT}docs/performance.json`, "utf8"));
  expect(report).toHaveProperty("generatedAt");
  expect(report).toHaveProperty("goals");
  expect(doc).toContain(BEGIN);
  expect(doc).toContain(END);
  expect(withFigures(doc, report)).toBe(doc);
});

test("a figure typed into the block is caught", () => {
  const doc = readFileSync(`${ROOT}docs/performance.md`, "utf8");
  const report = JSON.parse(readFileSync(`${ROOT}docs/performance.json`, "utf8"));
  const typed = doc.replace("## Figures", "## Figures\n\n| pyleash-builtin | 1.0 |");
  expect(withFigures(typed, report)).not.toBe(typed);
});
