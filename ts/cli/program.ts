/** The `pyleash` command tree: every command, option, description and example, in one place. */
import { readFileSync } from "node:fs";
import { Argument, Command, Option } from "commander";
import { KINDS, LANES, STRATEGIES } from "../protocol.js";
import { STOP_DEFAULTS } from "../task/options.js";
import { type CallCommandOptions, call } from "./call.js";
import { type BundleOptions, bundle } from "./bundle.js";
import { bashCompletion } from "./completion.js";
import { doctor, type DoctorOptions } from "./doctor.js";
// Type only: the command's loader, and through it the experiments (experiments/dist/), load when that command runs.
import type { ExperimentsOptions } from "./experiments.js";
import { keys, type KeysOptions } from "./keys.js";
import { run, type RunOptions } from "./run.js";
import { JSON_HELP, addTargetOptions, collect, milliseconds } from "./target-options.js";

/** The version in package.json, read where this module sits (dist/cli/ or ts/cli/, two levels below the root). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const PYTHONS_HELP =
  "interpreter: a path, a version such as 3.12, a command name, or all (repeatable; default: $PYLEASH_PYTHON, else python3)";

/** Build the program; each action sets `process.exitCode` (0 success, 1 failure; commander's usage errors are mapped to 2 by main). */
export function createProgram(): Command {
  const program = new Command("pyleash")
    .description("Run Python work from TypeScript over ZeroMQ and stop it by every known means, with an honest report of how it stopped.")
    .version(packageVersion(), "-V, --version", "print pyleash's version")
    .helpOption("-h, --help", "show this help")
    .exitOverride()
    .showSuggestionAfterError()
    .showHelpAfterError("(run 'pyleash --help' for usage)");
  program.addHelpText(
    "after",
    `
Exit status: 0 success, 1 failure, 2 usage error. With --json, stdout is exactly one JSON object.

Examples:
  $ pyleash call math:floor --args '[2.7]'
  $ pyleash run --help`,
  );
  program.helpCommand("help [command]", "show help for a command");

  const callCommand = addTargetOptions(
    subcommand(program, "call", "Call a Python function once in a fresh agent and print its JSON result.").argument(
      "<module:function>",
      "the function to call, e.g. math:floor or mypkg.mod:func",
    ),
  )
    .option(
      "--timeout <ms>",
      "stop the call's Python work if it still runs after this many ms, and fail (exit status 1)",
      milliseconds("--timeout"),
    )
    .addOption(
      new Option(
        "--lane <lane>",
        "where the call runs: a thread of the agent's call pool, or its main thread (where a stop's signal interrupts blocking waits)",
      )
        .choices(LANES)
        .default("thread"),
    );
  stopOptions(callCommand, "call")
    .option("--json", JSON_HELP)
    .addHelpText(
      "after",
      `
Exit status: 0 when the call returned, 1 otherwise (it raised, or timed out: then with --json, error.stop holds the
stop report, which says whether the Python work stopped).

Examples:
  $ pyleash call math:floor --args '[2.7]' --json
  $ pyleash call mymodule:main --pythonpath ./src --kwargs '{"n": 3}'
  $ pyleash call time:sleep --args '[100]' --timeout 500 --lane main --json`,
    )
    .action(async (target: string, options: CallCommandOptions) => {
      process.exitCode = await call(target, options);
    });

  const runCommand = addTargetOptions(
    subcommand(
      program,
      "run",
      "Start a Python function as a task, stop it after --stop-after ms if it still runs, and print how it ended.",
    ).argument("<module:function>", "the function to run, e.g. pyleash.demo:spin"),
  )
    .addOption(
      new Option("--kind <kind>", "where the task runs: a new thread, the agent's main thread, a child process or an asyncio task")
        .choices(KINDS)
        .default("thread"),
    )
    .option(
      "--stop-after <ms>",
      "stop the task if it still runs this many ms after it started (default: let it finish)",
      milliseconds("--stop-after"),
    );
  stopOptions(runCommand, "task")
    .option("--restart-worker-if-blocked", "recycle the agent when the task is blocked")
    .option("--trace", "install the sys.settrace kill when the task starts (needed by --strategy trace; slows the task)")
    .option("--json", 'print the outcome as one JSON object on stdout, after one JSON line per progress update ({"type": "progress", ...})')
    .addHelpText(
      "after",
      `
A task that calls pyleash.progress(done, total, message) gets a progress bar on a terminal (on stderr).

Exit status: 0 when the task finished or was stopped, 1 otherwise (blocked, failed, not stopped).

Examples:
  $ pyleash run pyleash.demo:spin --stop-after 500 --strategy auto --deadline 2000 --json
  $ pyleash run pyleash.demo:sleep --stop-after 100 --strategy async-exc`,
    )
    .action(async (target: string, options: RunOptions) => {
      process.exitCode = await run(target, options);
    });

  subcommand(
    program,
    "doctor",
    "List the interpreters found, whether each is free-threaded and has pyzmq, and time calls through a real agent on each.",
  )
    .option("--python <python>", PYTHONS_HELP, collect)
    .option("--json", JSON_HELP)
    .addHelpText(
      "after",
      `
Examples:
  $ pyleash doctor --python all
  $ pyleash doctor --python 3.12 --python 3.13 --json`,
    )
    .action(async (options: DoctorOptions) => {
      process.exitCode = await doctor(options);
    });

  subcommand(program, "experiments", "Measure every claim of the four articles on each interpreter; write JSON, Markdown and HTML reports.")
    .option("--python <python>", PYTHONS_HELP, collect)
    .option("--only <ids>", "run only these experiments: comma-separated ids (repeatable; default: all)", collect)
    .option("--quick", "fewer repetitions: a rough answer in under a minute")
    .option("--out <dir>", "where to write experiments.json, EXPERIMENTS.md and index.html", "report")
    .option("--json", "print the whole report as exactly one JSON object on stdout (progress goes to stderr)")
    .addHelpText(
      "after",
      `
Exit status: 0 when something was measured (verdicts are findings, not failures), 1 otherwise.

Examples:
  $ pyleash experiments --quick
  $ pyleash experiments --python all --out report
  $ pyleash experiments --only a0-async-exc-sleep-caveat,a3-hidden-stop --json`,
    )
    .action(async (options: ExperimentsOptions) => {
      // Loaded on demand, so that `pyleash call` does not load the experiments.
      const { experiments } = await import("./experiments.js");
      process.exitCode = await experiments(options);
    });

  subcommand(program, "keys", "Make a CURVE key pair for a remote agent or a listening pool (secret file mode 0600).")
    .option("--out <dir>", "where to write the key files", ".")
    .option("--name <name>", "file names: NAME.key (secret) and NAME.pub (public)", "pyleash")
    .option("--json", JSON_HELP)
    .addHelpText(
      "after",
      `
Examples:
  $ pyleash keys --out ~/.pyleash --name agent
  $ python -m pyleash serve --connect tcp://10.0.0.1:7000 --server-key-file controller.pub --key-file agent.key`,
    )
    .action(async (options: KeysOptions) => {
      process.exitCode = await keys(options);
    });

  subcommand(
    program,
    "bundle",
    "Write the Python agent as one zipapp (stdlib only) to copy to a remote host and run as `python agent.pyz serve`.",
  )
    .requiredOption("--out <file>", "the archive to write, e.g. agent.pyz (replaced if it exists)")
    .option(
      "--python <python>",
      "the interpreter whose zipapp module makes it (default: $PYLEASH_PYTHON, else python3); any CPython >= 3.8 runs it",
    )
    .option("--json", JSON_HELP)
    .addHelpText(
      "after",
      `
The archive holds the agent package without tests, caches or the experiments. The remote host needs pyzmq for CURVE
(pip install pyzmq); nothing else.

Examples:
  $ pyleash bundle --out agent.pyz
  $ scp agent.pyz agent.key controller.pub host:
  $ ssh host python3 agent.pyz serve --connect tcp://10.0.0.1:7000 --server-key-file controller.pub --key-file agent.key`,
    )
    .action(async (options: BundleOptions) => {
      process.exitCode = await bundle(options);
    });

  subcommand(program, "completion", "Print a shell completion script.")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash"]))
    .addHelpText(
      "after",
      `
Examples:
  $ eval "$(pyleash completion bash)"          # in ~/.bashrc`,
    )
    .action(() => {
      process.stdout.write(bashCompletion(program));
    });

  return program;
}

/** A subcommand whose usage errors end with a pointer to its own --help. */
function subcommand(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).showHelpAfterError(`(run 'pyleash ${name} --help' for usage)`);
}

/** The stop options `call` and `run` share: `--strategy`, `--grace`, `--deadline`, worded for the `noun` they stop. */
function stopOptions(command: Command, noun: "call" | "task"): Command {
  const how = noun === "call" ? "how a timed-out call is stopped" : "how to stop it";
  return command
    .addOption(
      new Option("--strategy <strategy>", `${how}; auto escalates from the gentlest step to the most forceful`)
        .choices(STRATEGIES)
        .default(STOP_DEFAULTS.strategy),
    )
    .option(
      "--grace <ms>",
      `how long each step of auto waits before the next one (default: ${STOP_DEFAULTS.graceMs})`,
      milliseconds("--grace"),
    )
    .option(
      "--deadline <ms>",
      `when a ${noun} that still runs is reported blocked (default: ${STOP_DEFAULTS.deadlineMs})`,
      milliseconds("--deadline"),
    );
}
