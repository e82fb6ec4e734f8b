import { describe, expect, it } from 'vitest';
import { assertSafeRepoPath, modelNameOf, parseRepoRef } from './repo-id';

describe('repo ids, revisions, subfolders and listed names', () => {
  it('parses owner/name[@revision] and a subfolder', () => {
    expect(parseRepoRef({ repo: 'onnxruntime/sd-turbo' })).toEqual({
      repo: 'onnxruntime/sd-turbo',
      revision: 'main',
      subfolder: null,
    });
    expect(parseRepoRef({ repo: 'a/b@refs/pr/1', subfolder: 'onnx/' })).toEqual({
      repo: 'a/b',
      revision: 'refs/pr/1',
      subfolder: 'onnx',
    });
    expect(parseRepoRef({ repo: 'a/b@v1', revision: 'v2' }).revision).toBe('v2');
    expect(modelNameOf({ repo: 'a/b', revision: 'main' })).toBe('a/b');
    expect(modelNameOf({ repo: 'a/b', revision: 'onnx' })).toBe('a/b@onnx');
  });

  it.each([
    '../x',
    '/etc/passwd',
    'a/..',
    'a/%2e%2e',
    '%2E%2E/b',
    'a/b/c',
    'a--b/c',
    'a/b.git',
    'a',
    '.a/b',
    'a\\b/c',
  ])('refuses the repo id %s', (repo) => {
    expect(() => parseRepoRef({ repo })).toThrow(/^repo: /);
  });

  it('refuses revisions and subfolders that could leave the cache', () => {
    for (const revision of ['../x', '/abs', 'a/../b', 'a%2fb', 'a\\b', '']) {
      expect(() => parseRepoRef({ repo: 'a/b', revision }), revision).toThrow(/^revision: /);
    }
    for (const subfolder of ['../x', '/abs', 'C:/x', 'a/./b', '%2e%2e']) {
      expect(() => parseRepoRef({ repo: 'a/b', subfolder }), subfolder).toThrow(/^subfolder: /);
    }
  });

  it('lets listed names through only when they stay inside', () => {
    expect(() => assertSafeRepoPath('unet/model.onnx')).not.toThrow();
    expect(() => assertSafeRepoPath('docs/a picture (1).png', false)).not.toThrow();
    expect(() => assertSafeRepoPath('docs/a picture (1).png')).toThrow();
    for (const p of ['../x', 'unet/../../x', '/x', 'a//b', 'a\\..\\b', 'a/%2e%2e/b', 'C:x']) {
      expect(() => assertSafeRepoPath(p, false), p).toThrow(/^file: /);
    }
  });
});
