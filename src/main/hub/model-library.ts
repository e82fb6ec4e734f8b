import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { StudioError } from '../../shared/errors';
import type { CatalogueSchema, FitReport, FitRequestSchema } from '../../shared/hub-schemas';
import type { ModelSummary } from '../../shared/schemas';
import type { ModelRegistry } from '../models/model-registry';
import { CATALOGUE } from './catalogue';
import type { HubModels } from './hub-models';
import type { HubService } from './hub-service';

/**
 * The Models page's view of everything installed: the registry's models (bundled, registered by
 * path, imported, optimized variants with their source), the Hub downloads, and the ONNX pipelines
 * found in the HF cache; plus delete (downloads and variants only) and the fit check.
 */

const WEIGHT_FILE = /\.(onnx|onnx_data|pb|data|bin)$|^[^.]+$/;

function bytesIn(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += bytesIn(p);
    else if (WEIGHT_FILE.test(e.name)) total += statSync(p).size;
  }
  return total;
}

/** Weights per component folder (tokenizers and scheduler configs weigh nothing). */
export function weightsOf(dir: string): { total: number; largest: number } {
  let total = 0;
  let largest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('tokenizer') || e.name === 'scheduler') continue;
    const b = bytesIn(join(dir, e.name));
    total += b;
    largest = Math.max(largest, b);
  }
  return { total, largest };
}

export class ModelLibrary {
  constructor(
    private readonly deps: {
      home: string;
      models: ModelRegistry;
      hubModels: HubModels;
      hub: HubService;
    },
  ) {}

  async list(): Promise<ModelSummary[]> {
    const known = this.deps.models.list();
    let found: ModelSummary[] = [];
    try {
      found = await this.deps.hubModels.found();
    } catch {
      // An unreadable HF cache hides what it holds; it is not an error for the whole listing.
    }
    return [...known, ...found.filter((f) => !known.some((k) => k.name === f.name))];
  }

  catalogue(): z.output<typeof CatalogueSchema> {
    return CATALOGUE;
  }

  async fit(input: z.output<typeof FitRequestSchema>): Promise<FitReport> {
    if (input.model !== undefined) {
      const { dir } = this.deps.models.resolve(input.model);
      const w = weightsOf(dir);
      return this.deps.hub.fit(w.total, w.largest, input.ep);
    }
    const total = input.weightsBytes ?? 0;
    return this.deps.hub.fit(total, input.largestComponentBytes ?? total, input.ep);
  }

  /** Downloaded files and optimized variants only; a folder registered by path is never touched. */
  async remove(name: string): Promise<{ removed: boolean; freedBytes: number }> {
    if (this.deps.hubModels.entries().some((e) => e.name === name)) {
      const freedBytes = await this.deps.hubModels.remove(name);
      return { removed: true, freedBytes };
    }
    const model = (await this.list()).find((m) => m.name === name);
    if (!model) throw new StudioError(`name: no model named "${name}"`, 'not-found');
    if (model.source === 'optimized') {
      const store = resolve(this.deps.home, 'models') + sep;
      const dir = resolve(model.path);
      if (!dir.startsWith(store) || !existsSync(join(dir, 'latent-studio.json'))) {
        throw new StudioError(
          `name: ${name} is not in the studio's variant store (${store}); delete it yourself`,
          'bad-input',
        );
      }
      await rm(dir, { recursive: true, force: true });
      return { removed: true, freedBytes: model.sizeBytes };
    }
    const why =
      model.source === 'bundled'
        ? 'it ships with the studio'
        : model.source === 'hf-cache'
          ? 'it was downloaded by another tool into the HF cache; delete it there (huggingface-cli delete-cache)'
          : 'it is a folder you registered by path; use "Remove" to forget it (its files stay)';
    throw new StudioError(`name: ${name} cannot be deleted here: ${why}`, 'bad-input');
  }
}
