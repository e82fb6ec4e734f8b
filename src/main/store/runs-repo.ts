import type { Db } from './database';
import type { HistoryEntry } from '../../shared/schemas';

export interface NewRun {
  kind: 'generate' | 'bench';
  model: string;
  summary: string;
  params: unknown;
  appVersion: string;
  ortVersion: string;
}

export interface RunImage {
  path: string;
  width: number;
  height: number;
  seed: number | null;
}

interface RunRow {
  id: number;
  kind: 'generate' | 'bench';
  status: HistoryEntry['status'];
  model: string;
  started_at: string;
  ended_at: string | null;
  summary: string;
  error: string | null;
  images: string | null;
}

/** Runs of every kind and the images they produced. */
export class RunsRepo {
  constructor(private readonly db: Db) {}

  /** A run still `running` when the studio starts belonged to a process that died. */
  markInterrupted(): number {
    return this.db
      .prepare(`UPDATE runs SET status = 'interrupted', ended_at = ? WHERE status = 'running'`)
      .run(new Date().toISOString()).changes;
  }

  start(run: NewRun): number {
    const info = this.db
      .prepare(
        `INSERT INTO runs (kind, status, model, started_at, summary, params_json, app_version, ort_version)
         VALUES (?, 'running', ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        run.kind,
        run.model,
        new Date().toISOString(),
        run.summary,
        JSON.stringify(run.params),
        run.appVersion,
        run.ortVersion,
      );
    return Number(info.lastInsertRowid);
  }

  finish(id: number, result: unknown, images: RunImage[]): void {
    const insertImage = this.db.prepare(
      'INSERT INTO images (run_id, path, width, height, seed) VALUES (?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const image of images)
        insertImage.run(id, image.path, image.width, image.height, image.seed);
      this.db
        .prepare(`UPDATE runs SET status = 'done', ended_at = ?, result_json = ? WHERE id = ?`)
        .run(new Date().toISOString(), JSON.stringify(result), id);
    })();
  }

  fail(id: number, error: string): void {
    this.db
      .prepare(`UPDATE runs SET status = 'failed', ended_at = ?, error = ? WHERE id = ?`)
      .run(new Date().toISOString(), error, id);
  }

  history(limit: number): HistoryEntry[] {
    const rows = this.db
      .prepare(
        `SELECT r.id, r.kind, r.status, r.model, r.started_at, r.ended_at, r.summary, r.error,
                (SELECT json_group_array(path) FROM images i WHERE i.run_id = r.id) AS images
         FROM runs r ORDER BY r.id DESC LIMIT ?`,
      )
      .all(limit) as RunRow[];
    return rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      status: row.status,
      model: row.model,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      summary: row.summary,
      error: row.error,
      images: row.images ? (JSON.parse(row.images) as string[]) : [],
    }));
  }
}
