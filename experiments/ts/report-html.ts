/** index.html: one self-contained page (no network) with the grid, three charts and every result's evidence. */
import { caveatSeries, slowdownGroups, strategyLatencyGroups } from "./charts.js";
import { esc } from "./html.js";
import { describeBuild, grid, tally } from "./summary.js";
import { barChart, lineChart } from "./svg.js";
import type { ExperimentsReport, Verdict } from "./types.js";

const COLORS: Record<Verdict, string> = { holds: "#dcfce7", fails: "#fee2e2", "n/a": "#f3f4f6" };

export function reportHtml(report: ExperimentsReport): string {
  const { versions, rows } = grid(report);
  const counts = tally(report);
  const table = [
    `<table class="grid"><thead><tr><th>experiment</th>${versions.map((v) => `<th>${esc(v)}</th>`).join("")}</tr></thead><tbody>`,
    ...rows.map(
      (r) =>
        `<tr><td><a href="#${r.id}"><code>${esc(r.id)}</code></a></td>${r.cells
          .map((c) =>
            c
              ? `<td style="background:${COLORS[c.verdict]}" title="${esc(c.evidence)}"><b>${c.verdict}</b><br><small>${esc(c.key)}</small></td>`
              : "<td>–</td>",
          )
          .join("")}</tr>`,
    ),
    `<tr><td><i>holds / fails / n/a</i></td>${versions.map((v) => `<td>${counts[v]!.holds} / ${counts[v]!.fails} / ${counts[v]!["n/a"]}</td>`).join("")}</tr>`,
    "</tbody></table>",
  ].join("\n");
  const charts = [
    chart(
      "The sleep(100) caveat",
      "Stop latency against the time left in time.sleep, per strategy (every interpreter's points; a0-async-exc-sleep-caveat). " +
        "Points on the dashed line waited the sleep out; points near zero cut it short.",
      lineChart("sleep caveat", caveatSeries(report), {
        xLabel: "time left in time.sleep (ms)",
        yLabel: "stop latency (ms)",
        diagonal: true,
      }),
    ),
    chart(
      "Stop latency per strategy and version",
      "A pure-Python loop stopped with async-exc (x-switch-interval, no busy threads), trace and monitor (x-monitor-kill); " +
        'time.sleep(100) on the main thread stopped by signal (x-main-lane-signal); the article\'s multiprocessing Process.terminate() (a0-terminate, "terminate (mp)"). Log scale.',
      barChart("stop latency", strategyLatencyGroups(report), { yLabel: "latency (ms, log)", log: true, unit: " ms" }),
    ),
    chart(
      "settrace slowdown per version",
      "How many times slower a pure-Python loop runs under sys.settrace: the article's thread_with_trace (a3-trace-kill) and a pyleash task started with trace: true (x-monitor-kill).",
      barChart("settrace slowdown", slowdownGroups(report), { yLabel: "× slower than plain", unit: "×" }),
    ),
  ].join("\n");
  const details = report.experiments
    .map(
      (e) => `<section id="${e.id}"><h3><code>${esc(e.id)}</code> <small>article ${esc(e.article)}</small></h3>
<blockquote lang="zh">${esc(e.claimQuote)}</blockquote><p><b>Claim:</b> ${esc(e.claimGloss)}</p><p><b>Method:</b> ${esc(e.method)}</p>
<ul>${e.results.map((r) => `<li><b style="background:${COLORS[r.verdict]}">${esc(r.python)}: ${r.verdict}</b> — ${esc(r.evidence)}</li>`).join("")}</ul></section>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pyleash experiments</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#111827;padding:0 16px}
table.grid{border-collapse:collapse;font-size:12px}table.grid td,table.grid th{border:1px solid #d1d5db;padding:4px 6px;vertical-align:top}
figure{margin:24px 0}figcaption{color:#4b5563;max-width:760px}blockquote{color:#374151;border-left:3px solid #d1d5db;margin:8px 0;padding-left:10px}
section{border-top:1px solid #e5e7eb;margin-top:12px}
</style></head><body>
<h1>pyleash experiments</h1>
<p>${report.quick ? "Quick run" : "Full run"}: ${report.experiments.length} experiments on ${versions.length} interpreter(s)
(${report.pythons.map((p) => `${esc(p.version)} <code>${esc(p.path)}</code> (${describeBuild(p.freeThreaded)})`).join(", ")}), ${esc(report.startedAt)}, ${(report.durationMs / 1000).toFixed(1)} s.
A verdict says whether the article's claim held on that interpreter, computed from what was measured there.</p>
<h2>Charts</h2>
${charts}
<h2>Verdicts</h2>
${table}
<h2>Experiments</h2>
${details}
</body></html>
`;
}

function chart(title: string, caption: string, svg: string): string {
  return `<figure><h3>${esc(title)}</h3>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}
