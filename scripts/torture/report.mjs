/** torture.json's one table of figures, as text for the terminal and as Markdown for report/ and docs/. */

const counts = (o) =>
  o && Object.keys(o).length
    ? Object.entries(o)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${v} ${k}`)
        .join(", ")
    : "none";
const mb = (kb) => (typeof kb === "number" ? `${(kb / 1024).toFixed(1)} MiB` : "—");
const sum = (o) => Object.values(o ?? {}).reduce((s, v) => s + v, 0);
/** A row: [section, scenario, figure, value, wanted, verdict]; verdict is ok, FAIL or blank (a plain figure). */
const row = (section, scenario, figure, value, wanted = "", pass) => [
  section,
  scenario,
  figure,
  String(value),
  wanted,
  pass === undefined ? "" : pass ? "ok" : "FAIL",
];

export function rows(r) {
  const out = [];
  const f = r.faults;
  if (f) {
    for (const fault of ["os._exit", "SIGKILL", "SIGSEGV", "SIGSTOP"]) {
      const s = f[fault];
      if (!s) continue;
      const what = `agent ${fault} ×${s.rounds}`;
      out.push(
        row(
          "faults",
          what,
          "calls/tasks in flight → rejected",
          `${s.calls} → ${counts(s.rejected)}${s.resolved ? `; ${s.resolved} resolved` : ""}`,
        ),
      );
      out.push(row("faults", what, "max time to rejection", `${s.maxRejectMs} ms`));
      if (fault === "SIGSTOP") {
        out.push(row("faults", what, "health() while stopped", counts(s.health), "not responsive while state T", !s.healthWrong));
        out.push(row("faults", what, "process state (/proc) right after health()", counts(s.stateDuringHealth), "T (stopped)"));
        out.push(row("faults", what, "untimed calls still waiting while stopped", `${s.untimedWaitingWhileStopped}/${s.untimedCalls}`));
        if (s.afterSigcont)
          out.push(
            row(
              "faults",
              what,
              "after SIGCONT",
              counts(s.afterSigcont),
              "next call ok",
              Object.keys(s.afterSigcont).every((k) => k === "next call ok"),
            ),
          );
      }
      out.push(row("faults", what, "hung (not settled 10 s after the fault)", s.hung, "0", s.hung === 0));
      out.push(
        row(
          "faults",
          what,
          "leftover processes / files",
          `${s.leftoverProcesses} / ${s.leftoverFiles}`,
          "0 / 0",
          s.leftoverProcesses === 0 && s.leftoverFiles === 0,
        ),
      );
    }
    const c = f["controller SIGKILL"];
    if (c) {
      const what = `controller SIGKILL ×${c.rounds}`;
      out.push(row("faults", what, "agent + task child gone after (max)", `${c.agentGoneMaxMs} ms`));
      out.push(row("faults", what, "leftover processes", c.leftoverProcesses, "0", c.leftoverProcesses === 0));
      out.push(
        row(
          "faults",
          what,
          "ipc dir left by the SIGKILL / after the next start",
          `${c.dirLeftBySigkill} / ${c.leftoverFiles}`,
          "— / 0",
          c.leftoverFiles === 0,
        ),
      );
      if (c.errors.length) out.push(row("faults", what, "errors", c.errors.join("; "), "none", false));
    }
  }
  for (const [name, p] of Object.entries(r.probes ?? {})) {
    out.push(row("probes", name, "reply / agent afterwards", `${p.answer} / ${p.after}`, "answered / answers", p.ok));
  }
  const z = r.fuzzZmtp;
  if (z) {
    const b = z.bulk;
    out.push(row("fuzz", "ZMTP streams → ZmtpTransport", "inputs tried", b.tried, "≥ 10,000 (full)"));
    out.push(row("fuzz", "ZMTP streams → ZmtpTransport", "outcomes", counts(b.outcomes)));
    out.push(
      row(
        "fuzz",
        "ZMTP streams → ZmtpTransport",
        "exceptions other than TransportError",
        sum(Object.fromEntries(Object.entries(b.outcomes ?? {}).filter(([k]) => k.startsWith("UNEXPECTED")))),
        "0",
        !Object.keys(b.outcomes ?? {}).some((k) => k.startsWith("UNEXPECTED")),
      ),
    );
    out.push(
      row("fuzz", "ZMTP streams → ZmtpTransport", "hung / slowest input", `${b.hung} / ${b.slowestInputMs} ms`, "0 / —", b.hung === 0),
    );
    out.push(row("fuzz", "ZMTP streams → ZmtpTransport", "driver max RSS (start)", `${mb(b.maxRssKb)} (${mb(b.startRssKb)})`));
    const l = z.live;
    out.push(row("fuzz", `ZMTP streams → live agents ×${l.agents}`, "agent exits", counts(l.exits)));
    out.push(
      row(
        "fuzz",
        `ZMTP streams → live agents ×${l.agents}`,
        "hung (alive 10 s later) / slowest exit",
        `${l.hung} / ${l.maxExitMs} ms`,
        "0 / —",
        l.hung === 0,
      ),
    );
    out.push(row("fuzz", `ZMTP streams → live agents ×${l.agents}`, "agent max RSS (VmHWM)", mb(l.maxRssKb)));
  }
  const p = r.fuzzProtocol;
  if (p) {
    const w = p.worker;
    out.push(row("fuzz", "requests → worker.request", "requests tried", w.tried, "≥ 10,000 with raw (full)"));
    out.push(row("fuzz", "requests → worker.request", "answered", counts(w.answered)));
    out.push(row("fuzz", "requests → worker.request", "unanswered within 3 s", w.unanswered, "0", w.unanswered === 0));
    const served = w.goodCallAfterBatch + (w.unansweredBatches ?? 0);
    out.push(
      row("fuzz", "requests → worker.request", "batches followed by a good call", `${served}/${w.batches}`, "all", served === w.batches),
    );
    if (w.deafBatches)
      out.push(row("fuzz", "requests → worker.request", "deafening inputs (first unanswered)", counts(w.culprits), "none", false));
    out.push(
      row(
        "fuzz",
        "requests → worker.request",
        "agent RSS first / max / last",
        `${mb(w.rssKb.first)} / ${mb(w.rssKb.max)} / ${mb(w.rssKb.last)}`,
      ),
    );
    const x = p.raw;
    out.push(row("fuzz", "raw frames → own ROUTER", "frames tried", x.tried));
    out.push(row("fuzz", "raw frames → own ROUTER", "replies to the frame", counts(x.replies)));
    out.push(
      row(
        "fuzz",
        "raw frames → own ROUTER",
        "JSON requests with an integer id left unanswered",
        x.usableIdUnanswered,
        "0",
        x.usableIdUnanswered === 0,
      ),
    );
    out.push(
      row(
        "fuzz",
        "raw frames → own ROUTER",
        "agent deaf or dead after a frame",
        `${x.deaths}${x.deaths ? ` (${counts(x.culprits)})` : ""}`,
        "0",
        x.deaths === 0,
      ),
    );
    if (x.retired.length) out.push(row("fuzz", "raw frames → own ROUTER", "classes retired after repeated deaths", x.retired.join(", ")));
    out.push(
      row(
        "fuzz",
        "raw frames → own ROUTER",
        "agent RSS first / max / last",
        `${mb(x.rssKb.first)} / ${mb(x.rssKb.max)} / ${mb(x.rssKb.last)}`,
      ),
    );
  }
  const L = r.load;
  if (L) {
    const c = L.calls;
    out.push(
      row(
        "load",
        `${c.n.toLocaleString("en-US")} calls pipelined`,
        "correct",
        `${c.correct} (${c.seconds} s)`,
        String(c.n),
        c.correct === c.n,
      ),
    );
    const s = L.starts;
    out.push(
      row(
        "load",
        `${s.n} tasks started at once`,
        "started / finished",
        `${s.started} / ${s.finished} (${s.seconds} s)`,
        `${s.n} / ${s.n}`,
        s.started === s.n && s.finished === s.n,
      ),
    );
    const o = L.oversize;
    if (o)
      out.push(
        row(
          "load",
          `one ${o.mb} MB argument`,
          "call / bystander / next call",
          `${o.outcome} / ${o.bystander} / ${o.nextCall}`,
          "typed error / ok / ok",
          o.bystander === "ok" && o.nextCall === "ok" && o.outcome !== "hung",
        ),
      );
  }
  const P = r.pool;
  if (P) {
    const what = `${P.n.toLocaleString("en-US")} calls through a pool of ${P.size}, ${P.kills} agents SIGKILLed`;
    const failed = Object.entries(P.others ?? {});
    const onlyCrashes = failed.every(([k]) => k === "WorkerCrashedError");
    out.push(
      row(
        "pool",
        what,
        "correct / other outcomes",
        `${P.correct} / ${counts(P.others)} (${P.seconds} s)`,
        "the rest WorkerCrashedError",
        onlyCrashes,
      ),
    );
    out.push(row("pool", what, "crash events / agents killed", `${P.crashEvents} / ${P.kills}`, "equal", P.crashEvents === P.kills));
    out.push(
      row(
        "pool",
        what,
        "every agent replaced / next call",
        `${P.replacedAll} / ${P.nextCall}`,
        "true / ok",
        P.replacedAll && P.nextCall === "ok",
      ),
    );
    out.push(row("pool", what, "processes left after close()", P.leftover, "0", P.leftover === 0));
  }
  for (const [S, kind] of [
    [r.stops, "spinning"],
    [r.cooperativeStops, "cooperative"],
    [r.stopsUnderLoad, "spinning"],
  ]) {
    if (!S) continue;
    const what = `${S.n} ${kind} tasks stopped at once${S.hogs ? ` under load (${S.hogs} CPU hogs)` : ""}`;
    if (S.hogs)
      out.push(
        row("load", what, "reports stopped", `${S.outcomes?.stopped ?? 0} of ${S.n}`, String(S.n), (S.outcomes?.stopped ?? 0) === S.n),
      );
    if (S.requested !== undefined)
      out.push(
        row("load", what, `${kind} tasks started within the budget`, `${S.n} of ${S.requested}`, String(S.requested), S.n === S.requested),
      );
    out.push(row("load", what, "started in / stopped in", `${S.startSeconds} s / ${S.stopSeconds} s`));
    if (S.floor)
      out.push(
        row(
          "load",
          what,
          "in-process floor under the same load (stop_floor.py mass) / pyleash over it",
          S.floor.ms === null ? `none: ${S.floor.error}` : `${S.floor.ms} ms / ×${S.floor.ratio}`,
        ),
      );
    out.push(row("load", what, "outcomes", counts(S.outcomes)));
    if (S.reasons) {
      const merged = {};
      for (const [k, v] of Object.entries(S.reasons)) merged[k.replace(/\d+/g, "N")] = (merged[k.replace(/\d+/g, "N")] ?? 0) + v;
      out.push(row("load", what, "reasons given", counts(merged)));
    }
    out.push(
      row(
        "load",
        what,
        "reports with agentResponsive: false",
        S.agentUnresponsive,
        `0 (pings answered: ${S.pings - S.pingsLate}/${S.pings})`,
        S.pingsLate > 0 || S.agentUnresponsive === 0,
      ),
    );
    const lies = S.dishonestReports ?? sum(S.dishonest);
    out.push(
      row("load", what, "reports that disagree with the task's end", `${lies}${lies ? ` (${counts(S.dishonest)})` : ""}`, "0", lies === 0),
    );
    const blocked = S.outcomes?.blocked ?? 0;
    out.push(row("load", what, "blocked at the deadline, stopped later", S.blockedThenStopped ?? 0));
    // A task reported blocked may go on running (the stop gave up at its deadline): only the others must end.
    out.push(
      row(
        "load",
        what,
        "results unsettled 15 s after the reports",
        S.unsettledAfter15s,
        `≤ ${blocked} (the blocked ones)`,
        S.unsettledAfter15s <= blocked,
      ),
    );
  }
  const X = r.security;
  if (X) {
    const what = `rogue peers on tcp ×${X.rounds}`;
    out.push(row("security", what, "forged frames sent", X.rogueFrames));
    out.push(row("security", what, "forged values accepted", X.forgedAccepted, "0", X.forgedAccepted === 0));
    out.push(row("security", what, "messages the rogues received", X.rogueReceived, "0", X.rogueReceived === 0));
    out.push(
      row(
        "security",
        what,
        "real calls / task results correct",
        `${X.realCallsCorrect}/${X.realCalls} / ${X.tasksCorrect}/${X.tasks}`,
        "all",
        X.realCallsCorrect === X.realCalls && X.tasksCorrect === X.tasks,
      ),
    );
  }
  out.push(row("all", "the whole run", "Python processes left at the end", r.leftoverAtEnd.length, "0", r.leftoverAtEnd.length === 0));
  return out;
}

const HEAD = ["section", "scenario", "figure", "value", "wanted", "verdict"];

export function renderText(report) {
  const table = [HEAD, ...rows(report)];
  const width = HEAD.map((_, i) => Math.min(60, Math.max(...table.map((r) => r[i].length))));
  const line = (r) =>
    r
      .map((c, i) => (c.length > 60 ? `${c.slice(0, 57)}...` : c).padEnd(width[i]))
      .join("  ")
      .trimEnd();
  const failed = rows(report).filter((r) => r[5] === "FAIL").length;
  return [
    `pyleash torture (${report.quick ? "quick" : "full"}) — seed ${report.seed} (replay: --seed ${report.seed}), ${report.elapsedS} s, Python ${report.python.version}, transport ${report.transport}`,
    "",
    ...table.map(line),
    "",
    `${failed} figure(s) FAIL; ${report.findings.length} finding(s)${report.findings.length ? ":" : "."}`,
    ...report.findings.slice(0, 30).map((f) => `  [${f.section}] ${f.what} — replay: ${JSON.stringify(f.replay)}`),
  ].join("\n");
}

const cell = (s) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderMarkdown(report) {
  const failed = rows(report).filter((r) => r[5] === "FAIL").length;
  return [
    "# pyleash torture campaign",
    "",
    `Generated by \`node scripts/torture.mjs${report.quick ? " --quick" : ""} --seed ${report.seed}\` on ${report.generatedAt.slice(0, 10)}: ` +
      `${report.quick ? "quick" : "full"} run, ${report.elapsedS} s, CPython ${report.python.version}, ${report.transport} transport, ` +
      `${report.machine.cores} cores (load average ${report.machine.loadavg?.[0] ?? "—"} at the end: the machine is shared), Node ${report.machine.node}. Every figure below was measured on that run; \`--seed ${report.seed}\` replays its inputs.`,
    "",
    `| ${HEAD.join(" | ")} |`,
    `|${HEAD.map(() => "---").join("|")}|`,
    ...rows(report).map((r) => `| ${r.map((c, i) => (i === 5 && c === "FAIL" ? "**FAIL**" : cell(c))).join(" | ")} |`),
    "",
    `${failed} figure(s) FAIL.`,
    "",
    "## Findings",
    "",
    ...(report.findings.length
      ? report.findings.map((f) => `- [${f.section}] ${cell(f.what)} — replay: \`${cell(JSON.stringify(f.replay))}\``)
      : ["None."]),
    "",
  ].join("\n");
}
