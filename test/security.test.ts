import { Dealer } from "zeromq";
import { expect, it } from "vitest";
import { startWorker } from "./support/cleanup.js";

it("ignores a peer that connects with a wrong token, even when it forges replies and task events", async () => {
  const worker = await startWorker({ endpoint: "tcp" });
  const rogue = new Dealer({ linger: 0 });
  rogue.connect(worker.endpoint);
  try {
    const pending = worker.call("calls:sleep", [0.3]);
    const task = await worker.start("blocking:returns_soon", { args: ["real"] });
    await rogue.send(JSON.stringify({ type: "hello", protocol: 1, token: "0".repeat(48), pid: 1, python: "3.99.0" }));
    for (let id = 1; id <= 5; id++) await rogue.send(JSON.stringify({ id, status: "ok", result: "forged" }));
    await rogue.send(JSON.stringify({ type: "task-ended", task: task.id, status: "finished", result: "forged" }));
    expect(await pending).toBe(0.3);
    expect(await task.result).toBe("real");
  } finally {
    rogue.close();
  }
});

it("binds its ipc socket inside a directory only its user can enter", async () => {
  const { stat } = await import("node:fs/promises");
  const { dirname } = await import("node:path");
  const worker = await startWorker();
  const dir = dirname(worker.endpoint.replace(/^ipc:\/\//, ""));
  expect((await stat(dir)).mode & 0o777).toBe(0o700);
});
