/** bench.json's assembly and its two renderings: report/BENCH.md and the summary printed to stdout. */

const fmt = (v, digits = 1) => (v === null || v === undefined ? "—" : typeof v === "number" ? v.toFixed(digits) : String(v));
const int = (v) => (typeof v === "number" ? Math.round(v).toLocaleString("en-US") : "—");
const num = (v) => (typeof v === "number" && Math.abs(v) >= 1000 ? int(v) : typeof v === "number" && Math.abs(v) < 10 ? fmt(v, 2) : fmt(v));
const metText = (m) => (m === true ? "met" : m === false ? "NOT met" : "n/a");

/** Rows of [cells] per table, shared by both renderings. */
function tables(report) {
  const out = [];
  const rtt = report.callRttUs ?? {};
  out.push({
    title: "callRttUs — serial round trip of math.floor(7), µs",
    head: ["contender", "p50", "p99", "min", "max"],
    rows: Object.entries(rtt).map(([k, s]) => [k, fmt(s.p50), fmt(s.p99), fmt(s.min), fmt(s.max)]),
  });
  const ctx = report.callCtxSwitches;
  if (ctx) {
    const both = (p) => `${fmt(p?.voluntary, 2)} / ${fmt(p?.nonvoluntary, 2)}`;
    const total = (v) => (v ? v.node.voluntary + v.node.nonvoluntary + v.python.voluntary + v.python.nonvoluntary : null);
    out.push({
      title: "callCtxSwitches — per serial round trip: context switches (voluntary / nonvoluntary) and CPU time of each process",
      head: ["contender", "Node process", "Python process", "total", "Node CPU µs", "Python CPU µs"],
      rows: Object.entries(ctx).map(([k, v]) => [
        k,
        both(v.node),
        both(v.python),
        fmt(total(v), 2),
        fmt(v.node.cpuUs),
        fmt(v.python.cpuUs),
      ]),
    });
  }
  const rate = report.pipelinedCallsPerS ?? {};
  const rateDetail = report.detail?.pipelinedCallsPerS ?? {};
  out.push({
    title: `pipelinedCallsPerS — ${report.config.pipelinedCalls} calls, windows of ${report.config.window}`,
    head: ["contender", "median calls/s", "min", "max"],
    rows: Object.entries(rate).map(([k, v]) => [k, int(v), int(rateDetail[k]?.min), int(rateDetail[k]?.max)]),
  });
  const sc = report.stoppableCallCost;
  if (sc) {
    const cell = (v) => (v ? `${fmt(v.p50)} / ${fmt(v.cpuUs)}${v.ratio ? ` (${fmt(v.ratio, 2)}× / ${fmt(v.cpuRatio, 2)}×)` : ""}` : "—");
    out.push({
      title: "stoppableCallCost — serial math.floor(7): p50 µs / Node + agent CPU µs per call (ratio to plain, per round)",
      head: ["build", "plain", "timeoutMs", "signal"],
      rows: Object.entries(sc).map(([k, m]) => [k, cell(m.plain), cell(m.timeoutMs), cell(m.signal)]),
    });
  }
  const js = report.controllerJsUs;
  if (js) {
    out.push({
      title:
        "controllerJsUs — the controller's own JavaScript per serial call (over an in-process router: no native code, no agent), Node CPU µs",
      head: ["build", "plain", "timeoutMs", "signal"],
      rows: Object.entries(js).map(([k, m]) => [k, fmt(m.plain, 2), fmt(m.timeoutMs, 2), fmt(m.signal, 2)]),
    });
  }
  const pool = report.pool;
  if (pool) {
    const d = report.detail?.pool ?? {};
    const row = (what, side, figures, spread, digits) => [
      what,
      side,
      figures[side] === undefined ? "—" : digits ? fmt(figures[side], 1) : int(figures[side]),
      int(spread?.[side]?.min),
      int(spread?.[side]?.max),
    ];
    out.push({
      title: `pool — a Pool of ${pool.size} agents beside one agent and pythonia, in one process (pool/pythonia ${fmt(pool.poolVsPythonia, 2)}×; cpu-bound pool/agent ${fmt(pool.poolVsWorkerCpuBound, 2)}×)`,
      head: ["measure", "side", "median", "min", "max"],
      rows: [
        ...["pool", "worker", "pythonia"].map((k) =>
          row(`pipelined calls/s (windows of ${report.config.window})`, k, pool.pipelinedCallsPerS, d.pipelined, false),
        ),
        ...["pool", "worker"].map((k) =>
          row(`calls/s of a ${report.config.poolCpuMs} ms pure-Python loop`, k, pool.cpuBoundCallsPerS, d.cpuBound, true),
        ),
        ...(pool.mapItemsPerS
          ? [
              ...["pool", "worker"].map((k) =>
                row(
                  `map: math.floor items/s (${report.config.mapItems} items; ${fmt(pool.mapVsPythonia, 1)}× pythonia's pipelined calls/s)`,
                  k,
                  pool.mapItemsPerS,
                  d.mapped,
                  false,
                ),
              ),
              ...["pool", "worker"].map((k) =>
                row(
                  `map: items/s of the ${report.config.poolCpuMs} ms loop (pool.map/worker.map ${fmt(pool.poolMapVsWorkerMapCpuBound, 2)}×)`,
                  k,
                  pool.cpuBoundMapItemsPerS,
                  d.mappedCpu,
                  true,
                ),
              ),
            ]
          : []),
      ],
    });
  }
  const cold = report.coldStartMs ?? {};
  const coldDetail = report.detail?.coldStartMs?.freshProcess ?? {};
  const warm = report.detail?.coldStartMs?.pyleashWarmProcessStartAndFirstCall ?? {};
  out.push({
    title: "coldStartMs — fresh node process: import + start + first call, ms",
    head: ["contender", "median", "min", "max", "in a warm process (start + call)"],
    rows: Object.entries(cold).map(([k, v]) => [
      k,
      fmt(v),
      fmt(coldDetail[k]?.min),
      fmt(coldDetail[k]?.max),
      warm[k] ? fmt(warm[k].median) : "—",
    ]),
  });
  const mem = report.memoryMb ?? {};
  const rssDetail = report.detail?.memoryMb?.rss ?? {};
  out.push({
    title: "memoryMb — MiB",
    head: ["what", "median", "min", "max"],
    rows: [
      ...Object.entries(mem.idleAgent ?? {}).map(([k, v]) => [
        `idle agent RSS, ${k}`,
        fmt(v),
        fmt(rssDetail[k]?.min),
        fmt(rssDetail[k]?.max),
      ]),
      ["pythonia's Python RSS", fmt(mem.pythonia), fmt(rssDetail.pythonia?.min), fmt(rssDetail.pythonia?.max)],
      ["agent RSS growth with 1 000 sleeping thread tasks", fmt(mem.agentWith1000TasksMb), "", ""],
      ["agent RSS with 1 000 sleeping thread tasks (absolute)", fmt(mem.agentWith1000TasksRssMb), "", ""],
      [`controller heap growth after ${report.config.heapCalls} calls`, fmt(mem.controllerHeapGrowthMb, 2), "", ""],
    ],
  });
  const stop = report.stopLatencyMs;
  if (stop) {
    const d = report.detail?.stopLatencyMs ?? {};
    const cell = (k, b) => {
      const c = d[k]?.[b];
      const failed = Object.entries(c?.outcomes ?? {})
        .filter(([o]) => o !== "stopped")
        .map(([o, n]) => `${n} ${o}`);
      if (c?.errors) failed.push(`${c.errors} errors`);
      if (c?.notStarted) failed.push(`${c.notStarted} not started`);
      if (c?.startLost) failed.push(`${c.startLost} start unanswered`);
      const note = failed.length ? ` (n=${c.n}; ${failed.join(", ")})` : "";
      return stop[k]?.[b] ? `${fmt(stop[k][b].p50, 2)} / ${fmt(stop[k][b].p99, 2)}${note}` : "—";
    };
    out.push({
      title: "stopLatencyMs — stop() called → report at the controller, ms (p50 / p99); agent-side latencyMs p50 beside",
      head: ["strategy", "0 busy threads", "agent p50", "8 busy threads", "agent p50"],
      rows: Object.keys(stop).map((k) => [
        k,
        cell(k, "0"),
        fmt(d[k]?.["0"]?.agentLatencyMsP50, 2),
        cell(k, "8"),
        fmt(d[k]?.["8"]?.agentLatencyMsP50, 2),
      ]),
    });
  }
  const sws = report.swallowStopMs;
  if (sws) {
    const d = report.detail?.swallowStopMs ?? {};
    const swallowed = (k) =>
      Object.entries(d[k]?.swallowed ?? {})
        .map(([n, c]) => `${n}×${c}`)
        .join(" ");
    const failed = (k) =>
      Object.entries(d[k]?.outcomes ?? {})
        .filter(([o]) => o !== "stopped")
        .map(([o, n]) => `${n} ${o}`)
        .join(", ");
    out.push({
      title: "swallowStopMs — `while True: try: work() except: pass` stopped, ms (p50 / p99)",
      head: ["strategy", "p50 / p99", "agent p50", "swallowed (value×stops)", "not stopped"],
      rows: Object.keys(sws).map((k) => [
        k,
        sws[k] ? `${fmt(sws[k].p50, 2)} / ${fmt(sws[k].p99, 2)}` : "—",
        fmt(d[k]?.agentLatencyMsP50, 2),
        swallowed(k),
        failed(k) || "0",
      ]),
    });
  }
  const cts = report.callTimeoutStopMs;
  if (cts) {
    const d = report.detail?.callTimeoutStopMs ?? {};
    const failed = (k) =>
      Object.entries(d[k]?.outcomes ?? {})
        .filter(([o]) => o !== "stopped")
        .map(([o, n]) => `${n} ${o}`)
        .join(", ");
    out.push({
      title: "callTimeoutStopMs — an aborted call's Python work stopped: abort → AbortError with the report, ms (p50 / p99)",
      head: ["case", "p50 / p99", "agent p50", "not stopped"],
      rows: Object.keys(cts).map((k) => [
        k,
        cts[k] ? `${fmt(cts[k].p50, 2)} / ${fmt(cts[k].p99, 2)}` : "—",
        fmt(d[k]?.agentLatencyMsP50, 2),
        failed(k) || "0",
      ]),
    });
  }
  const toc = report.timedOutCall;
  if (toc) {
    out.push({
      title: "timedOutCall — a call that would run 4 s, bounded at 1000 ms: pyleash's timeoutMs beside pythonia's REQ_TIMEOUT",
      head: ["side, hang", "promise rejects (ms)", "with", "next call", "the Python work"],
      rows: Object.entries(toc).map(([k, v]) => [
        k,
        fmt(v.rejectedMs, 0),
        v.error ?? "—",
        `${v.nextCall} (${fmt(v.nextCallMs, 0)} ms)`,
        v.pythonRanOn
          ? `ran on to its end, ${fmt(v.pythonEndedAtMs, 0)} ms after the call`
          : `stopped${v.outcome ? ` (${v.outcome}, ${fmt(v.stopLatencyMs, 1)} ms)` : ""}, never finished`,
      ]),
    });
  }
  const sw = report.switchInterval;
  if (sw) {
    out.push({
      title: "switchInterval — 8 busy thread tasks: async-exc stop (ms) vs their summed throughput",
      head: ["switchIntervalMs", "stop p50", "stop p99", "8 threads it/s", "vs 5 ms"],
      rows: sw.map((r) => [
        r.switchIntervalMs === null ? "null (Python's 5)" : r.switchIntervalMs === 0.2 ? "0.2 (default)" : String(r.switchIntervalMs),
        fmt(r.asyncExcStopMs.p50, 2),
        fmt(r.asyncExcStopMs.p99, 2),
        int(r.busy8ItersPerS),
        fmt(r.throughputVsDefault, 3),
      ]),
    });
  }
  const ko = report.killableOverhead;
  if (ko) {
    const its = report.detail?.killableOverhead?.itersPerSMedian ?? {};
    out.push({
      title: "killableOverhead — slowdown vs a plain thread task (1.00 = same speed)",
      head: ["preparation", "ratio", "iterations/s (median)"],
      rows: Object.entries(ko).map(([k, v]) => [k, fmt(v, 3), int(its[k])]),
    });
  }
  const bs = report.blockedStop;
  if (bs) {
    const d = report.detail?.blockedStop ?? {};
    out.push({
      title: "blockedStop — task in time.sleep(100), ms to the report",
      head: ["strategy", "outcome", "p50", "p99", "n"],
      rows: Object.entries(bs).map(([k, v]) => [k, d[k]?.expected ?? "", fmt(v, 2), fmt(d[k]?.p99, 2), d[k]?.n ?? ""]),
    });
  }
  const fr = report.frozenReport;
  if (fr) {
    const d = report.detail?.frozenReport ?? {};
    out.push({
      title: "frozenReport — an agent frozen by C code holding the GIL: ms from the stop (a call's timeout) to the report, past deadlineMs",
      head: ["deadlineMs", "task p50", "task max", "call p50", "call max", "n"],
      rows: Object.entries(fr).map(([k, v]) => [
        k,
        fmt(v.task, 1),
        fmt(d[k]?.task?.max, 1),
        fmt(v.call, 1),
        fmt(d[k]?.call?.max, 1),
        d[k]?.task?.n ?? "",
      ]),
    });
  }
  const ms = report.massStop;
  if (ms) {
    const d = report.detail?.massStop ?? {};
    out.push({
      title: `massStop — ${ms.n} spinning tasks stopped at once: ms to the last report, vs the in-process floor`,
      head: ["pyleash", "floor", "ratio", "outcomes"],
      rows: [
        [
          fmt(ms.pyleash, 1),
          fmt(ms.floor, 1),
          fmt(ms.ratio, 1),
          Object.entries(d.outcomes ?? {})
            .map(([k, v]) => `${k} ${v}`)
            .join(", "),
        ],
      ],
    });
  }
  const bytes = report.bytesRoundTrip;
  if (bytes) {
    const c = report.config;
    out.push({
      title: `bytesRoundTrip — a Buffer through a call that returns it, MB/s (${c.bytesMiB} MiB; pythonia ${c.bytesPythoniaMiB} MiB), and the agent's RSS (MiB)`,
      head: ["contender", "binary frames", "base64 in JSON", "JSON array (pythonia)", "RSS before", "RSS after"],
      rows: Object.entries(bytes).map(([k, v]) => [
        k,
        int(v.framesMBps),
        int(v.base64MBps),
        fmt(v.jsonArrayMBps, 2),
        fmt(v.rssBeforeMb),
        fmt(v.rssAfterMb),
      ]),
    });
  }
  const rl = report.remoteLink;
  if (rl) {
    out.push({
      title: `remoteLink — an agent in a network namespace, over a veth pair: serial call RTT, µs (CURVE/NULL p50 ${fmt(rl.curveVsNull, 2)}×)`,
      head: ["mechanism, agent", "p50", "p99", "min", "max"],
      rows: Object.entries(rl.rttUs).map(([k, s]) => [k, fmt(s.p50), fmt(s.p99), fmt(s.min), fmt(s.max)]),
    });
    out.push({
      title: `remoteLink — link cut with a call in flight (heartbeatMs ${rl.heartbeatMs}, lostAfterMs ${rl.lostAfterMs}, agent --heartbeat-ms ${rl.agentHeartbeatMs}), ms after the cut`,
      head: ["what", "median", "min", "max"],
      rows: [
        ["the call rejects with WorkerLostError", int(rl.lostDetectMs.median), int(rl.lostDetectMs.min), int(rl.lostDetectMs.max)],
        [
          `the agent exits by its own timeout (codes ${rl.agentExitCodes.join(", ")})`,
          int(rl.agentExitMs.median),
          int(rl.agentExitMs.min),
          int(rl.agentExitMs.max),
        ],
      ],
    });
  }
  const ray = report.ray;
  if (ray) {
    const stop = ray.blockedSyncStop;
    out.push({
      title:
        "ray — agents in Ray actors: call round trip (µs), ray.kill to the in-flight calls' rejection (ms), a sync method in time.sleep(100) stopped",
      head: ["measure", "side", "p50", "p99", "min", "max", "result"],
      rows: [
        [
          "serial call RTT, µs",
          "local agent",
          fmt(ray.rttUs.local.p50),
          fmt(ray.rttUs.local.p99),
          fmt(ray.rttUs.local.min),
          fmt(ray.rttUs.local.max),
          "",
        ],
        [
          "serial call RTT, µs",
          "Ray-hosted agent",
          fmt(ray.rttUs.ray.p50),
          fmt(ray.rttUs.ray.p99),
          fmt(ray.rttUs.ray.min),
          fmt(ray.rttUs.ray.max),
          "",
        ],
        [
          "ray.kill → calls rejected, ms",
          "pyleash",
          fmt(ray.killToRejectionMs.p50),
          fmt(ray.killToRejectionMs.p99),
          fmt(ray.killToRejectionMs.min),
          fmt(ray.killToRejectionMs.max),
          ray.killErrors.join(", "),
        ],
        [
          "ray.kill → restarted agent joined, ms",
          "Ray + pyleash",
          fmt(ray.killToRejoinMs.p50),
          fmt(ray.killToRejoinMs.p99),
          fmt(ray.killToRejoinMs.min),
          fmt(ray.killToRejoinMs.max),
          ray.joinedBeforeRejection === undefined ? "" : `joined before the rejections ${ray.joinedBeforeRejection}/${ray.kills}`,
        ],
        [
          "stop of a sync method in time.sleep(100), ms",
          "pyleash (main lane, signal)",
          fmt(stop.pyleash.p50),
          fmt(stop.pyleash.p99),
          fmt(stop.pyleash.min),
          fmt(stop.pyleash.max),
          stop.pyleash.outcomes.join(", "),
        ],
        ["stop of a sync method in time.sleep(100)", `ray.cancel (Ray ${stop.rayCancel.ray})`, "—", "—", "—", "—", stop.rayCancel.result],
      ],
    });
  }
  out.push({
    title: "Goals (reported, not asserted)",
    head: ["goal", "contender", "actual", "target", "result"],
    rows: Object.values(report.goals).map((g) => [g.goal, g.contender ?? "—", num(g.actual), num(g.target), metText(g.met)]),
  });
  return out;
}

function machineLines(m) {
  return [
    `CPU: ${m.cores} cores (${m.cpuModel}), load average ${m.loadavgStart.join(" ")} at start, ${m.loadavgEnd.join(" ")} at end`,
    `OS: ${m.os}; Node ${m.node}; zeromq.js ${m.zeromq}` +
      (m.PYTHONDONTWRITEBYTECODE ? `; PYTHONDONTWRITEBYTECODE=${m.PYTHONDONTWRITEBYTECODE} (Python writes no .pyc cache)` : "") +
      `; the agent's bytecode, compiled as npm install does: ${m.agentBytecode ? "present (pythonia's script compiles at every start)" : "absent (it compiles at every start)"}`,
    `Python ${m.python.version} at ${m.python.path}${m.pyzmqPython ? `; pyzmq ${m.pyzmqPython.pyzmq} (libzmq ${m.pyzmqPython.libzmq}) in ${m.pyzmqPython.path}` : "; no pyzmq venv: pyleash-pyzmq not measured"}`,
    `pythonia ${m.pythonia}`,
  ];
}

export function renderMarkdown(report) {
  const lines = [
    "# pyleash benchmark",
    "",
    `Generated ${report.generatedAt}${report.quick ? " (quick run)" : ""}; ${report.rounds} rounds; ${report.elapsedS} s.`,
    "",
  ];
  lines.push("## Machine", "", ...machineLines(report.machine).map((l) => `- ${l}`), "");
  for (const t of tables(report)) {
    lines.push(`## ${t.title}`, "", `| ${t.head.join(" | ")} |`, `| ${t.head.map(() => "---").join(" | ")} |`);
    for (const row of t.rows) lines.push(`| ${row.join(" | ")} |`);
    lines.push("");
  }
  lines.push("## Notes", "");
  for (const [k, note] of Object.entries(report.pending)) lines.push(`- \`${k}\`: ${note}`);
  for (const [k, n] of Object.entries(report.notes ?? {}))
    for (const [f, note] of Object.entries(n)) lines.push(`- \`${k}.${f}\`: ${note}`);
  lines.push("", "## Method", "");
  for (const [k, m] of Object.entries(report.methods)) lines.push(`- \`${k}\`: ${m}`);
  lines.push("");
  return lines.join("\n");
}

export function renderText(report) {
  const lines = [
    `pyleash benchmark — ${report.generatedAt}${report.quick ? " (quick)" : ""}, ${report.rounds} rounds, ${report.elapsedS} s`,
  ];
  lines.push(...machineLines(report.machine).map((l) => `  ${l}`), "");
  for (const t of tables(report)) {
    const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => String(r[i] ?? "").length)));
    const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ");
    lines.push(t.title, `  ${line(t.head)}`, ...t.rows.map((r) => `  ${line(r)}`), "");
  }
  const pending = Object.keys(report.pending);
  if (pending.length) lines.push(`pending: ${pending.join(", ")}`);
  for (const [k, n] of Object.entries(report.notes ?? {})) for (const [f, note] of Object.entries(n)) lines.push(`note ${k}.${f}: ${note}`);
  return lines.join("\n");
}

/**
 * The figures block of docs/performance.md: the machine, the tables, notes and methods of one run, one heading
 * level below renderMarkdown's. scripts/bench/doc.mjs writes it; test/bench-doc.test.ts checks the doc holds it.
 */
export function renderDocFigures(report) {
  const md = renderMarkdown(report).split("\n");
  const body = md.slice(md.indexOf("## Machine") + 1); // the title and "Generated …" line are said below instead
  const kind = report.quick ? "quick run" : "full run";
  const lines = ["## Machine of the figures below"];
  for (const line of body) {
    if (line.startsWith("## ") && lines.at(-1) === "" && !lines.includes("## Figures")) {
      lines.push(
        `From \`npm run -s bench\` (${kind}): generated ${report.generatedAt}; ${report.rounds} rounds; ${report.elapsedS} s. The machine is`,
      );
      lines.push(
        "shared: compare rows within one table, which were taken side by side, rather than absolute figures across runs.",
        "",
        "## Figures",
        "",
      );
    }
    lines.push(line.startsWith("## ") ? `#${line}` : line);
  }
  while (lines.at(-1) === "") lines.pop();
  return lines.join("\n");
}
