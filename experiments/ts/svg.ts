/** Charts as inline SVG strings, drawn by hand: no libraries, nothing fetched. */
import { esc } from "./html.js";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];

export interface Series {
  name: string;
  color: string;
  /** Drawn joined in x order when there are several. */
  points: { x: number; y: number; label?: string }[];
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FRAME: Frame = { width: 820, height: 360, left: 64, right: 210, top: 20, bottom: 48 };

function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 0.001; v += step) ticks.push(Number(v.toPrecision(6)));
  return ticks;
}

function fmt(v: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(v % 1000 === 0 ? 0 : 1)}k`;
  if (v >= 10 || v === 0) return `${Math.round(v)}`;
  return `${Number(v.toPrecision(2))}`;
}

function open(title: string, f: Frame): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${esc(title)}">`,
    `<rect x="0" y="0" width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
  ];
}

function legend(items: { name: string; color: string }[], f: Frame): string[] {
  return items.map((item, i) => {
    const x = f.width - f.right + 16;
    const y = f.top + 12 + i * 20;
    return `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${item.color}"/><text x="${x + 18}" y="${y + 1}" font-size="12">${esc(item.name)}</text>`;
  });
}

function empty(title: string, f: Frame): string {
  return [
    ...open(title, f),
    `<text x="${f.width / 2}" y="${f.height / 2}" text-anchor="middle" font-size="14" fill="#6b7280">no data for this chart in this run</text>`,
    "</svg>",
  ].join("");
}

/** A scatter/line chart on linear axes, with an optional y = x reference line. */
export function lineChart(title: string, series: Series[], opts: { xLabel: string; yLabel: string; diagonal?: boolean }): string {
  const f = FRAME;
  const all = series.flatMap((s) => s.points);
  if (!all.length) return empty(title, f);
  const xMax = Math.max(...all.map((p) => p.x)) * 1.05 || 1;
  const yMax = Math.max(...all.map((p) => p.y), opts.diagonal ? xMax : 0) * 1.05 || 1;
  const plotW = f.width - f.left - f.right;
  const plotH = f.height - f.top - f.bottom;
  const sx = (x: number) => f.left + (x / xMax) * plotW;
  const sy = (y: number) => f.top + plotH - (y / yMax) * plotH;
  const out = open(title, f);
  out.push(...axes(f, niceTicks(xMax), niceTicks(yMax), sx, sy, opts.xLabel, opts.yLabel));
  if (opts.diagonal) {
    const d = Math.min(xMax, yMax);
    out.push(`<path d="M${sx(0)},${sy(0)} L${sx(d)},${sy(d)}" stroke="#9ca3af" stroke-dasharray="5,4" fill="none"/>`);
    out.push(`<text x="${sx(d) - 4}" y="${sy(d) + 14}" text-anchor="end" font-size="11" fill="#6b7280">latency = time left</text>`);
  }
  for (const s of series) {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length > 1) {
      out.push(
        `<path d="${pts.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ")}" stroke="${s.color}" stroke-width="1.5" stroke-opacity="0.55" fill="none"/>`,
      );
    }
    for (const p of pts) {
      out.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${s.color}"><title>${esc(`${s.name}${p.label ? ` ${p.label}` : ""}: ${p.x} → ${p.y}`)}</title></circle>`,
      );
    }
  }
  out.push(...legend(dedupe(series), f), "</svg>");
  return out.join("");
}

function dedupe(series: { name: string; color: string }[]): { name: string; color: string }[] {
  const seen = new Map<string, string>();
  for (const s of series) if (!seen.has(s.name)) seen.set(s.name, s.color);
  return [...seen].map(([name, color]) => ({ name, color }));
}

function axes(
  f: Frame,
  xTicks: number[] | null,
  yTicks: number[],
  sx: ((x: number) => number) | null,
  sy: (y: number) => number,
  xLabel: string,
  yLabel: string,
  yFormat: (v: number) => string = fmt,
): string[] {
  const out: string[] = [];
  const x0 = f.left;
  const x1 = f.width - f.right;
  const y1 = f.height - f.bottom;
  for (const t of yTicks) {
    out.push(`<path d="M${x0},${sy(t).toFixed(1)} L${x1},${sy(t).toFixed(1)}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${x0 - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${yFormat(t)}</text>`);
  }
  if (xTicks && sx) {
    for (const t of xTicks) {
      out.push(`<path d="M${sx(t).toFixed(1)},${y1} L${sx(t).toFixed(1)},${y1 + 5}" stroke="#374151"/>`);
      out.push(`<text x="${sx(t).toFixed(1)}" y="${y1 + 18}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
    }
  }
  out.push(`<path d="M${x0},${f.top} L${x0},${y1} L${x1},${y1}" stroke="#374151" fill="none"/>`);
  out.push(`<text x="${(x0 + x1) / 2}" y="${f.height - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  out.push(
    `<text x="14" y="${(f.top + y1) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${(f.top + y1) / 2})">${esc(yLabel)}</text>`,
  );
  return out;
}

export interface BarGroup {
  label: string;
  bars: { name: string; color: string; value: number | null }[];
}

/** Grouped bars; `log` draws a log10 axis (for latencies spanning decades). */
export function barChart(title: string, groups: BarGroup[], opts: { yLabel: string; log?: boolean; unit?: string }): string {
  const f = FRAME;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v): v is number => v !== null && v > 0);
  if (!values.length) return empty(title, f);
  const plotW = f.width - f.left - f.right;
  const plotH = f.height - f.top - f.bottom;
  const floor = opts.log ? 10 ** Math.floor(Math.log10(Math.min(...values))) : 0;
  const top = opts.log ? 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.01)) : Math.max(...values) * 1.1;
  const sy = opts.log
    ? (v: number) => f.top + plotH - ((Math.log10(Math.max(v, floor)) - Math.log10(floor)) / (Math.log10(top) - Math.log10(floor))) * plotH
    : (v: number) => f.top + plotH - (v / top) * plotH;
  const ticks = opts.log ? Array.from({ length: Math.round(Math.log10(top / floor)) + 1 }, (_, i) => floor * 10 ** i) : niceTicks(top);
  const out = open(title, f);
  out.push(...axes(f, null, ticks, null, sy, "", opts.yLabel));
  const groupW = plotW / groups.length;
  const base = f.height - f.bottom;
  groups.forEach((g, gi) => {
    const barW = Math.min(28, (groupW * 0.8) / Math.max(1, g.bars.length));
    const start = f.left + gi * groupW + (groupW - barW * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      if (b.value === null || !(b.value > 0)) return;
      const y = sy(b.value);
      out.push(
        `<rect x="${(start + bi * barW).toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(base - y).toFixed(1)}" fill="${b.color}">` +
          `<title>${esc(`${g.label} ${b.name}: ${b.value}${opts.unit ?? ""}`)}</title></rect>`,
      );
    });
    out.push(
      `<text x="${(f.left + gi * groupW + groupW / 2).toFixed(1)}" y="${base + 18}" text-anchor="middle" font-size="12">${esc(g.label)}</text>`,
    );
  });
  out.push(...legend(dedupe(groups.flatMap((g) => g.bars)), f), "</svg>");
  return out.join("");
}
