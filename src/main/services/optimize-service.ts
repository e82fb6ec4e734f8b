import { resolve } from 'node:path';
import type { MethodOutput, ParsedInput } from '../../shared/api';
import { StudioError } from '../../shared/errors';
import type { ModelRegistry } from '../models/model-registry';
import { runOptimizeJob } from '../optimize/optimize-client';
import { findOptimizeRecipe } from '../optimize/recipes';
import { loraVariantName, variantStorePath } from '../optimize/variant-store';
import { resolveLoraRefs } from '../optimize/lora-library';
import type { StudioEvents } from './studio';

/** `optimizeModel` / `cancelOptimize`: one build per output folder, each in its own worker. */
export class OptimizeService {
  private readonly jobs = new Map<string, { controller: AbortController; out: string }>();
  private counter = 0;

  constructor(
    private readonly deps: { home: string; models: ModelRegistry; events: StudioEvents },
  ) {}

  async optimize(input: ParsedInput<'optimizeModel'>): Promise<MethodOutput<'optimizeModel'>> {
    const source = this.deps.models.resolve(input.model);
    // Canonical: `int8+attention` is the `attention+int8` variant in the store.
    const recipe = findOptimizeRecipe(input.recipe).name;
    // LoRA ids from listLoras name files in the studio's LoRA folders.
    const loras = input.loras
      ? resolveLoraRefs(input.loras, this.deps.home).map((l) => ({
          path: resolve(l.path),
          scale: l.scale,
        }))
      : undefined;
    const storeName = loras?.length ? loraVariantName(loras, recipe, this.deps.home) : recipe;
    const out = resolve(input.out ?? variantStorePath(this.deps.home, source.dir, storeName));
    if ([...this.jobs.values()].some((j) => j.out === out)) {
      throw new StudioError(
        `${out} is being written by another optimization; wait for it`,
        'unavailable',
      );
    }
    const jobId = input.jobId ?? `optimize-${Date.now()}-${this.counter++}`;
    if (this.jobs.has(jobId))
      throw new StudioError(`jobId: "${jobId}" is already running; use a new id`, 'bad-input');
    const controller = new AbortController();
    this.jobs.set(jobId, { controller, out });
    try {
      const r = await runOptimizeJob(
        { sourceDir: source.dir, recipe, outDir: out, force: input.force, loras },
        (p) => this.deps.events.emit('optimizeProgress', { jobId, ...p }),
        controller.signal,
      );
      return {
        outDir: r.outDir,
        components: r.components,
        transformMs: r.manifest.transformMs,
        summary: Object.entries(r.manifest.components).map(([component, c]) => ({
          component,
          transforms: c.transforms,
          changed: c.reports.reduce((a, x) => a + x.changed, 0),
          bytesBefore: c.bytesBefore,
          bytesAfter: c.bytesAfter,
          cosine: c.check?.cosine ?? null,
          maxAbsDiff: c.check?.maxAbsDiff ?? null,
        })),
      };
    } finally {
      this.jobs.delete(jobId);
    }
  }

  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    job?.controller.abort();
    return job !== undefined;
  }
}
