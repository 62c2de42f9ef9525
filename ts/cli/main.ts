#!/usr/bin/env node
/** The `pyleash` command: dispatches to one subcommand per file. */
import { call, usage as callUsage } from "./call.js";
import { doctor, usage as doctorUsage } from "./doctor.js";
import { experiments, usage as experimentsUsage } from "./experiments.js";
import { run, usage as runUsage } from "./run.js";

const commands: Record<string, { run: (argv: string[]) => Promise<number>; usage: string }> = {
  call: { run: call, usage: callUsage },
  run: { run, usage: runUsage },
  doctor: { run: doctor, usage: doctorUsage },
  experiments: { run: experiments, usage: experimentsUsage },
};

function help(): string {
  return ["Usage:", ...Object.values(commands).map((c) => `  ${c.usage}`)].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(help() + "\n");
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`pyleash: unknown command "${name}"\n${help()}\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    // parseArgs rejects unknown flags with a TypeError whose message names the flag.
    process.stderr.write(`pyleash ${name}: ${(error as Error).message}\nUsage: ${command.usage}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
