/**
 * Numbered schema migrations. Append only: a released migration is never edited, because user
 * databases have already run it. `PRAGMA user_version` records the last one applied.
 */
export const migrations: readonly string[] = [
  // 1: runs and their images
  `
  CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('generate', 'bench')),
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
    model TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    summary TEXT NOT NULL DEFAULT '',
    error TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    result_json TEXT,
    app_version TEXT NOT NULL,
    ort_version TEXT NOT NULL
  );
  CREATE INDEX runs_started ON runs (started_at);
  CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    seed INTEGER
  );
  CREATE INDEX images_run ON images (run_id);
  CREATE TABLE hardware_snapshots (
    id INTEGER PRIMARY KEY,
    taken_at TEXT NOT NULL,
    json TEXT NOT NULL
  );
  `,
];
