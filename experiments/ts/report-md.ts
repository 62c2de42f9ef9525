/** EXPERIMENTS.md: the grid, then each experiment's claim, method and per-interpreter evidence. */
import { describeBuild, grid, tally } from "./summary.js";
import type { ExperimentsReport } from "./types.js";

const ARTICLE: Record<string, string> = {
  "000": "Article 000 — forcibly stopping threads, coroutines and processes",
  "001": "Article 001 — controlling thread exit (ctypes)",
  "002": "Article 002 — killing a Python thread by force",
  "003": "Article 003 — several ways to kill a thread",
  x: "Beyond the articles — pyleash's own findings",
};

export function reportMarkdown(report: ExperimentsReport): string {
  const { versions, rows } = grid(report);
  const counts = tally(report);
  const out: string[] = [
    "# pyleash experiments",
    "",
    `${report.quick ? "Quick run" : "Full run"} of ${report.experiments.length} experiments on ${versions.length} interpreter(s), ` +
      `${report.startedAt}, ${(report.durationMs / 1000).toFixed(1)} s. A verdict says whether the article's claim held on that ` +
      "interpreter, computed from the figures measured there (see docs/experiments.md).",
    "",
    `Interpreters: ${report.pythons.map((p) => `${p.version} \`${p.path}\` (${describeBuild(p.freeThreaded)})`).join("; ")}.`,
    "",
    `| experiment | ${versions.join(" | ")} |`,
    `|---|${versions.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| \`${r.id}\` | ${r.cells.map((c) => (c ? `**${c.verdict}** ${escapeCell(c.key)}` : "–")).join(" | ")} |`),
    `| *holds / fails / n/a* | ${versions.map((v) => `${counts[v]!.holds} / ${counts[v]!.fails} / ${counts[v]!["n/a"]}`).join(" | ")} |`,
    "",
  ];
  let article = "";
  for (const e of report.experiments) {
    if (e.article !== article) {
      article = e.article;
      out.push(`## ${ARTICLE[article] ?? article}`, "");
    }
    out.push(`### \`${e.id}\``, "", `> ${e.claimQuote}`, "", `*Claim:* ${e.claimGloss}`, "", `*Method:* ${e.method}`, "");
    for (const r of e.results) out.push(`- **${r.python}: ${r.verdict}** — ${escapeCell(r.evidence)}`);
    out.push("");
  }
  return out.join("\n");
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}
