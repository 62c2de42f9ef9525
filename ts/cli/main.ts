#!/usr/bin/env node
/** The `pyleash` command: parse with commander, run one command, exit 0 (success), 1 (failure) or 2 (usage error). */
import { CommanderError } from "commander";
import { errorText } from "./call.js";
import { errorJson, printJson } from "./output.js";
import { createProgram } from "./program.js";

const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  try {
    await createProgram().parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with 0; every usage error (commander says 1) becomes 2.
      if (error.exitCode === 0) return 0;
      // Commander has already written the message (and its "Did you mean ...?") to stderr; with --json,
      // stdout still carries exactly one JSON object.
      if (json)
        printJson({
          ok: false,
          error: { type: "UsageError", code: "USAGE_ERROR", reason: error.code, message: error.message.replace(/^error: /, "") },
        });
      return EXIT_USAGE;
    }
    // A failure no command turned into its own output (say, the report directory cannot be written).
    if (json) printJson({ ok: false, error: errorJson(error) });
    else process.stderr.write(`pyleash: ${errorText(error)}\n`);
    return 1;
  }
}

// `pyleash run --help | head` closes our stdout early: that is the reader's choice, not a failure to report.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
});

process.exitCode = await main(process.argv.slice(2));
