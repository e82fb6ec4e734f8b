import { scanCacheDir } from '@huggingface/hub';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { lstat, readdir, readFile, realpath, rm, rmdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { StudioError } from '../../shared/errors';
import type { ModelSummary } from '../../shared/schemas';
import { summarizeModel } from '../models/model-folder';
import { RepoCache, hubCacheDir } from './cache-layout';
import { modelNameOf, parseRepoRef } from './repo-id';

/**
 * Models that live in the Hugging Face cache: the ones the studio downloaded (recorded in
 * `<home>/hub-models.json` only once every file was verified and linked) and the ones found by
 * scanning the cache (downloaded by diffusers, optimum or another studio). Either is used by its
 * repo id: `generate --model owner/name`.
 */

const EntrySchema = z.object({
  name: z.string().min(1),
  repo: z.string().min(1),
  revision: z.string().min(1),
  commit: z.string().regex(/^[0-9a-f]{40}$/),
  subfolder: z.string().nullable(),
  cacheDir: z.string().min(1),
  downloadedAt: z.string(),
});
export type HubModelEntry = z.infer<typeof EntrySchema>;
const EntriesSchema = z.array(EntrySchema);

/** A snapshot folder holds a usable pipeline (links resolve: a dangling link does not count). */
export function isCompletePipeline(dir: string): boolean {
  return existsSync(join(dir, 'model_index.json')) && existsSync(join(dir, 'unet', 'model.onnx'));
}

/** The pipeline folder of a snapshot: its root, or the first direct subfolder (e.g. `onnx`) that holds one. */
function pipelineIn(snapshot: string, subfolder: string | null): string | undefined {
  if (subfolder) {
    const dir = join(snapshot, ...subfolder.split('/'));
    return isCompletePipeline(dir) ? dir : undefined;
  }
  if (isCompletePipeline(snapshot)) return snapshot;
  if (!existsSync(snapshot)) return undefined;
  for (const name of readdirSync(snapshot).sort()) {
    const dir = join(snapshot, name);
    // A dangling link (a file another tool never finished) is skipped, not an error.
    const isDir = (() => {
      try {
        return statSync(dir).isDirectory();
      } catch {
        return false;
      }
    })();
    if (isDir && isCompletePipeline(dir)) return dir;
  }
  return undefined;
}

export class HubModels {
  constructor(
    private readonly home: string,
    private readonly cacheDir: () => string = hubCacheDir,
  ) {}

  private get file(): string {
    return join(this.home, 'hub-models.json');
  }

  entries(): HubModelEntry[] {
    if (!existsSync(this.file)) return [];
    try {
      return EntriesSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
    } catch {
      throw new StudioError(
        `${this.file} is not a list of downloaded models; fix or delete it (the files stay in the HF cache)`,
        'unavailable',
      );
    }
  }

  private write(entries: HubModelEntry[]): void {
    writeFileSync(this.file, `${JSON.stringify(entries, null, 2)}\n`);
  }

  /** Called only after every file is verified and linked. */
  record(entry: Omit<HubModelEntry, 'downloadedAt'>): void {
    const kept = this.entries().filter((e) => e.name !== entry.name);
    kept.push({ ...entry, downloadedAt: new Date().toISOString() });
    this.write(kept);
  }

  dirOf(entry: HubModelEntry): string | undefined {
    const cache = new RepoCache(entry.cacheDir, entry.repo);
    return pipelineIn(cache.snapshot(entry.commit), entry.subfolder);
  }

  private summary(entry: HubModelEntry, dir: string): ModelSummary {
    return {
      ...summarizeModel(entry.name, dir, 'downloaded'),
      repo: entry.repo,
      revision: entry.revision,
      commit: entry.commit,
    };
  }

  /** Downloaded models whose files are still complete in the cache. */
  list(): ModelSummary[] {
    const out: ModelSummary[] = [];
    for (const e of this.entries()) {
      const dir = this.dirOf(e);
      if (dir) out.push(this.summary(e, dir));
    }
    return out;
  }

  /** `owner/name[@revision]`: a downloaded model, else one already in the HF cache. */
  resolve(name: string): { name: string; dir: string } | undefined {
    const entry = this.entries().find((e) => e.name === name);
    if (entry) {
      const dir = this.dirOf(entry);
      if (!dir) {
        throw new StudioError(
          `model "${name}" was downloaded to ${entry.cacheDir}, but its files are no longer complete there; download it again (models --download ${name})`,
          'not-found',
        );
      }
      return { name, dir };
    }
    let ref;
    try {
      ref = parseRepoRef({ repo: name });
    } catch {
      return undefined;
    }
    const cache = new RepoCache(this.cacheDir(), ref.repo);
    const commit = cache.commitOf(ref.revision);
    if (!commit) return undefined;
    const dir = pipelineIn(cache.snapshot(commit), null);
    return dir ? { name, dir } : undefined;
  }

  /** ONNX SD pipelines in the HF cache that the studio did not download (`scanCacheDir`). */
  async found(): Promise<ModelSummary[]> {
    const cacheDir = this.cacheDir();
    if (!existsSync(cacheDir)) return [];
    const known = new Set(
      this.entries()
        .map((e) => this.dirOf(e))
        .filter((d): d is string => d !== undefined)
        .map((d) => resolve(d)),
    );
    const info = await scanCacheDir(cacheDir);
    const out: ModelSummary[] = [];
    for (const repo of info.repos) {
      if (repo.id.type !== 'model') continue;
      for (const revision of repo.revisions) {
        const dir = pipelineIn(revision.path, null);
        if (!dir || known.has(resolve(dir))) continue;
        const refName = revision.refs.includes('main') ? 'main' : revision.refs[0];
        const name = modelNameOf({ repo: repo.id.name, revision: refName ?? revision.commitOid });
        if (out.some((m) => m.name === name)) continue;
        out.push({
          ...summarizeModel(name, dir, 'hf-cache'),
          repo: repo.id.name,
          revision: refName ?? revision.commitOid,
          commit: revision.commitOid,
        });
      }
    }
    return out;
  }

  /**
   * Deletes a downloaded model: its snapshot links, the blobs no other snapshot uses, the refs that
   * named that commit, and the repo folder when nothing is left. Returns the bytes freed.
   */
  async remove(name: string): Promise<number> {
    const entry = this.entries().find((e) => e.name === name);
    if (!entry) return 0;
    const cache = new RepoCache(entry.cacheDir, entry.repo);
    const snapshot = cache.snapshot(entry.commit);
    const others = this.entries().filter(
      (e) => e.name !== name && e.repo === entry.repo && e.cacheDir === entry.cacheDir,
    );
    let freed = 0;
    if (!others.some((e) => e.commit === entry.commit) && existsSync(snapshot)) {
      // Blobs still linked from another snapshot stay.
      const used = new Set<string>();
      const snapshots = join(cache.dir, 'snapshots');
      const mine = new Set<string>();
      const walk = async (dir: string, into: Set<string>): Promise<void> => {
        for (const e of await readdir(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) await walk(p, into);
          else into.add(await realpath(p).catch(() => p));
        }
      };
      for (const s of await readdir(snapshots)) {
        await walk(join(snapshots, s), s === entry.commit ? mine : used);
      }
      for (const blob of mine) {
        if (used.has(blob)) continue;
        const st = await lstat(blob).catch(() => undefined);
        if (!st) continue;
        freed += st.size;
        await unlink(blob);
      }
      await rm(snapshot, { recursive: true, force: true });
      const refs = join(cache.dir, 'refs');
      if (existsSync(refs)) {
        for (const r of await readdir(refs, { recursive: true, withFileTypes: true })) {
          if (!r.isFile()) continue;
          const p = join(r.parentPath, r.name);
          if ((await readFile(p, 'utf8')).trim() === entry.commit) await unlink(p);
        }
      }
      for (const sub of ['snapshots', 'blobs', 'refs', '']) {
        await rmdir(join(cache.dir, sub)).catch(() => {});
      }
    }
    this.write(this.entries().filter((e) => e.name !== name));
    return freed;
  }
}
