import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const EDGE = 1 << 20;

/**
 * A model's identity for the history: sha256 over every file's relative path, size, and its first
 * and last MiB. Hashing 4 GB of UNet weights on every benchmark would take longer than the
 * benchmark; the edges of each file change whenever a re-export or quantization changes it.
 */
export function modelFingerprint(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) {
        walk(p);
        continue;
      }
      hash.update(`${relative(dir, p)}:${s.size};`);
      const fd = openSync(p, 'r');
      try {
        const head = Buffer.alloc(Math.min(EDGE, s.size));
        readSync(fd, head, 0, head.length, 0);
        hash.update(head);
        if (s.size > EDGE) {
          const tail = Buffer.alloc(Math.min(EDGE, s.size - EDGE));
          readSync(fd, tail, 0, tail.length, s.size - tail.length);
          hash.update(tail);
        }
      } finally {
        closeSync(fd);
      }
    }
  };
  walk(dir);
  return hash.digest('hex');
}
