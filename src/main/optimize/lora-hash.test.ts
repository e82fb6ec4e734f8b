import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempHome } from '../../../test/helpers/temp-home';
import { LoraHashCache, loraHashCacheFile } from './lora-hash';
import { sha256File } from './lora-merge';
import { loraVariantName } from './variant-store';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A cache over the real hash that counts the files it really reads. */
function counting(): { cache: LoraHashCache; reads: string[] } {
  const reads: string[] = [];
  const cache = new LoraHashCache((path) => {
    reads.push(path);
    return sha256File(path);
  });
  return { cache, reads };
}

const homes: ReturnType<typeof tempHome>[] = [];
const home = (): string => {
  const h = tempHome();
  homes.push(h);
  return h.dir;
};
afterEach(() => homes.splice(0).forEach((h) => h.cleanup()));

describe('LoRA hashes', () => {
  it('hashes a file once; a repeat asks the file system only for its size and times', () => {
    const dir = home();
    const file = join(dir, 'a.safetensors');
    writeFileSync(file, 'first contents');
    const { cache, reads } = counting();
    expect(cache.sha256(file)).toBe(sha('first contents'));
    expect(cache.sha256(file)).toBe(sha('first contents'));
    expect(reads).toHaveLength(1);
  });

  it('hashes a changed file again: new size, same size with a new mtime, a replaced file', () => {
    const dir = home();
    const file = join(dir, 'a.safetensors');
    writeFileSync(file, 'first contents');
    const { cache, reads } = counting();
    cache.sha256(file);

    writeFileSync(file, 'longer second contents');
    expect(cache.sha256(file)).toBe(sha('longer second contents'));

    // Same length, and an mtime set apart explicitly (a coarse clock could give the same one).
    const before = statSync(file).mtimeMs;
    writeFileSync(file, 'LONGER SECOND CONTENTS');
    utimesSync(file, new Date(), new Date(before + 5000));
    expect(cache.sha256(file)).toBe(sha('LONGER SECOND CONTENTS'));

    // Replaced by another file with the same size and mtime: a new inode.
    const other = join(dir, 'b.safetensors');
    writeFileSync(other, 'longer SECOND contents');
    const t = statSync(file).mtime;
    utimesSync(other, t, t);
    renameSync(other, file);
    expect(cache.sha256(file)).toBe(sha('longer SECOND contents'));
    expect(reads).toHaveLength(4);
  });

  it('remembers hashes in the studio home, so a new process does not read the file again', () => {
    const dir = home();
    const file = join(dir, 'a.safetensors');
    writeFileSync(file, 'contents');
    const first = counting();
    first.cache.sha256(file, dir);
    const second = counting();
    expect(second.cache.sha256(file, dir)).toBe(sha('contents'));
    expect(second.reads).toHaveLength(0);
    // The disk entry is checked against the file like the memory one.
    writeFileSync(file, 'changed contents');
    const third = counting();
    expect(third.cache.sha256(file, dir)).toBe(sha('changed contents'));
    expect(third.reads).toHaveLength(1);
  });

  it('ignores a damaged disk cache and writes a good one', () => {
    const dir = home();
    const file = join(dir, 'a.safetensors');
    writeFileSync(file, 'contents');
    writeFileSync(loraHashCacheFile(dir), '{"version": 1, "files": {"x": 3}');
    const { cache, reads } = counting();
    expect(cache.sha256(file, dir)).toBe(sha('contents'));
    expect(reads).toHaveLength(1);
    const stored = JSON.parse(readFileSync(loraHashCacheFile(dir), 'utf8')) as {
      files: Record<string, { sha256: string }>;
    };
    expect(stored.files[file].sha256).toBe(sha('contents'));
  });

  it('gives a changed LoRA another merged variant name, an unchanged one the same', () => {
    const dir = home();
    const file = join(dir, 'a.safetensors');
    writeFileSync(file, 'weights v1');
    const v1 = loraVariantName([{ path: file, scale: 1 }], 'lora', dir);
    expect(loraVariantName([{ path: file, scale: 1 }], 'lora', dir)).toBe(v1);
    writeFileSync(file, 'weights v2, longer');
    expect(loraVariantName([{ path: file, scale: 1 }], 'lora', dir)).not.toBe(v1);
  });
});
