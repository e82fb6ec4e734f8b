import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { sha256File } from './lora-merge';

/**
 * LoRA content hashes, computed once per file version. A LoRA's merged variant is found by the
 * sha256 of its contents (so a moved or renamed file reuses its variant); hashing a 100–200 MB LoRA
 * on every generate would cost more than the generate itself on a fast model. A file version is
 * (absolute path, size, mtimeMs, inode): any write changes the size or the mtime, and a file
 * replaced by another (rename, copy -p) changes the inode, so a changed file is hashed again.
 *
 * Kept in memory for the process and, with a studio home, in `<home>/lora-hashes.json` so a
 * fresh CLI process does not re-read the file either. The disk cache is advisory: unreadable or
 * invalid, it is ignored; two processes writing it lose at most an entry (written whole, renamed).
 */

interface FileVersion {
  size: number;
  mtimeMs: number;
  ino: number;
}

const EntrySchema = z.object({
  size: z.number(),
  mtimeMs: z.number(),
  ino: z.number(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
type Entry = z.infer<typeof EntrySchema>;
const CacheFileSchema = z.object({
  version: z.literal(1),
  files: z.record(z.string(), EntrySchema),
});

/** Where a home keeps its LoRA hashes. */
// At the home's top level, not in `<home>/loras/` (whose .json files are LoRA cards) nor in
// `<home>/models/` (model folders).
export const loraHashCacheFile = (home: string): string => join(home, 'lora-hashes.json');

const same = (e: Entry, v: FileVersion): boolean =>
  e.size === v.size && e.mtimeMs === v.mtimeMs && e.ino === v.ino;

export class LoraHashCache {
  private readonly memory = new Map<string, Entry>();

  /** `hashFile` is replaceable so tests can count what is really read. */
  constructor(private readonly hashFile: (path: string) => string = sha256File) {}

  /** The file's sha256, hashed only when this version of it has not been hashed before. */
  sha256(file: string, home?: string): string {
    const path = resolve(file);
    const st = statSync(path);
    const version: FileVersion = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    const known = this.memory.get(path);
    if (known && same(known, version)) return known.sha256;
    const stored = home ? readCacheFile(home)[path] : undefined;
    if (stored && same(stored, version)) {
      this.memory.set(path, stored);
      return stored.sha256;
    }
    const entry = { ...version, sha256: this.hashFile(path) };
    // A file written while it was hashed may have been read half old, half new: keep the hash only
    // if the file still is the version that was statted (it is hashed again next time otherwise).
    const after = statSync(path);
    if (same(entry, { size: after.size, mtimeMs: after.mtimeMs, ino: after.ino })) {
      this.memory.set(path, entry);
      if (home) writeCacheEntry(home, path, entry);
    }
    return entry.sha256;
  }
}

function readCacheFile(home: string): Record<string, Entry> {
  const file = loraHashCacheFile(home);
  if (!existsSync(file)) return {};
  try {
    const parsed = CacheFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return parsed.success ? parsed.data.files : {};
  } catch {
    return {};
  }
}

function writeCacheEntry(home: string, path: string, entry: Entry): void {
  const file = loraHashCacheFile(home);
  try {
    const files = readCacheFile(home);
    files[path] = entry;
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ version: 1, files }, null, 1)}\n`);
    renameSync(tmp, file);
  } catch {
    // A read-only home only loses the disk cache; the hash in memory still holds.
  }
}

/** The process's cache: every generate and optimize call in this process shares it. */
export const loraHashes = new LoraHashCache();
