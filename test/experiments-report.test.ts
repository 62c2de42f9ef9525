import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { inflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const CLI = new URL("../dist/cli/main.js", import.meta.url).pathname;
const CHROMIUM = "/usr/bin/chromium";
// Enough experiments to feed all three charts.
const ONLY = "a0-async-exc-sleep-caveat,a0-terminate,a3-trace-kill,x-monitor-kill,x-main-lane-signal,x-switch-interval";

let dir: string;
let stdout: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pyleash-experiments-"));
  ({ stdout } = await run(process.execPath, [CLI, "experiments", "--quick", "--only", ONLY, "--out", dir, "--json"], { timeout: 170_000 }));
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("pyleash experiments --json --out DIR", () => {
  it("prints exactly the report it writes to experiments.json, in the documented shape", async () => {
    const printed = JSON.parse(stdout);
    expect(JSON.parse(await readFile(join(dir, "experiments.json"), "utf8"))).toEqual(printed);
    expect(printed.pythons[0]).toMatchObject({ path: expect.any(String), version: expect.stringMatching(/^3\.\d+\.\d+$/) });
    expect(printed.experiments.map((e: { id: string }) => e.id)).toEqual(ONLY.split(","));
    for (const e of printed.experiments) {
      expect(e).toMatchObject({
        id: expect.any(String),
        article: expect.any(String),
        claim: expect.any(String),
        method: expect.any(String),
      });
      expect(e.results[0]).toMatchObject({
        python: printed.pythons[0].version,
        verdict: expect.stringMatching(/^(holds|fails|n\/a)$/),
        evidence: expect.any(String),
      });
      expect(typeof e.results[0].figures).toBe("object");
    }
  });

  it("writes EXPERIMENTS.md with the verdict table and each claim quoted", async () => {
    const md = await readFile(join(dir, "EXPERIMENTS.md"), "utf8");
    expect(md).toMatch(/^\| experiment \| 3\.\d+\.\d+ \|$/m);
    expect(md).toContain("### `a0-async-exc-sleep-caveat`");
    expect(md).toContain("> 尝试sleep(100)");
  });

  it("writes a self-contained index.html whose three charts each draw marks", async () => {
    const html = await readFile(join(dir, "index.html"), "utf8");
    expect(html).not.toMatch(/<script|<link|https?:\/\/(?!www\.w3\.org)/);
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(3);
    for (const svg of svgs) {
      expect(svg).not.toContain("no data");
      const marks = (svg.match(/<circle |<rect (?!x="0" y="0")/g) ?? []).length;
      expect(marks).toBeGreaterThan(2);
      expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ L/);
    }
  });

  it.skipIf(!existsSync(CHROMIUM))("renders in headless Chromium to a screenshot that is not blank", { timeout: 90_000 }, async () => {
    const png = join(dir, "shot.png");
    const profile = join(dir, "chromium-profile");
    await run(
      CHROMIUM,
      [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        `--screenshot=${png}`,
        "--window-size=1200,2400",
        `file://${join(dir, "index.html")}`,
      ],
      { timeout: 80_000 },
    );
    expect((await stat(png)).size).toBeGreaterThan(20_000);
    const colours = distinctPixels(await readFile(png));
    expect(colours).toBeGreaterThan(20); // text, axes and every chart colour, not one flat fill
  });
});

/** Distinct RGB(A) pixel values in a PNG (8-bit, non-interlaced, as Chromium writes), from a sample of rows. */
function distinctPixels(png: Buffer): number {
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const channels = png[25] === 6 ? 4 : 3;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString("ascii", at + 4, at + 8);
    if (type === "IDAT") idat.push(png.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels + 1;
  const seen = new Set<string>();
  let previous = Buffer.alloc(stride - 1);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * stride]!;
    const line = Buffer.from(raw.subarray(y * stride + 1, (y + 1) * stride));
    for (let i = 0; i < line.length; i++) {
      const left = i >= channels ? line[i - channels]! : 0;
      const up = previous[i]!;
      const upLeft = i >= channels ? previous[i - channels]! : 0;
      const pred = filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, upLeft) : 0;
      line[i] = (line[i]! + pred) & 0xff;
    }
    if (y % 7 === 0) for (let x = 0; x < width; x += 3) seen.add(line.subarray(x * channels, x * channels + channels).toString("hex"));
    previous = line;
  }
  return seen.size;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}
