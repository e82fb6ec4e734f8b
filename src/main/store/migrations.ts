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
  // 2: the benchmark lab
  `
  CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    family TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    size_bytes INTEGER NOT NULL
  );
  ALTER TABLE runs ADD COLUMN model_id INTEGER REFERENCES models (id);
  ALTER TABLE runs ADD COLUMN hardware_id INTEGER REFERENCES hardware_snapshots (id);
  CREATE TABLE recipe_results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    recipe TEXT NOT NULL,
    recipe_version INTEGER NOT NULL,
    recipe_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    error TEXT,
    latency_mean REAL,
    latency_std REAL,
    latency_median REAL,
    stages_json TEXT,
    peak_rss_mb REAL,
    peak_gpu_mb REAL,
    cpu_percent REAL,
    ssim REAL,
    psnr REAL,
    speedup REAL,
    verdict TEXT,
    UNIQUE (run_id, recipe)
  );
  CREATE TABLE case_results (
    id INTEGER PRIMARY KEY,
    recipe_result_id INTEGER NOT NULL REFERENCES recipe_results (id) ON DELETE CASCADE,
    case_index INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    seed INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    guidance REAL NOT NULL,
    latencies_json TEXT NOT NULL,
    latency_mean REAL NOT NULL,
    latency_std REAL NOT NULL,
    latency_median REAL NOT NULL,
    stages_json TEXT NOT NULL,
    image_path TEXT,
    heatmap_path TEXT,
    ssim REAL,
    psnr REAL,
    UNIQUE (recipe_result_id, case_index)
  );
  CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    recipe_result_id INTEGER NOT NULL REFERENCES recipe_results (id) ON DELETE CASCADE,
    json TEXT NOT NULL
  );
  CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    recipe_json TEXT NOT NULL,
    source_run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0
  );
  `,
  // 3: operator profiles (ORT traces) per recipe
  `
  ALTER TABLE recipe_results ADD COLUMN profile_json TEXT;
  `,
  // 4: which process owns a running run, so another process never marks it interrupted
  `
  ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
  ALTER TABLE runs ADD COLUMN owner_host TEXT;
  UPDATE recipe_results SET status = 'failed', error = 'interrupted', verdict = 'failed'
    WHERE status = 'running' AND run_id IN (SELECT id FROM runs WHERE status <> 'running');
  `,
  // 5: figures the wizard v2 adds per recipe (speed-up interval, start-up, tier, contributions)
  `
  ALTER TABLE recipe_results ADD COLUMN extra_json TEXT;
  `,
  // 6: 'cancelled', a run stopped on purpose, apart from 'failed' and from 'interrupted' (its
  // process died). SQLite cannot change a CHECK in place: the table is rebuilt, every column and
  // row kept (openDatabase runs migrations with foreign keys off, so dropping the old table
  // cascades nothing, and checks the references before it commits).
  `
  CREATE TABLE runs_new (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('generate', 'bench')),
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted', 'cancelled')),
    model TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    summary TEXT NOT NULL DEFAULT '',
    error TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    result_json TEXT,
    app_version TEXT NOT NULL,
    ort_version TEXT NOT NULL,
    model_id INTEGER REFERENCES models (id),
    hardware_id INTEGER REFERENCES hardware_snapshots (id),
    owner_pid INTEGER,
    owner_host TEXT
  );
  INSERT INTO runs_new (id, kind, status, model, started_at, ended_at, summary, error, params_json,
      result_json, app_version, ort_version, model_id, hardware_id, owner_pid, owner_host)
    SELECT id, kind, status, model, started_at, ended_at, summary, error, params_json,
      result_json, app_version, ort_version, model_id, hardware_id, owner_pid, owner_host
    FROM runs;
  DROP TABLE runs;
  ALTER TABLE runs_new RENAME TO runs;
  CREATE INDEX runs_started ON runs (started_at);
  `,
];
