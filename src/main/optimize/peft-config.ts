import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { StudioError } from '../../shared/errors';
import type { LoraComponent } from './lora-merge';

/**
 * The alpha of a PEFT / diffusers LoRA. Their weight files carry no `.alpha` tensors (kohya's do):
 * the scale lives in the adapter's LoraConfig, which PEFT's `save_pretrained` writes as
 * `adapter_config.json` beside `adapter_model.safetensors`, and diffusers' `save_lora_weights` /
 * `save_lora_adapter` embed in the safetensors header as `__metadata__.lora_adapter_metadata`
 * (keys prefixed per component, `unet.lora_alpha`, when the pipeline saved several). Merging such a
 * LoRA with alpha = rank would scale it by rank / lora_alpha: a LoRA trained with r 64 and alpha 32
 * would land at twice its strength.
 */

const PeftConfigSchema = z.looseObject({
  r: z.number().int().positive().optional(),
  lora_alpha: z.number().finite().optional(),
  alpha_pattern: z.record(z.string(), z.number().finite()).optional(),
  use_rslora: z.boolean().optional(),
  use_dora: z.boolean().optional(),
});
export type PeftConfig = z.infer<typeof PeftConfigSchema>;

/** Where the LoraConfig came from, for the manifest and messages. */
export type PeftConfigSource = 'adapter_config.json' | 'lora_adapter_metadata';

export interface PeftConfigs {
  source: PeftConfigSource;
  /** The config of each component; `*`: one config for whichever component the keys name. */
  byComponent: Map<LoraComponent | '*', PeftConfig>;
  /** The config's own text (hashed into the variant name: a changed alpha is another variant). */
  text: string;
}

export const PEFT_ADAPTER_FILE = 'adapter_model.safetensors';
export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const LORA_ADAPTER_METADATA_KEY = 'lora_adapter_metadata';
const COMPONENTS: readonly LoraComponent[] = ['unet', 'text_encoder', 'text_encoder_2'];

/** The `adapter_config.json` PEFT wrote beside this LoRA, when the file is PEFT's adapter. */
export function peftConfigFileFor(loraFile: string): string | undefined {
  if (basename(loraFile) !== PEFT_ADAPTER_FILE) return undefined;
  const file = join(dirname(loraFile), PEFT_CONFIG_FILE);
  return existsSync(file) ? file : undefined;
}

/**
 * The LoraConfig of a LoRA file: its `adapter_config.json` when PEFT saved one beside it, else the
 * config diffusers embedded in the header, else undefined (alpha = rank, as before).
 */
export function readPeftConfigs(
  loraFile: string,
  metadata: Readonly<Record<string, string>>,
): PeftConfigs | undefined {
  const configFile = peftConfigFileFor(loraFile);
  if (configFile) {
    const text = readFileSync(configFile, 'utf8');
    const where = configFile;
    return {
      source: PEFT_CONFIG_FILE,
      byComponent: new Map([['*', parseConfig(parseJson(text, where), where)]]),
      text,
    };
  }
  const text = metadata[LORA_ADAPTER_METADATA_KEY];
  if (text === undefined) return undefined;
  const where = `${basename(loraFile)} (__metadata__.${LORA_ADAPTER_METADATA_KEY})`;
  const raw = parseJson(text, where);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new StudioError(`${where} must be a JSON object (a PEFT LoraConfig)`, 'bad-input');
  const entries = Object.entries(raw);
  const prefixed = entries.some(([k]) => COMPONENTS.some((c) => k.startsWith(`${c}.`)));
  const byComponent = new Map<LoraComponent | '*', PeftConfig>();
  if (!prefixed) {
    byComponent.set('*', parseConfig(raw, where));
  } else {
    for (const c of COMPONENTS) {
      const own = Object.fromEntries(
        entries.filter(([k]) => k.startsWith(`${c}.`)).map(([k, v]) => [k.slice(c.length + 1), v]),
      );
      if (Object.keys(own).length > 0) byComponent.set(c, parseConfig(own, `${where} ${c}.*`));
    }
  }
  return { source: LORA_ADAPTER_METADATA_KEY, byComponent, text };
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new StudioError(
      `${where} is not valid JSON (${(e as Error).message}); fix or remove it to merge with alpha = rank`,
      'bad-input',
    );
  }
}

function parseConfig(raw: unknown, where: string): PeftConfig {
  const parsed = PeftConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StudioError(
      `${where}: field ${issue.path.join('.') || '(root)'} ${issue.message.toLowerCase()}; a PEFT LoraConfig has r (integer), lora_alpha (number), alpha_pattern ({ module: number }), use_rslora (boolean)`,
      'bad-input',
    );
  }
  if (parsed.data.use_dora) {
    // DoRA rescales each merged weight's columns by a learned magnitude: W + up·down is not it.
    throw new StudioError(
      `${where} has use_dora: true: a DoRA adapter cannot be merged as a LoRA (it rescales each weight by a learned magnitude); export it merged, or use a plain LoRA`,
      'bad-input',
    );
  }
  for (const pattern of Object.keys(parsed.data.alpha_pattern ?? {})) {
    try {
      new RegExp(pattern);
    } catch {
      throw new StudioError(
        `${where}: alpha_pattern key "${pattern}" is not a valid regular expression`,
        'bad-input',
      );
    }
  }
  return parsed.data;
}

/**
 * The alpha the merge uses for one module, in the merge's convention (factor = alpha / rank), or
 * undefined when the config gives none. PEFT picks `alpha_pattern`'s first key that matches the end
 * of the module path (`re.match(rf"(.*\.)?({key})$", name)`), else `lora_alpha`; with `use_rslora`
 * its factor is lora_alpha / sqrt(r), so the alpha returned is lora_alpha · sqrt(r).
 */
export function peftAlpha(
  configs: PeftConfigs | undefined,
  component: LoraComponent,
  modulePath: string,
  rank: number,
): number | undefined {
  const config = configs?.byComponent.get(component) ?? configs?.byComponent.get('*');
  if (!config) return undefined;
  const pattern = Object.keys(config.alpha_pattern ?? {}).find((key) =>
    new RegExp(`^(.*\\.)?(${key})$`).test(modulePath),
  );
  const alpha = pattern !== undefined ? config.alpha_pattern?.[pattern] : config.lora_alpha;
  if (alpha === undefined) return undefined;
  return config.use_rslora ? alpha * Math.sqrt(rank) : alpha;
}
