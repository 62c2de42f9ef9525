/** docs/stop-strategies.md's per-interpreter table is the rendering of docs/stop-strategies.json, a real run: never typed. */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";

const ROOT = new URL("..", import.meta.url).pathname;
interface Run {
  generatedAt: string;
  cases: { id: string; title: string }[];
  interpreters: { version: string; results: Record<string, unknown> }[];
}
// Loaded by path, so the type check does not walk the untyped scripts.
const tableScript: string = `${ROOT}scripts/stops/table.mjs`;
const docScript: string = `${ROOT}scripts/stops/doc.mjs`;
const { BEGIN, END, withTable } = (await import(tableScript)) as {
  BEGIN: string;
  END: string;
  withTable: (doc: string, run: Run) => string;
};
const { CASES } = (await import(docScript)) as { CASES: { id: string; title: string }[] };

const read = () => ({
  doc: readFileSync(`${ROOT}docs/stop-strategies.md`, "utf8"),
  run: JSON.parse(readFileSync(`${ROOT}docs/stop-strategies.json`, "utf8")) as Run,
});

test("the per-interpreter table in docs/stop-strategies.md is generated from docs/stop-strategies.json", () => {
  const { doc, run } = read();
  expect(doc).toContain(BEGIN);
  expect(doc).toContain(END);
  expect(withTable(doc, run)).toBe(doc);
});

test("docs/stop-strategies.json is a run of today's cases on CPython 3.8 and later", () => {
  const { run } = read();
  expect(run.cases.map(({ id, title }) => ({ id, title }))).toEqual(CASES.map(({ id, title }) => ({ id, title })));
  expect(run.interpreters.length).toBeGreaterThan(0);
  for (const { version, results } of run.interpreters) {
    expect(version).toMatch(/^3\.(8|9|\d\d)\./);
    expect(Object.keys(results).sort()).toEqual(CASES.map((c) => c.id).sort());
  }
});

test("a verdict typed into the table is caught", () => {
  const { doc, run } = read();
  const at = doc.indexOf(BEGIN);
  const typed = doc.slice(0, at) + doc.slice(at).replace("| stopped", "| **blocked**");
  expect(typed).not.toBe(doc);
  expect(withTable(typed, run)).not.toBe(typed);
});
