import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PATH_FIELDS, folderPolicy, gatePaths, type PathKind } from './path-consent';

// Every file-system call path-consent makes is recorded, to show which paths it touched.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return {
    ...actual,
    existsSync: vi.fn(actual.existsSync),
    statSync: vi.fn(actual.statSync),
    lstatSync: vi.fn(actual.lstatSync),
    realpathSync: Object.assign(vi.fn(actual.realpathSync), {
      native: actual.realpathSync.native,
    }),
  };
});

const spied = [fs.existsSync, fs.statSync, fs.lstatSync, fs.realpathSync] as unknown as {
  mock: { calls: unknown[][] };
  mockClear(): void;
}[];
const touched = (): string[] => spied.flatMap((f) => f.mock.calls.map((c) => String(c[0])));

const root = fs.mkdtempSync(join(tmpdir(), 'latent-studio-consent-'));
const allowed = join(root, 'allowed');
const outside = join(root, 'outside');
fs.mkdirSync(join(allowed, 'models', 'm'), { recursive: true });
fs.mkdirSync(outside, { recursive: true });
fs.symlinkSync(outside, join(allowed, 'escape'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
beforeEach(() => spied.forEach((f) => f.mockClear()));

const known = { isKnownModel: (name: string): boolean => name === 'tiny-shapes' };
const none = folderPolicy([]);
const policy = folderPolicy([allowed]);
const check = (value: string, kind: PathKind = 'folder', field = 'model'): string =>
  policy(value, field, kind);

describe('path fields', () => {
  it('lists every field that can name a path, checkFit.model and listLoras.model included', () => {
    const fields = PATH_FIELDS.map((f) => `${f.method}.${f.field}`);
    expect(fields).toEqual(
      expect.arrayContaining([
        'registerModel.path',
        'optimizeModel.out',
        'optimizeModel.model',
        'optimizeModel.loras.*.path',
        'generate.model',
        'generate.loras.*.path',
        'runBenchmark.model',
        'runBenchmark.cases',
        'proposeRecipes.model',
        'getTrend.model',
        'checkFit.model',
        'listLoras.model',
      ]),
    );
  });

  it('checkFit.model and listLoras.model need consent; a known model name needs none', () => {
    for (const method of ['checkFit', 'listLoras'] as const) {
      expect(() => gatePaths(method, { model: outside }, none, known)).toThrow(
        /^model: the web studio reads and writes no folder until you allow one/,
      );
      expect(() => gatePaths(method, { model: outside }, policy, known)).toThrow(
        /^model: .* is outside the folders allowed/,
      );
      expect(gatePaths(method, { model: 'tiny-shapes' }, none, known)).toEqual({
        model: 'tiny-shapes',
      });
    }
  });

  it('answers an unknown model name as not found, not as a path to consent to', () => {
    const error = (() => {
      try {
        gatePaths('listLoras', { model: 'no-such-model' }, none, known);
      } catch (e) {
        return e as { message: string; code: string };
      }
    })();
    expect(error?.code).toBe('not-found');
    expect(error?.message).toMatch(
      /^model: unknown model "no-such-model": use the name of a known/,
    );
    // With a separator it is a path, consented to or not.
    expect(() => gatePaths('listLoras', { model: 'models/m' }, policy, known)).toThrow(
      /^model: give an absolute path/,
    );
  });

  it('rewrites without mutating the caller’s value', () => {
    const input = {
      model: join(allowed, 'models', 'm'),
      loras: [{ path: 'lora:home/a.safetensors' }],
    };
    const before = structuredClone(input);
    const out = gatePaths('generate', input, policy, known) as typeof input;
    expect(input).toEqual(before);
    expect(out.model).toBe(fs.realpathSync(join(allowed, 'models', 'm')));
    expect(out.loras[0].path).toBe('lora:home/a.safetensors');
  });
});

describe('folderPolicy (the web host)', () => {
  it('checks containment on the path text before any file-system call', () => {
    expect(() => check(join(outside, 'x'))).toThrow(/^model: .* is outside/);
    expect(() => check(join(allowed, '..', 'outside', 'x'))).toThrow(/^model: .* is outside/);
    expect(touched().filter((p) => p.startsWith(outside))).toEqual([]);
    expect(() => none('/tmp/x', 'model', 'folder')).toThrow(/no folder until you allow one/);
    expect(touched().filter((p) => p.startsWith('/tmp/x'))).toEqual([]);
  });

  it('refuses UNC and device paths without touching them', () => {
    for (const value of [
      '\\\\attacker.example\\share\\model',
      '//attacker.example/share/model',
      '\\\\?\\C:\\models\\m',
      '\\\\.\\pipe\\x',
      '//?/C:/models/m',
    ]) {
      expect(() => check(value), value).toThrow(
        /^model: .* is a network \(UNC\) or device path; .*allowed folder/,
      );
    }
    expect(touched().filter((p) => /attacker|pipe|C:/.test(p))).toEqual([]);
  });

  it('refuses an allowed folder itself as an output, takes a new folder inside it', () => {
    expect(() => check(allowed, 'output', 'out')).toThrow(
      /^out: .* is an allowed folder itself; .*a new folder inside it/,
    );
    expect(check(join(allowed, 'models', 'new'), 'output', 'out')).toBe(
      join(fs.realpathSync(allowed), 'models', 'new'),
    );
    // As an input folder, the allowed folder itself is fine.
    expect(check(allowed)).toBe(fs.realpathSync(allowed));
  });

  it('still resolves symlinks: a link inside an allowed folder that leads out of it is outside', () => {
    expect(() => check(join(allowed, 'escape'))).toThrow(/^model: .* is outside/);
    expect(() => check(join(allowed, 'escape', 'new'), 'output', 'out')).toThrow(
      /^out: .* is outside/,
    );
    expect(check(join(allowed, 'models', 'm'))).toBe(fs.realpathSync(join(allowed, 'models', 'm')));
  });

  it('refuses a relative path and a NUL byte', () => {
    expect(() => check('models/m')).toThrow(/^model: give an absolute path/);
    expect(() => check(`${allowed}/m\0x`)).toThrow(/^model: .*NUL/);
  });
});
