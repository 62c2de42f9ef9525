/** Everything a test starts is registered here and closed after it, pass or fail. */
import { afterEach } from "vitest";
import { Worker, type WorkerOptions } from "../../ts/index.js";

const open = new Set<{ close(): Promise<void> }>();

afterEach(async () => {
  const closing = [...open].map((r) => r.close());
  open.clear();
  await Promise.all(closing);
});

/** Start a worker that is closed after the current test. */
export async function startWorker(options: WorkerOptions = {}): Promise<Worker> {
  const worker = await Worker.start({ pythonPath: [FIXTURES], ...options });
  open.add(worker);
  return worker;
}

export function track<T extends { close(): Promise<void> }>(resource: T): T {
  open.add(resource);
  return resource;
}

export const FIXTURES = new URL("../fixtures", import.meta.url).pathname;
