/** Makes (once, cached under .cache/) a venv with pyzmq for each interpreter where pip can install it. */
import { execFile } from "node:child_process";
import { access, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { findAllPythons } from "../../ts/python/discover.js";

const run = promisify(execFile);
const CACHE = join(import.meta.dirname, "..", "..", ".cache");
/** How long a failed install is remembered (a `.unavailable` file beside the venv), so each test run does not wait on pip again. */
const REMEMBER_FAILURE_MS = 12 * 3600_000;

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
      const failed = await recentFailure(`${dir}.unavailable`);
      if (failed !== undefined) {
        notes.push(
          `no pyzmq venv for Python ${info.version}: ${failed} (remembered; delete ${dir}.unavailable to try again); its pyzmq tests are skipped`,
        );
        return undefined;
      }
      // Built aside and renamed into place, so two test runs sharing .cache never see a half-made venv.
      const scratch = `${dir}.tmp-${process.pid}`;
      try {
        await run(info.path, ["-m", "venv", "--clear", scratch], { timeout: 120_000 });
        await run(join(scratch, "bin", "python"), ["-m", "pip", "install", "--quiet", "pyzmq"], { timeout: 300_000 });
        await rm(dir, { recursive: true, force: true });
        await rename(scratch, dir); // bin/python finds its site-packages through pyvenv.cfg beside it, wherever it is
      } catch (error) {
        await rm(scratch, { recursive: true, force: true });
        const why = String((error as { stderr?: string }).stderr ?? error)
          .trim()
          .split("\n")
          .pop();
        await writeFile(`${dir}.unavailable`, `pip could not install pyzmq (${why})`);
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

/** Why the last install failed, if it failed less than REMEMBER_FAILURE_MS ago. */
async function recentFailure(marker: string): Promise<string | undefined> {
  try {
    if (Date.now() - (await stat(marker)).mtimeMs > REMEMBER_FAILURE_MS) return undefined;
    return (await readFile(marker, "utf8")).trim();
  } catch {
    return undefined;
  }
}

/** Ray's wheels cover these minors; the index here has them for 3.11 only, so it is tried first. */
const RAY_MINORS = ["3.11", "3.12", "3.10", "3.13", "3.9"];

/**
 * Makes (once, cached as .cache/venv-ray-<version>) a venv with ray and pyzmq on the first interpreter where pip
 * can install them offline; its python, or undefined with a note saying why the Ray tests are skipped.
 */
export async function rayVenv(): Promise<{ python: string | undefined; note: string }> {
  const pythons = await findAllPythons();
  const order = RAY_MINORS.flatMap((minor) => pythons.filter((info) => `${info.version}.`.startsWith(`${minor}.`)));
  const why: string[] = [];
  for (const info of order) {
    const dir = join(CACHE, `venv-ray-${info.version}`);
    const python = join(dir, "bin", "python");
    if (await imports(python, "ray, zmq")) return { python, note: `Ray tests use ${python}` };
    const scratch = `${dir}.tmp-${process.pid}`;
    try {
      await run(info.path, ["-m", "venv", "--clear", scratch], { timeout: 120_000 });
      // --retries 0: an index that cannot be reached (offline) fails at once instead of backing off per package.
      await run(join(scratch, "bin", "python"), ["-m", "pip", "install", "--quiet", "--retries", "0", "ray", "pyzmq"], {
        timeout: 900_000,
      });
      await rm(dir, { recursive: true, force: true });
      await rename(scratch, dir);
    } catch (error) {
      await rm(scratch, { recursive: true, force: true });
      why.push(
        `${info.version}: ${String((error as { stderr?: string }).stderr ?? error)
          .trim()
          .split("\n")
          .pop()}`,
      );
      continue;
    }
    if (await imports(python, "ray, zmq")) return { python, note: `Ray tests use ${python}` };
    why.push(`${info.version}: ray installed but does not import`);
  }
  const tried = why.length ? why.join("; ") : `no CPython ${RAY_MINORS.join("/")} found`;
  return { python: undefined, note: `no Ray venv: pip could not install ray (${tried}); the Ray tests and bench are skipped` };
}

async function importsZmq(python: string): Promise<boolean> {
  return imports(python, "zmq");
}

async function imports(python: string, modules: string): Promise<boolean> {
  try {
    await access(python);
    await run(python, ["-c", `import ${modules}`], { timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}
