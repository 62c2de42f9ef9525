/** bench.json's assembly and its two renderings: report/BENCH.md and the summary printed to stdout. */

const fmt = (v, digits = 1) => (v === null || v === undefined ? "—" : typeof v === "number" ? v.toFixed(digits) : String(v));
const int = (v) => (typeof v === "number" ? Math.round(v).toLocaleString("en-US") : "—");
const num = (v) => (typeof v === "number" && Math.abs(v) >= 1000 ? int(v) : fmt(v));
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
  const rate = report.pipelinedCallsPerS ?? {};
  const rateDetail = report.detail?.pipelinedCallsPerS ?? {};
  out.push({
    title: `pipelinedCallsPerS — ${report.config.pipelinedCalls} calls, windows of ${report.config.window}`,
    head: ["contender", "median calls/s", "min", "max"],
    rows: Object.entries(rate).map(([k, v]) => [k, int(v), int(rateDetail[k]?.min), int(rateDetail[k]?.max)]),
  });
  const cold = report.coldStartMs ?? {};
  const coldDetail = report.detail?.coldStartMs?.freshProcess ?? {};
  const warm = report.detail?.coldStartMs?.pyleashWarmProcessStartAndFirstCall ?? {};
  out.push({
    title: "coldStartMs — fresh node process: import + start + first call, ms",
    head: ["contender", "median", "min", "max", "in a warm process (start + call)"],
    rows: Object.entries(cold).map(([k, v]) => [k, fmt(v), fmt(coldDetail[k]?.min), fmt(coldDetail[k]?.max), warm[k] ? fmt(warm[k].median) : "—"]),
  });
  const mem = report.memoryMb ?? {};
  const rssDetail = report.detail?.memoryMb?.rss ?? {};
  out.push({
    title: "memoryMb — MiB",
    head: ["what", "median", "min", "max"],
    rows: [
      ...Object.entries(mem.idleAgent ?? {}).map(([k, v]) => [`idle agent RSS, ${k}`, fmt(v), fmt(rssDetail[k]?.min), fmt(rssDetail[k]?.max)]),
      ["pythonia's Python RSS", fmt(mem.pythonia), fmt(rssDetail.pythonia?.min), fmt(rssDetail.pythonia?.max)],
      [`agent RSS with 1 000 sleeping tasks${mem.notes?.agentWith1000TasksMb ? ` (${mem.notes.agentWith1000TasksMb})` : ""}`, fmt(mem.agentWith1000TasksMb), "", ""],
      [`controller heap growth after ${report.config.heapCalls} calls`, fmt(mem.controllerHeapGrowthMb, 2), "", ""],
    ],
  });
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
    `OS: ${m.os}; Node ${m.node}; zeromq.js ${m.zeromq}` + (m.PYTHONDONTWRITEBYTECODE ? `; PYTHONDONTWRITEBYTECODE=${m.PYTHONDONTWRITEBYTECODE} (no .pyc cache: Python compiles its modules at every start)` : ""),
    `Python ${m.python.version} at ${m.python.path}` + (m.pyzmqPython ? `; pyzmq ${m.pyzmqPython.pyzmq} (libzmq ${m.pyzmqPython.libzmq}) in ${m.pyzmqPython.path}` : "; no pyzmq venv: pyleash-pyzmq not measured"),
    `pythonia ${m.pythonia}`,
  ];
}

export function renderMarkdown(report) {
  const lines = ["# pyleash benchmark", "", `Generated ${report.generatedAt}${report.quick ? " (quick run)" : ""}; ${report.rounds} rounds; ${report.elapsedS} s.`, ""];
  lines.push("## Machine", "", ...machineLines(report.machine).map((l) => `- ${l}`), "");
  for (const t of tables(report)) {
    lines.push(`## ${t.title}`, "", `| ${t.head.join(" | ")} |`, `| ${t.head.map(() => "---").join(" | ")} |`);
    for (const row of t.rows) lines.push(`| ${row.join(" | ")} |`);
    lines.push("");
  }
  lines.push("## Pending", "");
  for (const [k, note] of Object.entries(report.pending)) lines.push(`- \`${k}\`: ${note}`);
  lines.push("", "## Method", "");
  for (const [k, m] of Object.entries(report.methods)) lines.push(`- \`${k}\`: ${m}`);
  lines.push("");
  return lines.join("\n");
}

export function renderText(report) {
  const lines = [`pyleash benchmark — ${report.generatedAt}${report.quick ? " (quick)" : ""}, ${report.rounds} rounds, ${report.elapsedS} s`];
  lines.push(...machineLines(report.machine).map((l) => `  ${l}`), "");
  for (const t of tables(report)) {
    const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => String(r[i] ?? "").length)));
    const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join("  ");
    lines.push(t.title, `  ${line(t.head)}`, ...t.rows.map((r) => `  ${line(r)}`), "");
  }
  lines.push(`pending: ${Object.keys(report.pending).join(", ")}`);
  return lines.join("\n");
}
