/** The interpreters every behaviour is tested on: each CPython found, plus pyzmq venvs for both transports. */
import { findAllPythons } from "../../ts/python/discover.js";

export interface TestPython {
  /** e.g. "3.11.7 builtin" */
  label: string;
  python: string;
  transport: "builtin" | "pyzmq";
}

export async function testPythons(): Promise<TestPython[]> {
  const out: TestPython[] = [];
  for (const info of await findAllPythons()) {
    out.push({ label: `${info.version} builtin`, python: info.path, transport: "builtin" });
  }
  const venvs: string[] = JSON.parse(process.env.PYLEASH_TEST_PYZMQ ?? "[]");
  for (const python of venvs) {
    const version = /venv-pyzmq-([\d.]+)/.exec(python)?.[1] ?? python;
    out.push({ label: `${version} pyzmq`, python, transport: "pyzmq" });
  }
  return out;
}
