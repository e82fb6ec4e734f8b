import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';
import { copyFile, lstat, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { StudioError } from '../../shared/errors';

/**
 * The Hugging Face cache layout, shared with Python's huggingface_hub (diffusers, optimum):
 * `<cache>/models--owner--name/blobs/<etag>` holds content, `snapshots/<commit>/<path>` links to it,
 * `refs/<revision>` names the commit. The cache folder is `HF_HUB_CACHE`, else `HF_HOME/hub`, else
 * `~/.cache/huggingface/hub` (as `@huggingface/hub` resolves it). A partial download is
 * `blobs/<etag>.incomplete`, as Python names it, so either tool can resume the other's.
 */

export function hubCacheDir(): string {
  return resolve(getHFHubCachePath());
}

export class RepoCache {
  readonly dir: string;

  constructor(
    readonly cacheDir: string,
    readonly repo: string,
  ) {
    this.dir = join(cacheDir, getRepoFolderName({ name: repo, type: 'model' }));
    this.inside(this.dir, cacheDir);
  }

  /** Every path is checked to stay inside its parent, whatever validation came before. */
  private inside(path: string, root: string): string {
    const r = resolve(root) + sep;
    if (!resolve(path).startsWith(r)) {
      throw new StudioError(`refusing a path outside ${root}: ${path}`, 'bad-input');
    }
    return path;
  }

  blob(etag: string): string {
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(etag))
      throw new StudioError(`refusing a blob name that is not a hash: "${etag}"`, 'bad-input');
    return this.inside(join(this.dir, 'blobs', etag), this.dir);
  }

  snapshot(commit: string): string {
    if (!/^[0-9a-f]{40}$/.test(commit))
      throw new StudioError(
        `refusing a snapshot name that is not a commit: "${commit}"`,
        'bad-input',
      );
    return this.inside(join(this.dir, 'snapshots', commit), this.dir);
  }

  snapshotFile(commit: string, path: string): string {
    const snap = this.snapshot(commit);
    return this.inside(join(snap, ...path.split('/')), snap);
  }

  ref(revision: string): string {
    return this.inside(join(this.dir, 'refs', ...revision.split('/')), join(this.dir, 'refs'));
  }

  /** The commit a revision points at in the cache (a commit id is itself). */
  commitOf(revision: string): string | undefined {
    if (/^[0-9a-f]{40}$/.test(revision)) return revision;
    const file = this.ref(revision);
    if (!existsSync(file)) return undefined;
    const commit = readFileSync(file, 'utf8').trim();
    return /^[0-9a-f]{40}$/.test(commit) ? commit : undefined;
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const file = this.ref(revision);
    await mkdir(dirname(file), { recursive: true });
    const current = existsSync(file) ? await readFile(file, 'utf8') : undefined;
    if (current !== commit) await writeFile(file, commit);
  }

  /**
   * `snapshots/<commit>/<path>` → `../../blobs/<etag>` as a relative symlink, as huggingface_hub
   * makes it; where symlinks are not allowed (Windows without developer mode) a copy, as it does too.
   */
  async link(commit: string, path: string, etag: string): Promise<void> {
    const target = this.blob(etag);
    const pointer = this.snapshotFile(commit, path);
    await mkdir(dirname(pointer), { recursive: true });
    const existing = await lstat(pointer).catch(() => undefined);
    if (existing) await rm(pointer, { force: true });
    try {
      await symlink(relative(dirname(pointer), target), pointer);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP') throw error;
      await copyFile(target, pointer);
    }
  }
}
