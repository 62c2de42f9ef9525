import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What `import "pyleash"` loads and what `npm pack` ships, checked on the build (npm test builds first).
const run = promisify(execFile);
const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pyleash-package-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The dist/ modules a fresh `node` loads to import dist/index.js, as paths relative to dist/, via a module loader hook. */
async function modulesLoadedByImport(): Promise<string[]> {
  const log = join(dir, "loaded.txt");
  await writeFile(log, "");
  await writeFile(
    join(dir, "hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(log)}, url + "\\n");
  return next(url, context);
}
`,
  );
  await writeFile(
    join(dir, "register.mjs"),
    `import { register } from "node:module";\nregister(${JSON.stringify(new URL("hooks.mjs", `file://${dir}/`).href)});\n`,
  );
  const code = `const m = await import(${JSON.stringify(join(dist, "index.js"))}); if (typeof m.Worker !== "function") process.exit(3);`;
  await run(process.execPath, ["--import", join(dir, "register.mjs"), "--input-type=module", "-e", code], { timeout: 30_000 });
  const urls = (await readFile(log, "utf8")).split("\n").filter(Boolean);
  return urls.filter((u) => u.startsWith(`file://${dist}/`)).map((u) => u.slice(`file://${dist}/`.length));
}

/** Every dist/ module reachable from dist/index.js through static imports, re-exports and literal dynamic imports. */
async function importGraph(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const rel = queue.pop()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const source = await readFile(join(dist, rel), "utf8");
    for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)) {
      queue.push(posix.normalize(posix.join(posix.dirname(rel), m[1]!)));
    }
  }
  return seen;
}

describe("the library apart from the experiments and the CLI", () => {
  it("builds no experiment module into dist/ (they compile to experiments/dist/)", async () => {
    const { stdout } = await run("find", [dist, "-name", "*.js"]);
    const built = stdout
      .split("\n")
      .filter(Boolean)
      .map((f) => f.slice(dist.length + 1));
    expect(built).toContain("cli/experiments.js");
    expect(built.filter((f) => f.startsWith("experiments/") || /^(a[0-3]|x|runner|registry)\.js$/.test(f.split("/").pop()!))).toEqual([]);
  });

  it("loads no experiment or CLI module when a fresh node imports pyleash", async () => {
    const loaded = await modulesLoadedByImport();
    expect(loaded).toContain("index.js");
    expect(loaded).toContain("worker/worker.js");
    expect(loaded.filter((m) => m.startsWith("experiments/") || m.startsWith("cli/"))).toEqual([]);
  });

  it("reaches no experiment or CLI module from dist/index.js, dynamic imports included", async () => {
    const graph = [...(await importGraph("index.js"))];
    expect(graph).toContain("task/task.js");
    expect(graph.filter((m) => m.startsWith("experiments/") || m.startsWith("cli/"))).toEqual([]);
  });
});

describe("npm pack", () => {
  let files: string[];
  beforeAll(async () => {
    const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, timeout: 60_000 });
    files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  }, 70_000);

  it("ships the CLI as code but declares types only for the documented API", () => {
    expect(files).toContain("dist/index.d.ts");
    expect(files).toContain("dist/cli/main.js");
    expect(files.filter((f) => /^dist\/(cli|util)\/.*\.d\.ts(\.map)?$/.test(f))).toEqual([]);
  });

  it("ships no experiment code, TypeScript or Python (the experiments live in experiments/, run from a clone)", () => {
    expect(files).toContain("dist/cli/experiments.js"); // the command's loader, which says where the experiments are
    const experimentCode = files.filter(
      (f) =>
        /experiment/i.test(f) && !/^docs\/[^/]+\.md$/.test(f) && f !== "dist/cli/experiments.js" && f !== "dist/cli/experiments.js.map",
    );
    expect(experimentCode).toEqual([]);
  });

  it("ships no file holding an experiment's code under any name: no experiment's method text, no experiment module's docstring", async () => {
    const { EXPERIMENTS } = await import("../experiments/dist/registry.js");
    const pyDir = join(root, "experiments", "py", "pyleash_experiments");
    const docstrings = await Promise.all(
      (await readdir(pyDir)).filter((f) => f.endsWith(".py")).map(async (f) => (await readFile(join(pyDir, f), "utf8")).split("\n")[0]!),
    );
    expect(EXPERIMENTS.length).toBeGreaterThan(10);
    expect(docstrings.length).toBeGreaterThan(3);
    const marks = [...EXPERIMENTS.map((e) => e.method), ...docstrings.filter((d) => d.length > 30)];
    const holding: string[] = [];
    for (const file of files.filter((f) => /\.(js|py|ts)$/.test(f))) {
      const text = await readFile(join(root, file), "utf8");
      if (marks.some((m) => text.includes(m))) holding.push(file);
    }
    expect(holding).toEqual([]);
  });

  it("ships every declaration file that a shipped declaration imports", async () => {
    const shipped = new Set(files);
    const missing: string[] = [];
    for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
      const source = await readFile(join(root, file), "utf8");
      for (const m of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["'](\.{1,2}\/[^"']+)\.js["']/g)) {
        const target = posix.normalize(posix.join(dirname(file), `${m[1]}.d.ts`));
        if (!shipped.has(target)) missing.push(`${file} → ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("builds the Python package from py/ alone, where no experiment module lives", async () => {
    const pyproject = await readFile(join(root, "pyproject.toml"), "utf8");
    expect(pyproject).toMatch(/\[tool\.setuptools\.packages\.find\]\s*where = \["py"\]\s*include = \["pyleash\*"\]/);
    const listed = await run("git", ["ls-files", "py"], { cwd: root });
    expect(listed.stdout.split("\n").filter((f) => /experiment/i.test(f) && !f.startsWith("py/tests/"))).toEqual([]);
  });

  it("gives, installed without the experiments, an error (code EXPERIMENTS_ABSENT) for `pyleash experiments` that says to run them from a clone", async () => {
    const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], { cwd: root, timeout: 60_000 });
    const tarball = join(dir, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
    await run("tar", ["-xzf", tarball, "-C", dir]);
    await symlink(join(root, "node_modules"), join(dir, "package", "node_modules"));
    const cli = join(dir, "package", "dist", "cli", "main.js");
    const failed = await run(process.execPath, [cli, "experiments", "--quick", "--json", "--out", join(dir, "report")], {
      timeout: 30_000,
    }).then(
      () => null,
      (error: { code: number; stdout: string }) => error,
    );
    expect(failed?.code).toBe(1);
    const printed = JSON.parse(failed!.stdout);
    expect(printed).toMatchObject({ experiments: [], error: { code: "EXPERIMENTS_ABSENT" } });
    expect(printed.error.message).toContain("clone of the repository");
  }, 70_000);

  it("ships the agent with its one pyproject.toml", () => {
    expect(files).toContain("py/pyleash/__main__.py");
    expect(files).toContain("py/pyleash/blockers.py");
    expect(files).toContain("pyproject.toml");
    expect(files).not.toContain("py/pyproject.toml");
    expect(files.filter((f) => f.includes("__pycache__"))).toEqual([]);
  });
});
