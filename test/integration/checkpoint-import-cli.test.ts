import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempHome } from '../helpers/temp-home';
import { kohyaLora, ldmCheckpoint, writeSafetensors } from '../helpers/checkpoint-forge';

/** `import ... --inspect` as a person runs it: a separate process with a throwaway home. */
const home = tempHome();
afterAll(() => home.cleanup());

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
    env: { ...process.env, LATENT_STUDIO_HOME: home.dir },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const stderrLines = (s: string): string[] =>
  s.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));

describe('cli import', () => {
  const sd2 = join(home.dir, 'sd2.safetensors');
  writeSafetensors(sd2, ldmCheckpoint('sd2', 'F16'));

  it('--inspect --json prints the inspection as the last line', () => {
    const r = cli(['import', sd2, '--inspect', '--json', '--family', 'sd2-v']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const json = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    expect(json).toMatchObject({
      layout: 'ldm-single-file',
      family: 'sd2',
      contextDim: 1024,
      unetInChannels: 4,
      prediction: 'v',
      ema: 'none',
      missing: [],
    });
    expect((json.components as { name: string }[]).map((c) => c.name)).toEqual([
      'unet',
      'vae',
      'text_encoder',
    ]);
  });

  it('--inspect without --json says the family and why', () => {
    const r = cli(['import', sd2, '--inspect']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/family\s+sd2\s+context 1024/);
    expect(r.stdout).toMatch(/prediction\s+unknown/);
  });

  it('without --inspect: converting is not built yet, exit non-zero, one line', () => {
    const r = cli(['import', sd2]);
    expect(r.code).not.toBe(0);
    expect(stderrLines(r.stderr)).toEqual([
      'error: import: converting checkpoints to ONNX is not built yet; --inspect shows what the file holds',
    ]);
    expect(
      existsSync(join(home.dir, 'models')) ? readdirSync(join(home.dir, 'models')) : [],
    ).toEqual([]);
  });

  it('refusals: one line on stderr, non-zero', () => {
    const ckpt = join(home.dir, 'model.ckpt');
    writeFileSync(ckpt, 'x');
    const lora = join(home.dir, 'style.safetensors');
    writeSafetensors(lora, kohyaLora());
    for (const [file, re] of [
      [ckpt, /can run code when unpickled; get a \.safetensors version/],
      [lora, /is a LoRA .*use generate --lora/],
    ] as const) {
      const r = cli(['import', file, '--inspect', '--json']);
      expect(r.code).toBe(1);
      const lines = stderrLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(re);
    }
  });
});
