import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * ONNX Runtime never runs in the process that holds the window and the database. A separate
 * process (test/helpers/main-process-probe.ts) generates, benchmarks, optimizes and probes
 * hardware through the studio's services, recording every native addon it loads: ORT's binding
 * must not be among them, while SQLite's is (which shows the recording works).
 */
interface Report {
  loaded: string[];
  workers: string[];
  images: number;
  benchRecipes: { name: string; status: string; ssim: number | null }[];
  optimized: number;
  cpuWorks: boolean;
}

describe('the studio main process', () => {
  it('never loads onnxruntime-node’s native binding during generate, bench, optimize and probes', () => {
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', resolve('test/helpers/main-process-probe.ts')],
      { encoding: 'utf8', timeout: 240_000, env: { ...process.env } },
    );
    const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Report;
    expect(report.images).toBe(1);
    expect(report.benchRecipes.map((r) => [r.name, r.status])).toEqual([
      ['baseline', 'ok'],
      ['graph-basic', 'ok'],
    ]);
    expect(report.benchRecipes[1].ssim).toBeGreaterThan(0.9);
    expect(report.optimized).toBeGreaterThan(0);
    expect(report.cpuWorks).toBe(true);
    // The recording sees native addons: the database's is there.
    expect(report.loaded.some((f) => /better_sqlite3\.node$/.test(f))).toBe(true);
    expect(report.loaded.filter((f) => /onnxruntime/.test(f))).toEqual([]);
    // The work happened in workers, each kind of them.
    expect(new Set(report.workers)).toEqual(
      new Set(['engine-worker', 'quality-worker', 'optimize-worker', 'provider-probe']),
    );
  }, 300_000);
});
