/** Makes (once, cached under .cache/) a venv with pyzmq for each interpreter where pip can install it. */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
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
      try {
        await run(info.path, ["-m", "venv", "--clear", dir], { timeout: 120_000 });
        await run(python, ["-m", "pip", "install", "--quiet", "pyzmq"], { timeout: 300_000 });
      } catch (error) {
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
