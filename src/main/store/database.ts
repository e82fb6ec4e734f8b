import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { StudioError } from '../../shared/errors';
import { migrations } from './migrations';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the studio database: WAL so a killed process loses nothing committed,
 * foreign keys on, migrations applied in one transaction each. A file from a newer studio is
 * refused rather than migrated down; a corrupted file is reported, never deleted.
 */
export function openDatabase(file: string): Db {
  mkdirSync(dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
  } catch (error) {
    throw corrupted(file, error);
  }
  try {
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > migrations.length) {
      throw new StudioError(
        `${file} was written by a newer Latent Studio (schema ${version}, this one knows ${migrations.length}); update the studio, or point LATENT_STUDIO_HOME at another folder.`,
        'unavailable',
      );
    }
    // Migrations run with foreign keys off (SQLite's way to rebuild a table: dropping the old one
    // must not cascade to the rows that point at it; the pragma cannot change inside a
    // transaction), and each commits only if every reference still holds.
    db.pragma('foreign_keys = OFF');
    for (let v = version; v < migrations.length; v++) {
      db.transaction(() => {
        db.exec(migrations[v]);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0)
          throw new Error(`migration ${v + 1} left ${broken.length} broken reference(s)`);
        db.pragma(`user_version = ${v + 1}`);
      })();
    }
    db.pragma('foreign_keys = ON');
  } catch (error) {
    db.close();
    if (error instanceof StudioError) throw error;
    throw corrupted(file, error);
  }
  return db;
}

function corrupted(file: string, error: unknown): StudioError {
  const reason = error instanceof Error ? error.message : String(error);
  return new StudioError(
    `The studio database ${file} could not be opened (${reason}). It may be corrupted: run "npm run cli -- repair-db" (or choose "Move aside" in the app) to rename it and start a new one; the old file is kept for recovery.`,
    'unavailable',
  );
}

/** Renames a damaged database (and its WAL files) to `<name>.corrupt-<time>`; returns the new path. */
export function moveDatabaseAside(file: string): string {
  const target = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
  }
  return target;
}
