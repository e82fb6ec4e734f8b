import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { createStudio } from '../../src/main/services/studio';
import { tempHome } from '../helpers/temp-home';

/** A benchmark process killed with SIGKILL mid-run leaves an intact database with its finished cases. */
const home = tempHome();
afterAll(() => home.cleanup());

function finishedCases(): number {
  try {
    const db = new Database(join(home.dir, 'studio.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM case_results').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

describe('benchmark killed mid-run', () => {
  it('keeps finished cases and marks the run interrupted on the next start', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/main/cli.ts',
        'bench',
        '--model',
        resolve('test/fixtures/models/sd15-optimum-int64'),
        '--recipes',
        'graph-basic,dpm-fast,euler-fast',
        '--repeats',
        '3',
        '--json',
      ],
      { env: { ...process.env, LATENT_STUDIO_HOME: home.dir }, stdio: 'ignore' },
    );
    const exited = new Promise<NodeJS.Signals | null>((r) =>
      child.on('exit', (_code, signal) => r(signal)),
    );
    const deadline = Date.now() + 90_000;
    while (finishedCases() < 2) {
      if (Date.now() > deadline) throw new Error('the benchmark never finished a case');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const kept = finishedCases();
    expect(kept).toBeGreaterThanOrEqual(2);

    const studio = createStudio({ home: home.dir });
    try {
      expect(
        (studio.db.prepare('PRAGMA integrity_check').get() as { integrity_check: string })
          .integrity_check,
      ).toBe('ok');
      const [run] = await studio.handlers.getHistory({ limit: 1 });
      expect(run).toMatchObject({ kind: 'bench', status: 'interrupted' });
      const detail = await studio.handlers.getRun({ runId: run.id });
      const cases = detail.recipes.flatMap((r) => r.cases);
      expect(cases.length).toBe(kept);
      expect(cases.every((c) => c.latencyMs.mean > 0)).toBe(true);
    } finally {
      await studio.close();
    }
  });
});
