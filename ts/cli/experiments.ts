/**
 * `pyleash experiments`: loads the experiments (experiments/, beside the library in a clone of the repository,
 * never shipped in the npm package) and runs them; says how to get them where they are absent.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { printJson } from "./output.js";

/** What `experiments` accepts, after parsing. */
export interface ExperimentsOptions {
  python?: string[];
  only?: string[];
  quick?: boolean;
  out: string;
  json?: boolean;
}

/** experiments/ts/cli.ts as `npm run build` compiles it, relative to this file's dist/cli/. */
const ENTRY = new URL("../../experiments/dist/cli.js", import.meta.url);

export async function experiments(options: ExperimentsOptions): Promise<number> {
  if (!existsSync(fileURLToPath(ENTRY))) {
    const message =
      "The experiments do not ship with the pyleash package: run them from a clone of the repository " +
      `(git clone, npm install, then npm start or node dist/cli/main.js experiments). Looked for ${fileURLToPath(ENTRY)}.`;
    if (options.json) printJson({ pythons: [], experiments: [], error: { type: "Error", code: "EXPERIMENTS_ABSENT", message } });
    else process.stderr.write(`${message}\n`);
    return 1;
  }
  // A computed specifier: tsc leaves the experiments out of the library's program, and nothing loads them before here.
  const entry = (await import(ENTRY.href)) as { experiments(options: ExperimentsOptions): Promise<number> };
  return entry.experiments(options);
}
