import { describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
  MessageTooLargeError,
  ProtocolError,
  ResultNotSerializableError,
  TargetNotAllowedError,
  TargetNotFoundError,
  UnsupportedValueError,
} from "../ts/index.js";
import { startWorker } from "./support/cleanup.js";
import { testPythons } from "./support/pythons.js";

const pythons = await testPythons();

describe.each(pythons)("values on Python $label", ({ python, transport }) => {
  it("carries integers beyond 2^53 exactly both ways, as BigInt and int", async () => {
    const worker = await startWorker({ python, transport });
    const big = [2n ** 70n, -(2n ** 64n), 12345678901234567890123456789n];
    expect(await worker.call("calls:echo", big)).toEqual({ args: big, kwargs: {} });
    expect(await worker.call("builtins:pow", [2, 70])).toBe(2n ** 70n);
    expect(await worker.call("builtins:pow", [2, 52])).toBe(2 ** 52); // within ±(2^53-1): a number
    expect(await worker.call("builtins:pow", [-2, 53])).toBe(-(2n ** 53n));
  });

  it("sends an integral number beyond 2^53 as the exact integer its double holds, both ways", async () => {
    const worker = await startWorker({ python, transport });
    expect(await worker.call("builtins:str", [2 ** 60])).toBe(String(2n ** 60n)); // not JSON's 1152921504606847000
    expect(await worker.call("builtins:str", [-(2 ** 53)])).toBe(String(-(2n ** 53n)));
    expect(await worker.call("builtins:str", [1e21])).toBe(String(BigInt(1e21))); // an int, not a float's 1e+21
    expect(await worker.call("builtins:str", [Number.MAX_SAFE_INTEGER])).toBe(String(Number.MAX_SAFE_INTEGER));
    expect(await worker.call("builtins:int", [2 ** 60])).toBe(2n ** 60n); // back as the BigInt of the same value
    // Python → TypeScript: a float beyond 2^53 stays a number, exactly; an int at 2^53 is a BigInt.
    expect(await worker.call("builtins:float", [2 ** 60])).toBe(2 ** 60);
    expect(await worker.call("builtins:eval", ["2.0 ** 70"])).toBe(2 ** 70);
    expect(await worker.call("builtins:eval", ["2 ** 53"])).toBe(2n ** 53n);
  });

  it("carries integers up to CPython's 4300-digit int/str limit, and refuses longer ones with a typed error each way", async () => {
    const worker = await startWorker({ python, transport });
    expect(await worker.call("builtins:len", [String(10n ** 4299n)])).toBe(4300);
    expect(await worker.call("math:log10", [10n ** 4299n])).toBe(4299); // 4300 digits cross
    const refused = await worker.call("math:log10", [10n ** 4300n]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UnsupportedValueError); // refused before it is sent, not the agent's ProtocolError
    expect((refused as Error).message).toMatch(/4301 digits.*4300-digit/);
    const back = await worker.call("builtins:pow", [10, 4300]).catch((e: unknown) => e);
    expect(back).toBeInstanceOf(ResultNotSerializableError);
    expect(await worker.call("builtins:len", [[1]])).toBe(1); // the agent goes on
  });

  it("keeps -0 as -0 both ways", async () => {
    const worker = await startWorker({ python, transport });
    const echoed = (await worker.call("calls:echo", [-0, { z: -0 }])) as { args: [number, { z: number }] };
    expect(Object.is(echoed.args[0], -0)).toBe(true);
    expect(Object.is(echoed.args[1].z, -0)).toBe(true);
    expect(await worker.call("builtins:repr", [-0])).toBe("-0.0");
  });

  it("names the type and the path of a result that cannot cross", async () => {
    const worker = await startWorker({ python, transport });
    const error = await worker.call("builtins:eval", ["{'a': [1, {2}]}"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResultNotSerializableError);
    expect(error).toMatchObject({ pythonType: "set", path: "result.a[1]" });
  });

  it("refuses a circular result at once, naming where it loops, and serves the next call", async () => {
    const worker = await startWorker({ python, transport });
    // a = [1, 2, a]: JSON calls it circular; the search for the offender once walked it a million times, ever deeper.
    const circular = await worker
      .call("builtins:eval", ["(lambda a: (a.append(a), {'x': [0, {'y': a}]})[1])([1, 2])"])
      .catch((e: unknown) => e);
    expect(circular).toBeInstanceOf(ResultNotSerializableError);
    expect(circular).toMatchObject({ pythonType: "circular reference", path: "result.x[1].y[2]" });
    expect(await worker.call("builtins:len", [[1]])).toBe(1);
  });

  it("answers a raw request nested past the agent's decoder (a ProtocolError where it cannot decode it), then serves the next call", async () => {
    const worker = await startWorker({ python, transport });
    let deep: unknown = [];
    for (let i = 0; i < 3_000; i++) deep = [deep];
    // 3.8-3.12 decode ~1,000 levels on a thread, 3.13 more: either way the request is answered.
    const answer = await worker.request({ type: "call", target: "builtins:len", args: [deep], kwargs: {} }).catch((e: unknown) => e);
    if (answer !== 1) expect(answer).toBeInstanceOf(ProtocolError);
    expect(await worker.call("math:floor", [2.7])).toBe(2);
  });

  it("refuses a request over maxMessageBytes before sending it, returns a result over it as a typed error, and goes on", async () => {
    const worker = await startWorker({ python, transport, maxMessageBytes: 4096 });
    const refused = await worker.call("calls:echo", ["x".repeat(5000)]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MessageTooLargeError);
    expect(refused).toMatchObject({ limit: 4096, code: "MESSAGE_TOO_LARGE" });
    expect((refused as MessageTooLargeError).size).toBeGreaterThan(5000);
    await expect(worker.call("calls:blob", [10_000])).rejects.toBeInstanceOf(ResultNotSerializableError);
    expect(await worker.call("math:floor", [2.7])).toBe(2);
  });
});

describe("values refused before anything is sent", () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  let deep: unknown = [];
  for (let i = 0; i < 600; i++) deep = [deep];
  class Point {
    x = 1;
  }
  const cases: [string, unknown[], Record<string, unknown>, string, string][] = [
    ["a Map", [new Map([["a", 1]])], {}, "args[0]", "a Map"],
    ["a Set", [], { s: new Set([1]) }, "kwargs.s", "a Set"],
    ["NaN", [{ x: [1, NaN] }], {}, "args[0].x[1]", "NaN"],
    ["Infinity", [Infinity], {}, "args[0]", "Infinity"],
    ["undefined in an array", [1, undefined], {}, "args[1]", "undefined"],
    ["a Float32Array", [new Float32Array(1)], {}, "args[0]", "a Float32Array"], // a Buffer or Uint8Array crosses: test/binary.test.ts
    ["an ArrayBuffer", [], { data: new ArrayBuffer(2) }, "kwargs.data", "a ArrayBuffer"],
    ["a function", [() => 1], {}, "args[0]", "a function"],
    ["a symbol", [Symbol("s")], {}, "args[0]", "a symbol"],
    ["a Date", [new Date(0)], {}, "args[0]", "a Date"],
    ["a class instance", [new Point()], {}, "args[0]", "a Point"],
    ["the reserved tag key", [{ __pyleash__: "int", value: "1" }], {}, "args[0].__pyleash__", 'the key "__pyleash__"'],
    ["a circular reference", [circular], {}, "args[0].self", "a circular reference"],
    ["nesting deeper than 500", [deep], {}, `args${"[0]".repeat(500)}`, "a value"],
  ];

  it.each(cases)("refuses %s, naming where it sits", async (_name, args, kwargs, path, valueType) => {
    const worker = await startWorker();
    const error = await worker.call("calls:echo", args, kwargs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedValueError);
    expect(error).toMatchObject({ path, valueType, code: "UNSUPPORTED_VALUE" });
  });

  it("leaves out an object property whose value is undefined, as JSON.stringify does", async () => {
    const worker = await startWorker();
    expect(await worker.call("calls:echo", [{ a: undefined, b: 1 }])).toEqual({ args: [{ b: 1 }], kwargs: {} });
  });
});

describe("targets", () => {
  it("restricts the agent to allowedModules: anything else is refused in the agent, for calls and tasks", async () => {
    const worker = await startWorker({ allowedModules: ["math", "calls"] });
    expect(await worker.call("math:floor", [2.7])).toBe(2);
    expect(await worker.call("calls:add", [1, 2])).toBe(3);
    for (const target of ["os:system", "builtins:eval", "mathx:f"]) {
      await expect(worker.call(target, ["echo no"])).rejects.toBeInstanceOf(TargetNotAllowedError);
    }
    await expect(worker.start("os:system", { args: ["echo no"] })).rejects.toBeInstanceOf(TargetNotAllowedError);
    expect(await worker.call("math:floor", [3.5])).toBe(3);
  });

  it("answers a malformed target sent raw with a TargetNotFoundError", async () => {
    const worker = await startWorker();
    await expect(worker.request({ type: "call", target: "../x:y", args: [], kwargs: {} })).rejects.toBeInstanceOf(TargetNotFoundError);
  });

  it("refuses an allowedModules entry that is not a module name", async () => {
    await expect(startWorker({ allowedModules: ["os; rm"] })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("strings", () => {
  it("carries a lone surrogate both ways, as JavaScript allows it in a string", async () => {
    const worker = await startWorker();
    expect(await worker.call("calls:echo", ["\ud800", "é"])).toEqual({ args: ["\ud800", "é"], kwargs: {} });
  });
});
