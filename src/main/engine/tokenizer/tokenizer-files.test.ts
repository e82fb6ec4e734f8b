import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMerges, parseVocab, readTokenizerFiles, resolveSettings } from './tokenizer-files';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tok-files-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('vocab.json validation', () => {
  it('accepts an object of string → integer', () => {
    expect(parseVocab('v.json', '{"a": 0, "b</w>": 1}')).toEqual({ a: 0, 'b</w>': 1 });
  });
  it('names the file and the offending key for a non-integer id', () => {
    expect(() => parseVocab('/m/tokenizer/vocab.json', '{"a": 0, "b": 1.5}')).toThrow(
      /\/m\/tokenizer\/vocab\.json: must be a JSON object mapping token strings to non-negative integer ids: .*at "b"/,
    );
  });
  it('rejects arrays, invalid JSON and empty objects', () => {
    expect(() => parseVocab('vocab.json', '["a"]')).toThrow(/vocab\.json: must be a JSON object/);
    expect(() => parseVocab('vocab.json', '{"a": 0')).toThrow(/vocab\.json: is not valid JSON/);
    expect(() => parseVocab('vocab.json', '{}')).toThrow(/vocab\.json: is empty/);
  });
});

describe('merges.txt parsing', () => {
  it('skips the #version header and blank lines, keeps rank order', () => {
    expect(parseMerges('m.txt', '#version: 0.2\ni n\nt h\n\n')).toEqual([
      ['i', 'n'],
      ['t', 'h'],
    ]);
  });
  it('names the file and line of a malformed merge', () => {
    expect(() => parseMerges('merges.txt', '#version: 0.2\ni n\nbad\n')).toThrow(
      /merges\.txt: line 3: expected two symbols/,
    );
  });
});

describe('special tokens', () => {
  it('uses special_tokens_map.json over tokenizer_config.json over CLIP defaults', () => {
    const s = resolveSettings(
      { pad_token: '<|endoftext|>', model_max_length: 77 },
      { pad_token: { content: '!' } },
    );
    expect(s.padToken).toBe('!');
    expect(s.bosToken).toBe('<|startoftext|>');
    expect(s.modelMaxLength).toBe(77);
  });
});

describe('readTokenizerFiles', () => {
  it('reports a missing vocab.json by path', async () => {
    const dir = folder({ 'merges.txt': 'a b\n' });
    await expect(readTokenizerFiles(dir)).rejects.toThrow(/vocab\.json: not found/);
  });
  it('reports a malformed tokenizer_config.json by path', async () => {
    const dir = folder({
      'vocab.json': '{"a": 0}',
      'merges.txt': 'a b\n',
      'tokenizer_config.json': '{"model_max_length": "77"}',
    });
    await expect(readTokenizerFiles(dir)).rejects.toThrow(
      /tokenizer_config\.json: .*model_max_length/,
    );
  });
});
