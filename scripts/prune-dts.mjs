#!/usr/bin/env node
// After tsc: keep only the declaration files that dist/index.d.ts reaches, so the published types show the
// documented API and nothing of the internals (the CLI, the connection plumbing). It runs after the experiments' build
// (experiments/tsconfig.json), which reads these declarations to type the experiments against the library.
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const dist = resolve(new URL("../dist", import.meta.url).pathname);

/** Every .d.ts that `entry` imports, directly or not. */
export function reachable(entry) {
  const seen = new Set();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop();
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)\.js"/g)) {
      queue.push(resolve(dirname(file), `${spec}.d.ts`));
    }
  }
  return seen;
}

function* declarations(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* declarations(path);
    else if (entry.name.endsWith(".d.ts")) yield path;
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  // Two public entries: "pyleash" and "pyleash/pythonia".
  const keep = new Set([...reachable(join(dist, "index.d.ts")), ...reachable(join(dist, "pythonia", "index.d.ts"))]);
  let pruned = 0;
  for (const file of [...declarations(dist)]) {
    if (keep.has(file)) continue;
    rmSync(file);
    rmSync(`${file}.map`, { force: true });
    pruned++;
  }
  console.log(`prune-dts: kept ${keep.size} declaration files of the public API, removed ${pruned} (${relative(process.cwd(), dist)})`);
}
