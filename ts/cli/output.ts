/** How the CLI reports: one JSON object on stdout with --json, readable lines otherwise. */
import { PyleashError, PythonError } from "../errors.js";

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An error as the CLI's JSON shows it: its class name, message and whatever facts it carries. */
export function errorJson(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: "Error", message: String(error) };
  const out: Record<string, unknown> = { type: error.name, message: error.message };
  if (error instanceof PyleashError) out.code = error.code;
  for (const key of ["traceback", "exitCode", "signal", "pythonType", "tried"] as const) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  if (error instanceof PythonError) out.exception = error.type;
  return out;
}

/** A plain table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
