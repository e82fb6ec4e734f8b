import type { Db } from './database';

export interface CaseResultRow {
  caseIndex: number;
  prompt: string;
  seed: number;
  steps: number;
  guidance: number;
  latencies: number[];
  latencyMean: number;
  latencyStd: number;
  latencyMedian: number;
  stages: Record<string, number>;
  imagePath: string | null;
  heatmapPath: string | null;
  ssim: number | null;
  psnr: number | null;
}

export interface RecipeResultRow {
  id: number;
  runId: number;
  position: number;
  recipe: string;
  recipeVersion: number;
  recipeJson: string;
  status: 'running' | 'ok' | 'failed';
  error: string | null;
  latencyMean: number | null;
  latencyStd: number | null;
  latencyMedian: number | null;
  stages: Record<string, number> | null;
  peakRssMb: number | null;
  peakGpuMb: number | null;
  cpuPercent: number | null;
  ssim: number | null;
  psnr: number | null;
  speedup: number | null;
  verdict: string | null;
  /** Later additions (speedupCi, loadMs, firstImageMs, tier, contributions); {} for older rows. */
  extra: Record<string, unknown>;
}

export interface RecipeSummary {
  latencyMean: number;
  latencyStd: number;
  latencyMedian: number;
  stages: Record<string, number>;
  peakRssMb: number | null;
  peakGpuMb: number | null;
  cpuPercent: number | null;
  ssim: number | null;
  psnr: number | null;
  speedup: number | null;
  verdict: string;
  extra?: Record<string, unknown>;
}

interface RawRecipeRow {
  id: number;
  run_id: number;
  position: number;
  recipe: string;
  recipe_version: number;
  recipe_json: string;
  status: RecipeResultRow['status'];
  error: string | null;
  latency_mean: number | null;
  latency_std: number | null;
  latency_median: number | null;
  stages_json: string | null;
  peak_rss_mb: number | null;
  peak_gpu_mb: number | null;
  cpu_percent: number | null;
  ssim: number | null;
  psnr: number | null;
  speedup: number | null;
  verdict: string | null;
  extra_json: string | null;
}

/**
 * Benchmark results. Each finished case is committed on its own, so a process killed mid-run
 * leaves every case it finished intact (WAL + one transaction per write).
 */
export class BenchRepo {
  constructor(private readonly db: Db) {}

  upsertModel(m: {
    path: string;
    name: string;
    family: string;
    fingerprint: string;
    sizeBytes: number;
  }): number {
    this.db
      .prepare(
        `INSERT INTO models (path, name, family, fingerprint, size_bytes) VALUES (@path, @name, @family, @fingerprint, @sizeBytes)
         ON CONFLICT (path) DO UPDATE SET name = excluded.name, family = excluded.family,
           fingerprint = excluded.fingerprint, size_bytes = excluded.size_bytes`,
      )
      .run(m);
    return (this.db.prepare('SELECT id FROM models WHERE path = ?').get(m.path) as { id: number })
      .id;
  }

  saveHardware(json: unknown): number {
    return Number(
      this.db
        .prepare('INSERT INTO hardware_snapshots (taken_at, json) VALUES (?, ?)')
        .run(new Date().toISOString(), JSON.stringify(json)).lastInsertRowid,
    );
  }

  attachRun(runId: number, modelId: number, hardwareId: number): void {
    this.db
      .prepare('UPDATE runs SET model_id = ?, hardware_id = ? WHERE id = ?')
      .run(modelId, hardwareId, runId);
  }

  startRecipe(
    runId: number,
    position: number,
    recipe: { name: string; version: number },
    json: unknown,
  ): number {
    return Number(
      this.db
        .prepare(
          `INSERT INTO recipe_results (run_id, position, recipe, recipe_version, recipe_json, status)
           VALUES (?, ?, ?, ?, ?, 'running')`,
        )
        .run(runId, position, recipe.name, recipe.version, JSON.stringify(json)).lastInsertRowid,
    );
  }

  addCase(recipeResultId: number, c: CaseResultRow): void {
    this.db
      .prepare(
        `INSERT INTO case_results (recipe_result_id, case_index, prompt, seed, steps, guidance, latencies_json,
           latency_mean, latency_std, latency_median, stages_json, image_path, heatmap_path, ssim, psnr)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        recipeResultId,
        c.caseIndex,
        c.prompt,
        c.seed,
        c.steps,
        c.guidance,
        JSON.stringify(c.latencies),
        c.latencyMean,
        c.latencyStd,
        c.latencyMedian,
        JSON.stringify(c.stages),
        c.imagePath,
        c.heatmapPath,
        c.ssim,
        c.psnr,
      );
  }

  finishRecipe(id: number, s: RecipeSummary): void {
    this.db
      .prepare(
        `UPDATE recipe_results SET status = 'ok', latency_mean = ?, latency_std = ?, latency_median = ?,
           stages_json = ?, peak_rss_mb = ?, peak_gpu_mb = ?, cpu_percent = ?, ssim = ?, psnr = ?, speedup = ?, verdict = ?,
           extra_json = ?
         WHERE id = ?`,
      )
      .run(
        s.latencyMean,
        s.latencyStd,
        s.latencyMedian,
        JSON.stringify(s.stages),
        s.peakRssMb,
        s.peakGpuMb,
        s.cpuPercent,
        s.ssim,
        s.psnr,
        s.speedup,
        s.verdict,
        JSON.stringify(s.extra ?? {}),
        id,
      );
  }

  /** `verdict`: `failed`, or `does-not-fit` when the model did not fit in memory. */
  failRecipe(id: number, error: string, verdict = 'failed'): void {
    this.db
      .prepare(`UPDATE recipe_results SET status = 'failed', error = ?, verdict = ? WHERE id = ?`)
      .run(error, verdict, id);
  }

  setOpProfile(recipeResultId: number, profile: unknown): void {
    this.db
      .prepare('UPDATE recipe_results SET profile_json = ? WHERE id = ?')
      .run(JSON.stringify(profile), recipeResultId);
  }

  opProfile(recipeResultId: number): unknown {
    const row = this.db
      .prepare('SELECT profile_json FROM recipe_results WHERE id = ?')
      .get(recipeResultId) as { profile_json: string | null } | undefined;
    return row?.profile_json ? (JSON.parse(row.profile_json) as unknown) : null;
  }

  addFinding(recipeResultId: number, finding: unknown): void {
    this.db
      .prepare('INSERT INTO findings (recipe_result_id, json) VALUES (?, ?)')
      .run(recipeResultId, JSON.stringify(finding));
  }

  recipes(runId: number): RecipeResultRow[] {
    const rows = this.db
      .prepare('SELECT * FROM recipe_results WHERE run_id = ? ORDER BY position')
      .all(runId) as RawRecipeRow[];
    return rows.map((r) => ({
      id: r.id,
      runId: r.run_id,
      position: r.position,
      recipe: r.recipe,
      recipeVersion: r.recipe_version,
      recipeJson: r.recipe_json,
      status: r.status,
      error: r.error,
      latencyMean: r.latency_mean,
      latencyStd: r.latency_std,
      latencyMedian: r.latency_median,
      stages: r.stages_json ? (JSON.parse(r.stages_json) as Record<string, number>) : null,
      peakRssMb: r.peak_rss_mb,
      peakGpuMb: r.peak_gpu_mb,
      cpuPercent: r.cpu_percent,
      ssim: r.ssim,
      psnr: r.psnr,
      speedup: r.speedup,
      verdict: r.verdict,
      extra: r.extra_json ? (JSON.parse(r.extra_json) as Record<string, unknown>) : {},
    }));
  }

  cases(recipeResultId: number): CaseResultRow[] {
    const rows = this.db
      .prepare('SELECT * FROM case_results WHERE recipe_result_id = ? ORDER BY case_index')
      .all(recipeResultId) as Record<string, unknown>[];
    return rows.map((r) => ({
      caseIndex: r.case_index as number,
      prompt: r.prompt as string,
      seed: r.seed as number,
      steps: r.steps as number,
      guidance: r.guidance as number,
      latencies: JSON.parse(r.latencies_json as string) as number[],
      latencyMean: r.latency_mean as number,
      latencyStd: r.latency_std as number,
      latencyMedian: r.latency_median as number,
      stages: JSON.parse(r.stages_json as string) as Record<string, number>,
      imagePath: r.image_path as string | null,
      heatmapPath: r.heatmap_path as string | null,
      ssim: r.ssim as number | null,
      psnr: r.psnr as number | null,
    }));
  }

  findings(recipeResultId: number): unknown[] {
    return (
      this.db
        .prepare('SELECT json FROM findings WHERE recipe_result_id = ? ORDER BY id')
        .all(recipeResultId) as {
        json: string;
      }[]
    ).map((r) => JSON.parse(r.json) as unknown);
  }

  /** One recipe's mean latency over time on one model: the trend view. */
  trend(
    recipe: string,
    modelPath: string,
  ): { runId: number; startedAt: string; latencyMean: number; ssim: number | null }[] {
    return this.db
      .prepare(
        `SELECT r.id AS runId, r.started_at AS startedAt, rr.latency_mean AS latencyMean, rr.ssim AS ssim
         FROM recipe_results rr JOIN runs r ON r.id = rr.run_id JOIN models m ON m.id = r.model_id
         WHERE rr.recipe = ? AND m.path = ? AND rr.status = 'ok' ORDER BY r.id`,
      )
      .all(recipe, modelPath) as {
      runId: number;
      startedAt: string;
      latencyMean: number;
      ssim: number | null;
    }[];
  }

  saveProfile(p: {
    name: string;
    model: string;
    recipeJson: string;
    sourceRunId: number | null;
    makeDefault: boolean;
  }): void {
    this.db.transaction(() => {
      if (p.makeDefault)
        this.db.prepare('UPDATE profiles SET is_default = 0 WHERE model = ?').run(p.model);
      this.db
        .prepare(
          `INSERT INTO profiles (name, model, recipe_json, source_run_id, created_at, is_default) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET model = excluded.model, recipe_json = excluded.recipe_json,
             source_run_id = excluded.source_run_id, created_at = excluded.created_at, is_default = excluded.is_default`,
        )
        .run(
          p.name,
          p.model,
          p.recipeJson,
          p.sourceRunId,
          new Date().toISOString(),
          p.makeDefault ? 1 : 0,
        );
    })();
  }

  profile(
    name: string,
  ): { name: string; model: string; recipeJson: string; isDefault: boolean } | undefined {
    const row = this.db
      .prepare('SELECT name, model, recipe_json, is_default FROM profiles WHERE name = ?')
      .get(name) as
      { name: string; model: string; recipe_json: string; is_default: number } | undefined;
    return (
      row && {
        name: row.name,
        model: row.model,
        recipeJson: row.recipe_json,
        isDefault: row.is_default === 1,
      }
    );
  }

  defaultProfile(model: string): { name: string; recipeJson: string } | undefined {
    const row = this.db
      .prepare('SELECT name, recipe_json FROM profiles WHERE model = ? AND is_default = 1')
      .get(model) as { name: string; recipe_json: string } | undefined;
    return row && { name: row.name, recipeJson: row.recipe_json };
  }
}
