import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { moveDatabaseAside, openDatabase } from './database';
import { migrations } from './migrations';
import { RunsRepo } from './runs-repo';
import { tempHome } from '../../../test/helpers/temp-home';

let home: ReturnType<typeof tempHome> | undefined;
afterEach(() => home?.cleanup());

const run = {
  kind: 'generate' as const,
  model: 'm',
  summary: 's',
  params: {},
  appVersion: '1',
  ortVersion: '1',
};

describe('studio database', () => {
  it('migrates a new file to the latest schema with WAL and foreign keys', () => {
    home = tempHome();
    const db = openDatabase(join(home.dir, 'studio.db'));
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
  });

  it('refuses a database written by a newer studio, without touching it', () => {
    home = tempHome();
    const file = join(home.dir, 'studio.db');
    const raw = new Database(file);
    raw.pragma(`user_version = ${migrations.length + 5}`);
    raw.close();
    expect(() => openDatabase(file)).toThrow(/newer Latent Studio/);
    const again = new Database(file);
    expect(again.pragma('user_version', { simple: true })).toBe(migrations.length + 5);
    again.close();
  });

  it('reports a corrupted file and can move it aside, never deleting it', () => {
    home = tempHome();
    const file = join(home.dir, 'studio.db');
    writeFileSync(
      file,
      'this is not a database, just some bytes that are long enough to matter'.repeat(100),
    );
    expect(() => openDatabase(file)).toThrow(/could not be opened.*repair-db.*kept for recovery/);
    const moved = moveDatabaseAside(file);
    expect(existsSync(moved)).toBe(true);
    expect(existsSync(file)).toBe(false);
    openDatabase(file).close();
  });

  it('leaves runs owned by another live process alone', () => {
    home = tempHome();
    const file = join(home.dir, 'studio.db');
    const db = openDatabase(file);
    const repo = new RunsRepo(db);
    const id = repo.start(run);
    // Pretend a live process (our parent) owns it.
    db.prepare('UPDATE runs SET owner_pid = ? WHERE id = ?').run(process.ppid, id);
    expect(repo.markInterrupted()).toBe(0);
    db.prepare('UPDATE runs SET owner_pid = ? WHERE id = ?').run(2 ** 22 + 12345, id);
    expect(repo.markInterrupted()).toBe(1);
    db.close();
  });

  it('records runs, their images and marks runs left running as interrupted', () => {
    home = tempHome();
    const file = join(home.dir, 'studio.db');
    const db = openDatabase(file);
    const repo = new RunsRepo(db);
    const done = repo.start(run);
    repo.finish(done, { ok: true }, [{ path: '/x.png', width: 8, height: 8, seed: 1 }]);
    const failed = repo.start(run);
    repo.fail(failed, 'boom');
    repo.start(run);
    db.close();

    const reopened = new RunsRepo(openDatabase(file));
    expect(reopened.markInterrupted()).toBe(1);
    const history = reopened.history(10);
    expect(history.map((h) => h.status)).toEqual(['interrupted', 'failed', 'done']);
    expect(history[2].images).toEqual(['/x.png']);
    expect(history[1].error).toBe('boom');
  });
});

describe('cancelled runs', () => {
  it('records a cancel as cancelled, apart from failures and interruptions', () => {
    home = tempHome();
    const db = openDatabase(join(home.dir, 'studio.db'));
    const repo = new RunsRepo(db);
    const cancelled = repo.start(run);
    repo.cancel(cancelled, 'generation cancelled');
    const failed = repo.start(run);
    repo.fail(failed, 'boom');
    expect(repo.markInterrupted()).toBe(0);
    const [f, c] = repo.history(10);
    expect(c).toMatchObject({ id: cancelled, status: 'cancelled', error: 'generation cancelled' });
    expect(c.endedAt).not.toBeNull();
    expect(f).toMatchObject({ id: failed, status: 'failed' });
    db.close();
  });

  it('migrates a database from before cancelled runs, keeping every run, image, recipe and profile', () => {
    home = tempHome();
    const file = join(home.dir, 'studio.db');
    // The schema as migration 5 left it, with a run and everything that hangs off it.
    const old = new Database(file);
    old.pragma('foreign_keys = ON');
    for (const [v, sql] of migrations.slice(0, 5).entries()) {
      old.exec(sql);
      old.pragma(`user_version = ${v + 1}`);
    }
    old
      .prepare(
        `INSERT INTO runs (id, kind, status, model, started_at, ended_at, summary, error, params_json,
           result_json, app_version, ort_version, owner_pid, owner_host)
         VALUES (7, 'bench', 'done', 'm', '2024-01-01T00:00:00Z', '2024-01-01T00:01:00Z', 's', NULL,
           '{"a":1}', '{"b":2}', '1', '1', 1, 'h')`,
      )
      .run();
    old
      .prepare(
        `INSERT INTO images (run_id, path, width, height, seed) VALUES (7, '/x.png', 8, 8, 1)`,
      )
      .run();
    old
      .prepare(
        `INSERT INTO recipe_results (run_id, position, recipe, recipe_version, recipe_json, status)
         VALUES (7, 0, 'baseline', 1, '{}', 'ok')`,
      )
      .run();
    old
      .prepare(
        `INSERT INTO profiles (name, model, recipe_json, source_run_id, created_at)
         VALUES ('p', 'm', '{}', 7, '2024-01-01T00:00:00Z')`,
      )
      .run();
    old.close();

    const db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const repo = new RunsRepo(db);
    expect(repo.history(10)).toMatchObject([
      { id: 7, kind: 'bench', status: 'done', summary: 's', images: ['/x.png'] },
    ]);
    const row = db
      .prepare('SELECT params_json, result_json, owner_host FROM runs WHERE id = 7')
      .get();
    expect(row).toEqual({ params_json: '{"a":1}', result_json: '{"b":2}', owner_host: 'h' });
    expect(db.prepare('SELECT count(*) AS n FROM recipe_results WHERE run_id = 7').get()).toEqual({
      n: 1,
    });
    expect(db.prepare('SELECT source_run_id FROM profiles').get()).toEqual({ source_run_id: 7 });
    expect(db.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    // The new status is accepted; anything else still is not.
    const id = repo.start(run);
    repo.cancel(id, 'benchmark cancelled');
    expect(repo.history(1)[0].status).toBe('cancelled');
    expect(() => db.prepare(`UPDATE runs SET status = 'odd' WHERE id = ?`).run(id)).toThrow(
      /CHECK/,
    );
    // The runs table still cascades to its images.
    db.prepare('DELETE FROM runs WHERE id = 7').run();
    expect(db.prepare('SELECT count(*) AS n FROM images').get()).toEqual({ n: 0 });
    db.close();
  });
});
