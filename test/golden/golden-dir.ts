import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Where the golden reference data lives: $GOLDEN_DIR, else ../shared/golden from the repo root
 * (resolved from the working directory, which is the repo root under `npm test`).
 * A clone without that folder skips the golden suites and says why.
 */
export const GOLDEN_DIR = resolve(process.cwd(), process.env.GOLDEN_DIR ?? '../shared/golden');

export function goldenSubdir(name: string): { dir: string; exists: boolean; skipReason: string } {
  const dir = resolve(GOLDEN_DIR, name);
  const exists = existsSync(dir);
  const skipReason = exists
    ? ''
    : `golden data not found at ${dir} (set GOLDEN_DIR to the shared golden folder to run these cases)`;
  if (!exists) console.warn(`[golden] skipped: ${skipReason}`);
  return { dir, exists, skipReason };
}
