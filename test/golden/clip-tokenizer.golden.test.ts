import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../src/main/engine/tokenizer/clip-tokenizer';
import { goldenSubdir } from './golden-dir';

interface TokenizerCase {
  prompt: string;
  ids: number[];
  ids77: number[];
}

const golden = goldenSubdir('clip-tokenizer');
const suiteName = golden.exists
  ? `CLIP tokenizer golden cases (${golden.dir})`
  : `CLIP tokenizer golden cases — SKIPPED: ${golden.skipReason}`;

describe.skipIf(!golden.exists)(suiteName, async () => {
  const cases = golden.exists
    ? (JSON.parse(readFileSync(join(golden.dir, 'cases.json'), 'utf8')) as TokenizerCase[])
    : [];
  const tokenizer = golden.exists ? await ClipTokenizer.fromFolder(golden.dir) : undefined;

  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c, i) => [i, JSON.stringify(c.prompt).slice(0, 60), c] as const))(
    'case %i %s',
    (_i, _label, c) => {
      const tok = tokenizer as ClipTokenizer;
      const untruncated = tok.encode(c.prompt, { truncation: false, padding: false });
      expect(untruncated.ids).toEqual(c.ids);
      const sd = tok.encode(c.prompt);
      expect(sd.ids).toEqual(c.ids77);
      expect(sd.truncated).toBe(c.ids.length > 77);
      expect(sd.tokenCount).toBe(c.ids.length);
    },
  );

  it('tokenizes a long prompt in well under a millisecond once loaded', () => {
    const tok = tokenizer as ClipTokenizer;
    const prompts = cases.map((c) => c.prompt);
    for (const p of prompts) tok.encode(p); // warm the BPE cache, as a running studio would be
    const rounds = 20;
    const start = performance.now();
    for (let r = 0; r < rounds; r++) for (const p of prompts) tok.encode(p);
    const perPrompt = (performance.now() - start) / (rounds * prompts.length);
    expect(perPrompt).toBeLessThan(0.5);
  });
});
