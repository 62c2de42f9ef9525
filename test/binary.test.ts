import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MessageTooLargeError, ResultNotSerializableError, UnsupportedValueError, type Worker } from "../ts/index.js";
import { startWorker } from "./support/cleanup.js";
import { testPythons } from "./support/pythons.js";

const pythons = await testPythons();
const MiB = 1 << 20;
// The 64 MiB round trip runs once per transport (on the first interpreter of each) to keep the suite's time down.
const bigOn = new Set(["builtin", "pyzmq"].map((t) => pythons.find((p) => p.transport === t)?.label));

/** `size` bytes counting up from 0 (mod 256), as test/fixtures/binary.py `make` builds them. */
function counting(size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < Math.min(size, 256); i++) out[i] = i;
  for (let filled = 256; filled < size; filled *= 2) out.copy(out, filled, 0, Math.min(filled, size - filled));
  return out;
}

function described(bytes: Uint8Array, type = "bytes"): { type: string; len: number; sha256: string } {
  return { type, len: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") };
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return kb / 1024;
}

describe.each(pythons)("binary data on Python $label", ({ label, python, transport }) => {
  const start = (options = {}): Promise<Worker> => startWorker({ python, transport, ...options });

  it("delivers Buffers and Uint8Arrays nested in arguments as bytes (empty, 1 byte, 1 MiB)", async () => {
    const worker = await start();
    const one = Buffer.from([255]);
    const mib = counting(MiB);
    const arrived = await worker.call("binary:arrived", [[Buffer.alloc(0), { one, deep: [[new Uint8Array(mib)]] }]], { k: mib });
    expect(arrived).toEqual({
      args: [[described(Buffer.alloc(0)), { one: described(one), deep: [[described(mib)]] }]],
      kwargs: { k: described(mib) },
    });
  });

  it("sends only a subarray's own bytes, wherever its view starts", async () => {
    const worker = await start();
    const whole = counting(4096);
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 1000, 300);
    const sub = whole.subarray(17, 29);
    expect(await worker.call("binary:arrived", [view, sub])).toEqual({ args: [described(view), described(sub)], kwargs: {} });
    expect(Buffer.compare((await worker.call("binary:identity", [sub])) as Buffer, sub)).toBe(0);
  });

  it("returns bytes, bytearray and memoryview results, nested too, as Buffers", async () => {
    const worker = await start();
    for (const kind of ["bytes", "bytearray", "memoryview", "slice"]) {
      const got = await worker.call("binary:make", [kind, 1000]);
      expect(Buffer.isBuffer(got), kind).toBe(true);
      expect((got as Buffer).equals(counting(1000)), kind).toBe(true);
    }
    const ints = (await worker.call("binary:make", ["ints", 3])) as Buffer;
    expect([...new Int32Array(ints.buffer.slice(ints.byteOffset, ints.byteOffset + ints.length))]).toEqual([0, 1, 2]);
    expect(await worker.call("binary:make", ["strided", 8])).toEqual(Buffer.from([0, 2, 4, 6]));
    const nested = (await worker.call("binary:nested", [MiB])) as { a: [Buffer, { b: Buffer }] };
    expect(nested.a[0].equals(counting(MiB))).toBe(true); // equals(): a deep toEqual walks a MiB byte by byte
    nested.a[0] = Buffer.alloc(0);
    expect(nested).toEqual({
      a: [Buffer.alloc(0), { b: Buffer.from([0]) }],
      empty: Buffer.alloc(0),
      view: Buffer.from([0, 1, 2]),
      n: 2n ** 70n,
    });
  });

  it("carries bytes in a task's arguments and its result", async () => {
    const worker = await start();
    const payload = counting(MiB + 3);
    const task = await worker.start("binary:identity", { args: [{ x: [payload, Buffer.alloc(0)] }] });
    const { x } = (await task.result) as { x: [Buffer, Buffer] };
    expect(x[0].equals(payload) && x[1].equals(Buffer.alloc(0))).toBe(true);
    const described_ = await (await worker.start("binary:describe", { args: [payload] })).result;
    expect(described_).toEqual(described(payload));
  });

  it.runIf(bigOn.has(label))("round-trips 64 MiB through a call that returns it", { timeout: 120_000 }, async () => {
    const worker = await start();
    const big = counting(64 * MiB);
    const back = (await worker.call("binary:identity", [big])) as Buffer;
    expect(back.length).toBe(big.length);
    expect(Buffer.compare(back, big)).toBe(0);
  });

  it("refuses a payload over maxMessageBytes at once, naming its size and the limit, and goes on", async () => {
    const worker = await start({ maxMessageBytes: MiB });
    const before = rssMiB(worker.pid);
    const refused = await worker.call("binary:describe", [{ a: Buffer.alloc(MiB / 2) }, Buffer.alloc(MiB / 2)]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(refused).toMatchObject({ limit: MiB, code: "MESSAGE_TOO_LARGE" });
    expect((refused as MessageTooLargeError).size).toBeGreaterThan(MiB);
    expect(rssMiB(worker.pid)).toBeLessThan(before + 8); // nothing reached the agent
    const result = await worker.call("binary:make", ["bytes", MiB + 1]).catch((e: unknown) => e);
    expect(result).toBeInstanceOf(ResultNotSerializableError);
    expect((result as Error).message).toMatch(/over the 1048576 byte limit/);
    expect(await worker.call("binary:describe", [Buffer.alloc(1000)])).toEqual(described(Buffer.alloc(1000)));
  });

  it("refuses typed arrays other than Uint8Array, and ArrayBuffers, naming where they sit", async () => {
    const worker = await start();
    for (const [value, type] of [
      [new Float64Array(2), "a Float64Array"],
      [new ArrayBuffer(4), "a ArrayBuffer"],
      [new DataView(new ArrayBuffer(4)), "a DataView"],
    ] as const) {
      const error = await worker.call("binary:describe", [{ a: [value] }]).catch((e: unknown) => e);
      expect(error, type).toBeInstanceOf(UnsupportedValueError);
      expect(error, type).toMatchObject({ path: "args[0].a[0]", valueType: type });
    }
  });
});
