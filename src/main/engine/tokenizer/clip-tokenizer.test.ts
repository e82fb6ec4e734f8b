import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_ENCODER } from './bytes-to-unicode';
import { ClipTokenizer } from './clip-tokenizer';
import type { Merge, Vocab } from './tokenizer-files';

/** A tiny vocabulary in CLIP's order: byte symbols, the same with </w>, merges, specials. */
function makeVocab(): { vocab: Vocab; merges: Merge[] } {
  const merges: Merge[] = [
    ['c', 'a'],
    ['ca', 't</w>'],
    ['d', 'o'],
    ['do', 'g</w>'],
  ];
  const symbols = [...BYTE_ENCODER].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
  const tokens = [
    ...symbols,
    ...symbols.map((s) => `${s}</w>`),
    ...merges.map(([a, b]) => a + b),
    '<|startoftext|>',
    '<|endoftext|>',
  ];
  return { vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges };
}

const { vocab, merges } = makeVocab();
const BOS = vocab['<|startoftext|>'];
const EOS = vocab['<|endoftext|>'];

const dirs: string[] = [];
function writeFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'clip-tok-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const mergesText = `#version: 0.2\n${merges.map((m) => m.join(' ')).join('\n')}\n`;
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ClipTokenizer', () => {
  const tok = new ClipTokenizer(vocab, merges);

  it('applies merges by rank and marks word ends with </w>', () => {
    expect(tok.tokenize('cat dog')).toEqual([vocab['cat</w>'], vocab['dog</w>']]);
    expect(tok.tokenize('cab')).toEqual([vocab['ca'], vocab['b</w>']]);
  });

  it('wraps with BOS/EOS and pads SD 1.x style with <|endoftext|>', () => {
    const enc = tok.encode('cat');
    expect(enc.ids.slice(0, 3)).toEqual([BOS, vocab['cat</w>'], EOS]);
    expect(enc.ids).toHaveLength(77);
    expect(enc.ids.slice(3).every((id) => id === EOS)).toBe(true);
    expect(enc.attentionMask.slice(0, 4)).toEqual([1, 1, 1, 0]);
    expect(enc.truncated).toBe(false);
    expect(enc.tokenCount).toBe(3);
  });

  it('truncates to ids[:76] + [eos] and says so', () => {
    const enc = tok.encode(Array(100).fill('cat').join(' '));
    expect(enc.ids).toHaveLength(77);
    expect(enc.ids[75]).toBe(vocab['cat</w>']);
    expect(enc.ids[76]).toBe(EOS);
    expect(enc.truncated).toBe(true);
    expect(enc.tokenCount).toBe(102);
  });

  it('honours maxLength, truncation and padding options', () => {
    expect(tok.encode('cat dog cat', { maxLength: 4 }).ids).toEqual([
      BOS,
      vocab['cat</w>'],
      vocab['dog</w>'],
      EOS,
    ]);
    expect(tok.encode('cat', { padding: false }).ids).toEqual([BOS, vocab['cat</w>'], EOS]);
    expect(() => tok.encode('cat', { maxLength: 1 })).toThrow(/maxLength/);
  });

  it('maps the literal special-token text to the special ids', () => {
    expect(tok.tokenize('<|startoftext|>cat<|endoftext|>')).toEqual([BOS, vocab['cat</w>'], EOS]);
  });

  it('decodes ids back to the cleaned text', () => {
    expect(tok.decode(tok.encode('Cat  DOG, é').ids)).toBe('cat dog , é');
  });

  it('gives the same ids from the cache on repeat calls', () => {
    const first = tok.tokenize('cat dog cats');
    expect(tok.tokenize('cat dog cats')).toEqual(first);
  });
});

describe('ClipTokenizer.fromFolder', () => {
  it('pads with the config pad token (SD 2.x / SDXL tokenizer_2: "!" = id 0)', async () => {
    const dir = writeFolder({
      'vocab.json': JSON.stringify(vocab),
      'merges.txt': mergesText,
      'tokenizer_config.json': JSON.stringify({
        model_max_length: 77,
        pad_token: '!',
        bos_token: { content: '<|startoftext|>', __type: 'AddedToken' },
      }),
      'special_tokens_map.json': JSON.stringify({ pad_token: '!' }),
    });
    const tok = await ClipTokenizer.fromFolder(dir);
    expect(tok.padId).toBe(0);
    const enc = tok.encode('cat');
    expect(enc.ids.slice(0, 4)).toEqual([BOS, vocab['cat</w>'], EOS, 0]);
    expect(enc.ids[76]).toBe(0);
  });

  it('reads model_max_length from tokenizer_config.json', async () => {
    const dir = writeFolder({
      'vocab.json': JSON.stringify(vocab),
      'merges.txt': mergesText,
      'tokenizer_config.json': JSON.stringify({ model_max_length: 16 }),
    });
    const tok = await ClipTokenizer.fromFolder(dir);
    expect(tok.modelMaxLength).toBe(16);
    expect(tok.encode('cat').ids).toHaveLength(16);
  });

  it('ignores transformers\' "no limit" sentinel for model_max_length', async () => {
    const dir = writeFolder({
      'vocab.json': JSON.stringify(vocab),
      'merges.txt': mergesText,
      'tokenizer_config.json': JSON.stringify({ model_max_length: 1e30 }),
    });
    expect((await ClipTokenizer.fromFolder(dir)).modelMaxLength).toBe(77);
  });

  it('rejects a pad token that is not in the vocabulary, naming it', async () => {
    const dir = writeFolder({
      'vocab.json': JSON.stringify(vocab),
      'merges.txt': mergesText,
      'tokenizer_config.json': JSON.stringify({ pad_token: '<pad>' }),
    });
    await expect(ClipTokenizer.fromFolder(dir)).rejects.toThrow(/pad token "<pad>"/);
  });
});

describe('ClipTokenizer.decode with "!" padding', () => {
  it('keeps a real "!" and stops at EOS', async () => {
    const tok = new ClipTokenizer(vocab, merges, { padToken: '!' });
    expect(tok.decode(tok.encode('cat!').ids)).toBe('cat !');
  });
});
