import { z } from 'zod';
import { SchedulerOverridesSchema } from './schemas';
import { MODEL_PATH, pathField } from './path-fields';

/**
 * The LoRAs a person can pick for a model: the studio's bundled ones (`resources/loras/`, each with a
 * card) and their own (`<LATENT_STUDIO_HOME>/loras/`, with or without a card).
 *
 * A listed LoRA is named in a request by its `id` (`lora:bundled/<file>` or `lora:home/<file>`)
 * in place of a file path: the studio resolves it to a file inside its own folders, so a page can
 * use it through any adapter without path consent (the web host's allowed folders, Electron's file
 * dialog), the way a known model name needs none.
 */

/** What a LoRA reference that is not a path starts with. */
export const LORA_ID_PREFIX = 'lora:';
export const LORA_SOURCES = ['bundled', 'home'] as const;

export const isLoraId = (value: string): boolean => value.startsWith(LORA_ID_PREFIX);

export const ListLorasRequestSchema = z
  .object({
    model: pathField(
      z.string().min(1, 'name a model folder or a known model such as tiny-shapes'),
      MODEL_PATH,
    ).default('tiny-shapes'),
  })
  .strict()
  .prefault({});

/** How the card says to sample with the LoRA merged (absent: the card does not say). */
export const LoraCardSettingsSchema = z.object({
  /** The scale the LoRA was made for (1 = as trained). */
  scale: z.number(),
  scheduler: z.string().optional(),
  steps: z.number().int().optional(),
  guidance: z.number().optional(),
  /**
   * scheduler_config keys the student was trained with (a step-distilled student's `steps_offset`);
   * `generate` applies them itself when it runs the LoRA at the card's scheduler and steps.
   */
  schedulerOverrides: SchedulerOverridesSchema.optional(),
});
export type LoraCardSettings = z.infer<typeof LoraCardSettingsSchema>;

export const LoraSummarySchema = z.object({
  /** Put this in a request's `loras[].path`. */
  id: z.string().startsWith(LORA_ID_PREFIX),
  /** The card's name, else the file name without `.safetensors`. */
  name: z.string(),
  /** The file name inside its folder (`<folder>/adapter_model.safetensors` for a PEFT adapter). */
  file: z.string(),
  source: z.enum(LORA_SOURCES),
  sizeBytes: z.number().int().nonnegative(),
  /**
   * The card's kind (e.g. `lcm-lora`, `style`; new kinds may appear), null for a bare
   * `.safetensors` without a card.
   */
  kind: z.string().nullable(),
  /**
   * Why it is offered for this model: its card names this model (`model`) or its family
   * (`family`); `unknown`: no card, so only merging tells (a LoRA for another family is refused
   * then, with the first key that does not fit).
   */
  match: z.enum(['model', 'family', 'unknown']),
  /** The card's recommended settings; null without a card. */
  card: LoraCardSettingsSchema.nullable(),
});
export type LoraSummary = z.infer<typeof LoraSummarySchema>;
