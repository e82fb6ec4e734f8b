import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ModelSummary } from '../../shared/schemas';
import { StudioError, describeZodError } from '../../shared/errors';

export const COMPONENTS = [
  'text_encoder',
  'text_encoder_2',
  'unet',
  'vae_decoder',
  'vae_encoder',
  'tokenizer',
  'tokenizer_2',
  'scheduler',
] as const;

const ModelIndexSchema = z.looseObject({ _class_name: z.string().optional() });
const SchedulerConfigSchema = z.looseObject({
  _class_name: z.string().optional(),
  prediction_type: z.string().optional(),
  timestep_spacing: z.string().optional(),
});
const UnetConfigSchema = z.looseObject({
  time_cond_proj_dim: z.number().nullable().optional(),
  _name_or_path: z.string().optional(),
});

/** Reads and validates a JSON file of a model folder; errors name the file and the fix. */
export function readJson<T extends z.ZodType>(file: string, schema: T): z.output<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new StudioError(
      `${file} is not readable JSON (${reason}); re-export the model`,
      'bad-input',
    );
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new StudioError(`${file}: ${describeZodError(parsed.error, 'file')}`, 'bad-input');
  }
  return parsed.data;
}

export function isModelFolder(dir: string): boolean {
  return existsSync(join(dir, 'model_index.json')) || existsSync(join(dir, 'unet', 'model.onnx'));
}

/** The SD family, from the files alone (the engine confirms it against session metadata). */
export function detectFamily(dir: string): ModelSummary['family'] {
  if (existsSync(join(dir, 'text_encoder_2'))) return 'sdxl';
  const unetConfig = join(dir, 'unet', 'config.json');
  if (existsSync(unetConfig) && readJson(unetConfig, UnetConfigSchema).time_cond_proj_dim)
    return 'lcm';
  const schedulerFile = join(dir, 'scheduler', 'scheduler_config.json');
  if (!existsSync(schedulerFile)) return existsSync(join(dir, 'unet')) ? 'sd1' : 'unknown';
  const scheduler = readJson(schedulerFile, SchedulerConfigSchema);
  if (scheduler._class_name === 'LCMScheduler') return 'lcm';
  const index = existsSync(join(dir, 'model_index.json'))
    ? readJson(join(dir, 'model_index.json'), ModelIndexSchema)
    : {};
  const name = `${String(index._name_or_path ?? '')} ${dir}`.toLowerCase();
  // Trailing spacing alone is not Turbo (any model can use it); with Euler Ancestral it is
  // SD-Turbo's own scheduler setup.
  const turboScheduler =
    scheduler.timestep_spacing === 'trailing' &&
    scheduler._class_name === 'EulerAncestralDiscreteScheduler';
  if (name.includes('turbo') || turboScheduler) return 'sd-turbo';
  if (scheduler.prediction_type === 'v_prediction') return 'sd2';
  return 'sd1';
}

function folderSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    total += entry.isDirectory() ? folderSize(p) : statSync(p).size;
  }
  return total;
}

export function summarizeModel(
  name: string,
  dir: string,
  source: ModelSummary['source'],
): ModelSummary {
  return {
    name,
    path: dir,
    family: detectFamily(dir),
    source,
    components: COMPONENTS.filter((c) => existsSync(join(dir, c))),
    sizeBytes: folderSize(dir),
  };
}
