import { isAbsolute, posix } from 'node:path';
import { StudioError } from '../../shared/errors';
import { REPO_ID_PATTERN } from '../../shared/hub-schemas';

/**
 * Everything that comes from a person or from the Hub and ends up in a file path passes through
 * here: repo ids, revisions, subfolders and the file names of a repo's listing. Anything that could
 * leave the cache folder (`..`, absolute paths, backslashes, percent-encoding, drive letters) is
 * refused rather than cleaned up.
 */

export interface RepoRef {
  /** `owner/name`. */
  repo: string;
  revision: string;
  subfolder: string | null;
}

const SEGMENT = /^[\w.+=-]+$/;

/** `strict`: only [\w.+=-] in each segment (names the studio writes); otherwise any name that cannot escape. */
function safeSegments(value: string, what: string, strict = true): string[] {
  if (
    value.includes('\\') ||
    /%(2e|2f|5c|00)/i.test(value) ||
    (strict && value.includes('%')) ||
    value.includes('\0')
  ) {
    throw new StudioError(
      `${what}: "${value}" has a backslash, "%" or NUL; use plain / separated names`,
      'bad-input',
    );
  }
  if (isAbsolute(value) || value.startsWith('/') || /^[A-Za-z]:/.test(value)) {
    throw new StudioError(
      `${what}: "${value}" is an absolute path; give a name inside the repo`,
      'bad-input',
    );
  }
  const segments = value.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..' || (strict && !SEGMENT.test(s))) {
      throw new StudioError(
        `${what}: "${value}" is not a plain relative name (segment "${s}" is not allowed)`,
        'bad-input',
      );
    }
  }
  return segments;
}

/** `owner/name[@revision]`, validated like the Hub validates repo ids. */
export function parseRepoRef(input: {
  repo: string;
  revision?: string;
  subfolder?: string;
}): RepoRef {
  const raw = input.repo.trim();
  const at = raw.indexOf('@');
  const repo = at >= 0 ? raw.slice(0, at) : raw;
  const revision = input.revision ?? (at >= 0 ? raw.slice(at + 1) : 'main');
  if (!REPO_ID_PATTERN.test(repo) || repo.includes('..') || repo.includes('--')) {
    throw new StudioError(
      `repo: "${repo}" is not a Hub repo id; write it as owner/name (letters, digits, "-", "_", "."; no "..", "--" or "/" beyond the one separator)`,
      'bad-input',
    );
  }
  if (repo.endsWith('.git')) {
    throw new StudioError(`repo: "${repo}" must not end with .git`, 'bad-input');
  }
  if (revision === '') throw new StudioError('revision: empty after "@"', 'bad-input');
  safeSegments(revision, 'revision');
  const subfolder = input.subfolder?.replace(/\/+$/, '') || null;
  if (subfolder !== null) safeSegments(subfolder, 'subfolder');
  return { repo, revision, subfolder };
}

/**
 * A file path from a repo's listing: must stay inside the snapshot folder it is joined onto.
 * `strict` also limits the characters (for the files the studio downloads).
 */
export function assertSafeRepoPath(path: string, strict = true): void {
  safeSegments(path, 'file', strict);
  const normal = posix.normalize(path);
  if (normal !== path || normal.startsWith('../')) {
    throw new StudioError(`file: "${path}" would leave the model folder`, 'bad-input');
  }
}

/** The studio's name for a downloaded model: `owner/name`, plus `@revision` when not main. */
export function modelNameOf(ref: { repo: string; revision: string }): string {
  return ref.revision === 'main' ? ref.repo : `${ref.repo}@${ref.revision}`;
}
