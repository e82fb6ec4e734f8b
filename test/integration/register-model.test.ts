import { describe, expect, it } from 'vitest';
import { cpSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dispatch } from '../../src/main/services/dispatch';
import { useTempStudio } from '../helpers/temp-studio';

const ctx = useTempStudio();
const call = <M extends 'registerModel' | 'unregisterModel' | 'listModels' | 'generate'>(
  m: M,
  input: unknown,
) => dispatch(ctx.studio.handlers, m, input);

describe('registered models', () => {
  it('adds a folder by path, lists it, generates with it by name, and forgets it', async () => {
    const added = await call('registerModel', {
      path: resolve('test/fixtures/models/lcm'),
      name: 'my-lcm',
    });
    expect(added).toMatchObject({ name: 'my-lcm', family: 'lcm', source: 'user' });
    expect((await call('listModels', {})).map((m) => m.name)).toContain('my-lcm');
    const g = await call('generate', { model: 'my-lcm', prompt: 'a red circle', seed: 1 });
    expect(g.model).toBe('my-lcm');
    expect(await call('unregisterModel', { name: 'my-lcm' })).toEqual({ removed: true });
    expect((await call('listModels', {})).map((m) => m.name)).not.toContain('my-lcm');
  });

  it('refuses folders that are not SD exports and names already taken', async () => {
    await expect(call('registerModel', { path: resolve('test') })).rejects.toThrow(
      /^path: .* is not a Stable Diffusion ONNX export/,
    );
    await expect(
      call('registerModel', { path: resolve('test/fixtures/models/sdxl'), name: 'tiny-shapes' }),
    ).rejects.toThrow(/^name: "tiny-shapes" is already used/);
    await expect(
      call('registerModel', { path: resolve('test/fixtures/models/sdxl'), name: 'a b' }),
    ).rejects.toThrow(/^name: use letters/);
  });

  it('skips a registered folder that has moved, and says so when it is asked for', async () => {
    const copy = join(ctx.home, 'moving-model');
    cpSync(resolve('test/fixtures/models/sd21-vpred'), copy, { recursive: true });
    await call('registerModel', { path: copy, name: 'moving' });
    rmSync(copy, { recursive: true });
    expect((await call('listModels', {})).map((m) => m.name)).not.toContain('moving');
    await expect(call('generate', { model: 'moving', prompt: 'x' })).rejects.toThrow(
      /no longer exists; register it again/,
    );
  });
});
