import { hostname } from 'node:os';
import type { Db } from './database';

/**
 * Whether the process that started a run still lives (same machine only; unknown: no). Our own pid
 * counts as gone: this is called when a studio opens, before it starts runs, so a running run with
 * our pid was left by an earlier studio in this process that has closed.
 */
function ownerAlive(pid: number | null, host: string | null): boolean {
  if (!pid || host !== hostname() || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
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
  /**
   * A run still `running` whose owning process is gone died with it: mark it interrupted (and any
   * recipe it left open). Runs owned by live processes — the app, the web host, another CLI — are
   * left alone, so opening the studio twice never corrupts the other's history.
   */
  markInterrupted(): number {
    const running = this.db
      .prepare(`SELECT id, owner_pid, owner_host FROM runs WHERE status = 'running'`)
      .all() as { id: number; owner_pid: number | null; owner_host: string | null }[];
    const dead = running.filter((r) => !ownerAlive(r.owner_pid, r.owner_host));
    const now = new Date().toISOString();
    const markRun = this.db.prepare(
      `UPDATE runs SET status = 'interrupted', ended_at = ? WHERE id = ?`,
    );
    const markRecipes = this.db.prepare(
      `UPDATE recipe_results SET status = 'failed', error = 'interrupted', verdict = 'failed'
       WHERE run_id = ? AND status = 'running'`,
    );
    this.db.transaction(() => {
      for (const r of dead) {
        markRun.run(now, r.id);
        markRecipes.run(r.id);
      }
    })();
    return dead.length;
  }

  start(run: NewRun): number {
    const info = this.db
      .prepare(
        `INSERT INTO runs (kind, status, model, started_at, summary, params_json, app_version, ort_version,
           owner_pid, owner_host)
         VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        run.kind,
        run.model,
        new Date().toISOString(),
        run.summary,
        JSON.stringify(run.params),
        run.appVersion,
        run.ortVersion,
        process.pid,
        hostname(),
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

  /** Stopped on purpose (a person cancelled it): kept apart from failures and from interruptions. */
  cancel(id: number, message: string): void {
    this.db
      .prepare(`UPDATE runs SET status = 'cancelled', ended_at = ?, error = ? WHERE id = ?`)
      .run(new Date().toISOString(), message, id);
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
