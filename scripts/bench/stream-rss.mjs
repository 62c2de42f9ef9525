#!/usr/bin/env node
// Streams: time to consume 100,000 items as fast as possible, and the agent's RSS while a fast generator feeds a
// slow consumer (1 ms pause every 100 items): with credit-based backpressure it stays flat. After `npm run build`.
import { readFileSync } from "node:fs";
import { Worker } from "../../dist/index.js";

const N = 100_000;
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

const worker = await Worker.start();
try {
  for (const highWaterMark of [16, 64, 1024]) {
    const began = performance.now();
    let n = 0;
    for await (const _ of worker.stream("pyleash.demo:count", [N], {}, { highWaterMark })) n++;
    console.log(`fast consumer, highWaterMark ${highWaterMark}: ${n} items in ${Math.round(performance.now() - began)} ms`);
  }
  const samples = [];
  let n = 0;
  for await (const _ of worker.stream("pyleash.demo:count", [N])) {
    if (++n % 100 === 0) await new Promise((r) => setTimeout(r, 1));
    if (n % 10_000 === 0) samples.push(rssMiB(worker.pid).toFixed(1));
  }
  console.log(`slow consumer: agent RSS (MiB) every 10,000 items: ${samples.join(" ")}`);
} finally {
  await worker.close();
}
