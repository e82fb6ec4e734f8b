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
