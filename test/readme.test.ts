import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);
const root = new URL("..", import.meta.url).pathname;

it("runs the README's example as written and prints what it says", async () => {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(readme)![1]!.replace('from "pyleash"', `from ${JSON.stringify(join(root, "dist/index.js"))}`);
  const dir = await mkdtemp(join(tmpdir(), "pyleash-readme-"));
  try {
    await writeFile(join(dir, "example.mjs"), code);
    const { stdout } = await run(process.execPath, [join(dir, "example.mjs")], { timeout: 60_000 });
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toBe("2");
    expect(lines[1]).toMatch(/^stopped \[ 'flag', 'async-exc' \] [\d.]+$/);
    expect(lines[2]).toBe("blocked time.sleep(seconds)");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
