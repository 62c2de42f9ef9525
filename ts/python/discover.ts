/** Finding Python interpreters: by path, by version ("3.12"), by name, or all of them ("all"). */
import { execFile } from "node:child_process";
import { access, constants, realpath, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { promisify } from "node:util";
import { PythonNotFoundError, PythonVersionError } from "../errors.js";

const run = promisify(execFile);

/** What a probe of one interpreter found. */
export interface PythonInfo {
  /** The executable (`sys.executable`: a virtual environment's own interpreter, not the base one it links to). */
  path: string;
  /** e.g. "3.11.7" */
  version: string;
  implementation: string;
  /** Whether `import zmq` works in this interpreter. */
  pyzmq: boolean;
  /** A free-threaded build (`Py_GIL_DISABLED`, 3.13t and later): experiments that hinge on the GIL do not apply. */
  freeThreaded: boolean;
}

export const MIN_VERSION: readonly [number, number] = [3, 8];

/** The interpreter asked for when none is named: env PYLEASH_PYTHON, else `python3`. */
export function defaultPythonSpec(): string {
  return process.env.PYLEASH_PYTHON || "python3";
}

const located = new Map<string, Promise<string>>();

/**
 * Turn a spec into an executable path without running Python: a path is checked, a version like
 * "3.12" is looked up in pyenv then as `python3.12` on PATH, a bare name is looked up on PATH.
 */
export function locatePython(spec: string = defaultPythonSpec()): Promise<string> {
  let found = located.get(spec);
  if (!found) {
    found = locate(spec);
    found.catch(() => located.delete(spec));
    located.set(spec, found);
  }
  return found;
}

async function locate(spec: string): Promise<string> {
  const tried: string[] = [];
  if (spec.includes("/")) {
    const path = resolve(spec);
    tried.push(path);
    if (await isDirectory(path)) {
      const inside = join(path, "bin", "python");
      const hint = (await isExecutable(inside)) ? `; a virtual environment's interpreter is ${inside}` : "";
      throw new PythonNotFoundError(spec, tried, `${path} is a directory, not an interpreter${hint}`);
    }
    if (await isExecutable(path)) return path;
    throw new PythonNotFoundError(spec, tried);
  }
  if (/^\d+(\.\d+){0,2}$/.test(spec)) {
    const pyenv = await pyenvInterpreters();
    const match = pyenv.find((path) => `${versionOfPyenvPath(path)}.`.startsWith(`${spec}.`));
    if (match) return match;
    if (pyenv.length) tried.push(`pyenv versions ${pyenv.map(versionOfPyenvPath).join(", ")}`);
    const onPath = await whichOnPath(`python${spec.split(".").slice(0, 2).join(".")}`, tried);
    if (onPath) return onPath;
    throw new PythonNotFoundError(spec, tried);
  }
  const onPath = await whichOnPath(spec, tried);
  if (onPath) return onPath;
  throw new PythonNotFoundError(spec, tried);
}

/** Run the interpreter once and report what it is; refuses anything older than CPython 3.8. */
export async function probePython(spec: string = defaultPythonSpec()): Promise<PythonInfo> {
  const path = await locatePython(spec);
  const info = await probe(path);
  if (!info) throw new PythonNotFoundError(spec, [path], "it did not run");
  if (!isSupported(info)) throw new PythonVersionError(info.path, info.version);
  return info;
}

/** Every CPython >= 3.8 on this machine (pyenv's and PATH's), each once, oldest first. */
export async function findAllPythons(): Promise<PythonInfo[]> {
  const candidates = new Set<string>(await pyenvInterpreters());
  for (const minor of [8, 9, 10, 11, 12, 13, 14, 15]) {
    const path = await whichOnPath(`python3.${minor}`, []);
    if (path) candidates.add(path);
  }
  const fallback = await whichOnPath("python3", []);
  if (fallback) candidates.add(fallback);
  const infos = await Promise.all([...candidates].map(probe));
  const byPath = new Map<string, PythonInfo>();
  for (const info of infos) {
    if (!info || !isSupported(info)) continue;
    const real = await realpath(info.path).catch(() => info.path); // python3 and python3.11 are one interpreter
    if (!byPath.has(real)) byPath.set(real, info);
  }
  return [...byPath.values()].sort((a, b) => compareVersions(a.version, b.version));
}

/** Expand specs ("all", "3.12", a path) into interpreters, in order and without repeats. */
export async function resolvePythons(specs: string[]): Promise<PythonInfo[]> {
  const out = new Map<string, PythonInfo>();
  for (const spec of specs.length ? specs : [defaultPythonSpec()]) {
    const infos = spec === "all" ? await findAllPythons() : [await probePython(spec)];
    for (const info of infos) if (!out.has(info.path)) out.set(info.path, info);
  }
  return [...out.values()];
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((n) => parseInt(n, 10));
  const pb = b.split(".").map((n) => parseInt(n, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function isSupported(info: PythonInfo): boolean {
  return info.implementation === "CPython" && compareVersions(info.version, MIN_VERSION.join(".")) >= 0;
}

// Prints JSON on any Python 2.7+ so that old interpreters are reported, not crashed on.
const PROBE = [
  "import json, os, platform, sys, sysconfig",
  "try:\n import zmq\n z = True\nexcept Exception:\n z = False",
  "print(json.dumps({'path': os.path.abspath(sys.executable), 'version': platform.python_version(),",
  " 'implementation': platform.python_implementation(), 'pyzmq': z,",
  " 'freeThreaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))",
].join("\n");

async function probe(path: string): Promise<PythonInfo | undefined> {
  try {
    const { stdout } = await run(path, ["-c", PROBE], { timeout: 20_000, env: { ...process.env, PYTHONPATH: "" } });
    return JSON.parse(stdout.trim().split("\n").pop() ?? "") as PythonInfo;
  } catch {
    return undefined;
  }
}

let pyenvCache: Promise<string[]> | undefined;

/** `pyenv versions --bare`, as interpreter paths; empty when pyenv is absent. */
function pyenvInterpreters(): Promise<string[]> {
  pyenvCache ??= (async () => {
    try {
      const [{ stdout: root }, { stdout: versions }] = await Promise.all([
        run("pyenv", ["root"], { timeout: 10_000 }),
        run("pyenv", ["versions", "--bare"], { timeout: 10_000 }),
      ]);
      const paths: string[] = [];
      for (const version of versions
        .split("\n")
        .map((v) => v.trim())
        .filter(Boolean)) {
        const path = join(root.trim(), "versions", version, "bin", "python");
        if (await isExecutable(path)) paths.push(path);
      }
      return paths;
    } catch {
      return [];
    }
  })();
  return pyenvCache;
}

function versionOfPyenvPath(path: string): string | undefined {
  return /\/versions\/([^/]+)\/bin\/python$/.exec(path)?.[1];
}

/** PATH lookup without spawning; pyenv shims are resolved to the interpreter they would run. */
async function whichOnPath(name: string, tried: string[]): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const path = join(dir, name);
    if (!tried.includes(path)) tried.push(path);
    if (!(await isExecutable(path))) continue;
    if (!dir.endsWith("/shims")) return realpath(path);
    try {
      const { stdout } = await run("pyenv", ["which", name], { timeout: 10_000 });
      return stdout.trim();
    } catch {}
  }
  return undefined;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
