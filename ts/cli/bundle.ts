/** `pyleash bundle --out agent.pyz`: the Python agent as one stdlib zipapp for a remote host (docs/distributed.md). */
import { execFile } from "node:child_process";
import { delimiter } from "node:path";
import { probePython } from "../python/discover.js";
import { AGENT_PYTHONPATH } from "../worker/agent-process.js";
import { errorText } from "./call.js";
import { errorJson, printJson } from "./output.js";

export interface BundleOptions {
  out: string;
  python?: string;
  json?: boolean;
}

/** Run `python -m pyleash.bundle` (the stdlib's zipapp, by the chosen interpreter) on the shipped package. */
export async function bundle(options: BundleOptions): Promise<number> {
  let python: string;
  try {
    python = (await probePython(options.python)).path;
  } catch (error) {
    if (options.json) printJson({ ok: false, error: errorJson(error) });
    else process.stderr.write(`pyleash bundle: ${errorText(error)}\n`);
    return 1;
  }
  const inherited = process.env.PYTHONPATH;
  const env = {
    ...process.env,
    PYTHONPATH: [AGENT_PYTHONPATH, ...(inherited ? [inherited] : [])].join(delimiter),
    PYTHONDONTWRITEBYTECODE: "1",
  };
  const argv = ["-m", "pyleash.bundle", "--out", options.out, ...(options.json ? ["--json"] : [])];
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(python, argv, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code) || 1 : 0, stdout, stderr });
    });
  });
  if (code !== 0) {
    const message = stderr.trim() || `${python} -m pyleash.bundle exited with ${code}`;
    if (options.json)
      printJson({ ok: false, error: { type: "BundleError", code: "BUNDLE_FAILED", message: message.replace(/^pyleash bundle: /, "") } });
    else process.stderr.write(`${message}\n`);
    return 1;
  }
  if (options.json) printJson({ ok: true, ...(JSON.parse(stdout) as Record<string, unknown>), interpreter: python });
  else process.stdout.write(stdout);
  return 0;
}
