#!/usr/bin/env node
// Writes ts/contract.ts from py/pyleash/contract.json, the one contract both sides load (run by `npm run build`).
// `--check` exits 1 when ts/contract.ts is missing or differs from what the JSON gives.
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url);
const source = new URL("py/pyleash/contract.json", root);
const target = new URL("ts/contract.ts", root);

const contract = JSON.parse(readFileSync(source, "utf8"));
const text =
  "// Generated from py/pyleash/contract.json by scripts/gen-contract.mjs at build time: edit that file, not this one.\n" +
  "// Types over it live in ts/protocol.ts.\n" +
  `export const CONTRACT = ${JSON.stringify(contract, null, 2)} as const;\n`;

let current = "";
try {
  current = readFileSync(target, "utf8");
} catch {}
if (process.argv.includes("--check")) {
  if (current !== text) {
    console.error("ts/contract.ts is out of date with py/pyleash/contract.json: run `npm run build`");
    process.exitCode = 1;
  }
} else if (current !== text) {
  writeFileSync(target, text);
}
