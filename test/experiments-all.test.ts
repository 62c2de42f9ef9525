import { describe, expect, it } from "vitest";
import { EXPERIMENTS } from "../experiments/dist/registry.js";
import { runExperiments } from "../experiments/dist/runner.js";
import { pythonLabel } from "../experiments/dist/types.js";
import { findAllPythons } from "../ts/index.js";

const pythons = await findAllPythons();

describe.each(pythons.map((p) => ({ label: p.version, info: p })))("the quick experiment set on Python $label", ({ info }) => {
  it("measures every experiment and each verdict re-derives from its figures", { timeout: 300_000 }, async () => {
    const report = await runExperiments({ pythons: [info], experiments: [...EXPERIMENTS], quick: true });
    expect(report.pythons).toEqual([{ path: info.path, version: pythonLabel(info), freeThreaded: info.freeThreaded }]);
    expect(report.experiments.map((e) => e.id)).toEqual(EXPERIMENTS.map((e) => e.id));
    for (const [i, record] of report.experiments.entries()) {
      const [result] = record.results;
      expect(result, record.id).toBeDefined();
      expect(result!.figures, `${record.id}: ${result!.evidence}`).not.toHaveProperty("measureError");
      expect(EXPERIMENTS[i]!.judge(result!.figures).verdict, record.id).toBe(result!.verdict);
    }
  });
});
