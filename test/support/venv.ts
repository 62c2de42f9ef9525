/** Makes (once, cached under .cache/) a venv with pyzmq for each interpreter where pip can install it. */
import { execFile } from "node:child_process";
import { access, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { findAllPythons } from "../../ts/python/discover.js";

const run = promisify(execFile);
const CACHE = join(import.meta.dirname, "..", "..", ".cache");

export interface Venv {
  base: string;
  python: string;
}

export async function pyzmqVenvs(): Promise<Venv[] & { notes: string[] }> {
  const pythons = await findAllPythons();
  const notes: string[] = [];
  const made = await Promise.all(
    pythons.map(async (info): Promise<Venv | undefined> => {
      const dir = join(CACHE, `venv-pyzmq-${info.version}`);
      const python = join(dir, "bin", "python");
      if (await importsZmq(python)) return { base: info.path, python };
      // Built aside and renamed into place, so two test runs sharing .cache never see a half-made venv.
      const scratch = `${dir}.tmp-${process.pid}`;
      try {
        await run(info.path, ["-m", "venv", "--clear", scratch], { timeout: 120_000 });
        await run(join(scratch, "bin", "python"), ["-m", "pip", "install", "--quiet", "pyzmq"], { timeout: 300_000 });
        await rm(dir, { recursive: true, force: true });
        await rename(scratch, dir); // bin/python finds its site-packages through pyvenv.cfg beside it, wherever it is
      } catch (error) {
        await rm(scratch, { recursive: true, force: true });
        const why = String((error as { stderr?: string }).stderr ?? error).trim().split("\n").pop();
        notes.push(`no pyzmq venv for Python ${info.version}: pip could not install pyzmq (${why}); its pyzmq tests are skipped`);
        return undefined;
      }
      if (await importsZmq(python)) return { base: info.path, python };
      notes.push(`pyzmq installed for Python ${info.version} but does not import; its pyzmq tests are skipped`);
      return undefined;
    }),
  );
  const venvs = made.filter((v): v is Venv => v !== undefined);
  return Object.assign(venvs, { notes });
}

async function importsZmq(python: string): Promise<boolean> {
  try {
    await access(python);
    await run(python, ["-c", "import zmq"], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}
