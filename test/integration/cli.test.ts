import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HardwareInfoSchema } from '../../src/shared/schemas';
import { tempHome } from '../helpers/temp-home';

/** The CLI as a user runs it: a process, its exit code, stdout's last line as JSON, stderr. */
const home = tempHome();
afterAll(() => home.cleanup());

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
    env: { ...process.env, LATENT_STUDIO_HOME: home.dir },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const lines = r.stdout.trim().split('\n');
  return {
    code: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    json: () => JSON.parse(lines[lines.length - 1]) as unknown,
  };
}

describe('cli', () => {
  it('hardware --json reports CPU, memory and the providers that load here', () => {
    const r = cli('hardware', '--json');
    expect(r.code).toBe(0);
    const hw = HardwareInfoSchema.parse(r.json());
    expect(hw.cpu.cores).toBeGreaterThan(0);
    expect(hw.memory.totalMb).toBeGreaterThan(0);
    expect(hw.providers.find((p) => p.name === 'cpu')).toMatchObject({
      bundled: true,
      works: true,
    });
  });

  it('generate --json writes the PNG and prints seed and timings', () => {
    const out = join(home.dir, 'out.png');
    const r = cli(
      'generate',
      '--model',
      resolve('test/fixtures/models/lcm'),
      '--prompt',
      'a red circle',
      '--seed',
      '7',
      '--out',
      out,
      '--json',
    );
    expect(r.code).toBe(0);
    const j = r.json() as { image: string; seed: number; timings: Record<string, number> };
    expect(j.image).toBe(out);
    expect(existsSync(out)).toBe(true);
    expect(j.seed).toBe(7);
    for (const k of ['tokenize', 'textEncoder', 'unet', 'vae', 'total', 'encode', 'ort'])
      expect(j.timings[k]).toBeGreaterThanOrEqual(0);
  });

  it('history --delete removes a run and its images, and says so when there is no such run', () => {
    const runs = (cli('history', '--json').json() as { runs: { id: number; images: string[] }[] })
      .runs;
    const run = runs.find((r) => r.images.length > 0);
    if (!run) throw new Error('the generate test above leaves a run with an image');
    expect(run.images.every((p) => existsSync(p))).toBe(true);
    const r = cli('history', '--delete', String(run.id), '--json');
    expect(r.code).toBe(0);
    expect(r.json()).toEqual({ runId: run.id, deleted: true, imagesRemoved: run.images.length });
    expect(run.images.some((p) => existsSync(p))).toBe(false);
    const again = cli('history', '--delete', String(run.id));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/does not exist/);
  });

  it('rejects unknown commands and options with usage help and a non-zero exit', () => {
    const a = cli('paint');
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/unknown command 'paint'/);
    expect(a.stderr).toMatch(/Usage:/);
    const b = cli('generate', '--colour', 'red', '--out', 'x.png');
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/unknown option '--colour'/);
  });

  it('answers bad values with a one-line error naming the field', () => {
    const r = cli('generate', '--prompt', 'x', '--steps', '0', '--out', join(home.dir, 'x.png'));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('error: steps: must be at least 1');
  });
});
