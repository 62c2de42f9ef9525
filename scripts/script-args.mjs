/** Command-line flags for the repository's scripts (bench, torture): node:util parseArgs, usage errors exit 2. */
import { parseArgs } from "node:util";

/**
 * The parsed flags; `--help` prints `usage` and exits 0, an unknown flag or a stray argument exits 2.
 * @param {string[]} args
 * @param {import("node:util").ParseArgsConfig["options"]} options
 * @param {string} usage
 * @returns {Record<string, any>}
 */
export function scriptArgs(args, options, usage) {
  /** @type {Record<string, any>} */
  let values = {};
  try {
    ({ values } = parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h", default: false } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`${usage}\n${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values;
}
