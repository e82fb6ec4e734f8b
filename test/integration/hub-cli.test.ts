import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempHome } from '../helpers/temp-home';
import { FakeHub, commitOf, tinyShapesRepo } from '../helpers/fake-hub';

/**
 * `models --download` as a person runs it, against the local fake Hub (HF_ENDPOINT): plan, JSON,
 * Ctrl+C and the resume, then `generate --model owner/name`. The CLI runs as a separate process
 * (asynchronously: the fake Hub lives in this one).
 */
const home = tempHome();
const hub = new FakeHub();
const UNET = 'unet/model.onnx';

function cli(
  args: string[],
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string; json: () => unknown }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
      env: {
        ...process.env,
        LATENT_STUDIO_HOME: home.dir,
        HF_ENDPOINT: hub.url,
        HF_HUB_CACHE: join(home.dir, 'hf-cache'),
        HF_TOKEN: '',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.on('close', (code) => {
      const lines = stdout.trim().split('\n');
      done({ code, stdout, stderr, json: () => JSON.parse(lines[lines.length - 1] ?? '') });
    });
  });
}

beforeAll(async () => {
  await hub.start();
  hub.repos.set('test/tiny-shapes', tinyShapesRepo('cli'));
});
afterAll(async () => {
  await hub.close();
  home.cleanup();
});

describe('models --download', () => {
  it('--plan lists the size and the fit and fetches nothing', async () => {
    const r = await cli(['models', '--download', 'test/tiny-shapes', '--plan']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/test\/tiny-shapes@main \(commit [0-9a-f]{12}\)/);
    expect(r.stdout).toMatch(/14 files of the ONNX pipeline, 10\.\d MiB; 5 other files/);
    expect(r.stdout).toMatch(/fit \(\w+\): fits/);
    expect(hub.log.some((l) => l.url.startsWith('/cdn/'))).toBe(false);
  });

  it('Ctrl+C cancels and keeps the partial file; the same command resumes; generate works', async () => {
    hub.faults = { slow: { [UNET]: { chunk: 32 * 1024, delayMs: 20 } } };
    let sent = false;
    const cancelled = await cli(['models', '--download', 'test/tiny-shapes'], (text, child) => {
      if (!sent && text.includes(UNET)) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    // Ctrl+C is a cancel, not an error: a shell's status for SIGINT and one line saying so.
    expect(cancelled.code).toBe(130);
    expect(cancelled.stderr).toMatch(
      /^cancelled: test\/tiny-shapes: download cancelled; the partial files are kept/m,
    );
    hub.faults = {};
    const before = hub.log.length;
    const r = await cli(['models', '--download', 'test/tiny-shapes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json()).toMatchObject({
      plan: { commit: commitOf('cli') },
      result: { name: 'test/tiny-shapes', family: 'sd1', files: 14 },
    });
    const resumed = hub.log
      .slice(before)
      .filter((l) => l.path === UNET && l.range && l.range !== 'bytes=0-0');
    expect(resumed).toHaveLength(1);
    expect(Number(/bytes=(\d+)-/.exec(resumed[0]?.range ?? '')?.[1])).toBeGreaterThan(0);

    const out = join(home.dir, 'from-hub.png');
    const g = await cli([
      'generate',
      '--model',
      'test/tiny-shapes',
      '--prompt',
      'a red circle',
      '--steps',
      '2',
      '--out',
      out,
      '--json',
    ]);
    expect(g.code, g.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
    const list = await cli(['models', '--json']);
    expect(list.json()).toMatchObject({
      models: expect.arrayContaining([
        expect.objectContaining({ name: 'test/tiny-shapes', source: 'downloaded' }),
      ]),
    });
  });

  it('refuses a repo id with a path trick in one line', async () => {
    const r = await cli(['models', '--download', '../../etc']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: repo: "..\/..\/etc" is not a Hub repo id/);
  });
});
