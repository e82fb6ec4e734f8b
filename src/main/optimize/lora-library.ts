import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { StudioError } from '../../shared/errors';
import {
  LORA_ID_PREFIX,
  LORA_SOURCES,
  isLoraId,
  type LoraSummary,
} from '../../shared/lora-schemas';
import { detectFamily } from '../models/model-folder';
import { resourcesDir } from '../paths';
import { cardForFile, LoraCardSchema } from './bundled-loras';
import { PEFT_ADAPTER_FILE } from './peft-config';
import type { SchedulerOverrides } from '../../shared/schemas';

/**
 * The LoRAs a person can pick for a model (the Generate page's picker, `listLoras`): bundled ones
 * with their cards, and everything in `<home>/loras/`, with a card or bare. Read on every call (a
 * few small files): a LoRA dropped into the folder shows up without a restart.
 */

type Source = (typeof LORA_SOURCES)[number];

export const loraFolder = (source: Source, home: string): string =>
  source === 'bundled' ? join(resourcesDir(), 'loras') : join(home, 'loras');

const loraId = (source: Source, file: string): string => `${LORA_ID_PREFIX}${source}/${file}`;

/** A file name that stays inside its folder: no separators, no `..`, a `.safetensors` file. */
const plainLoraFile = (file: string): boolean =>
  basename(file) === file && !file.includes('\\') && file.endsWith('.safetensors');

/** A folder name directly inside the LoRA folder: no separators, not `.` or `..`, not hidden. */
const plainFolder = (name: string): boolean =>
  name !== '' && basename(name) === name && !name.includes('\\') && !name.startsWith('.');

/**
 * `<folder>/adapter_model.safetensors`: a PEFT adapter as `save_pretrained` writes it (its alpha in
 * the `adapter_config.json` beside it), one folder deep and no deeper.
 */
const peftAdapterFile = (file: string): boolean => {
  const parts = file.split('/');
  return parts.length === 2 && plainFolder(parts[0]) && parts[1] === PEFT_ADAPTER_FILE;
};

/** The names a card's `baseModel` may use for this model: its studio name and its folder name. */
function modelNames(model: { name: string; dir: string }): Set<string> {
  // Variant folders are `<model>--<recipe>`: a LoRA for the model fits its variants too.
  const folder = basename(resolve(model.dir)).replace(/--.*$/, '');
  return new Set([model.name, folder]);
}

function safeFamily(dir: string): string | undefined {
  try {
    const family = detectFamily(dir);
    return family === 'unknown' ? undefined : family;
  } catch {
    return undefined;
  }
}

export function listLoras(home: string, model: { name: string; dir: string }): LoraSummary[] {
  const names = modelNames(model);
  const family = safeFamily(model.dir);
  const found: LoraSummary[] = [];
  for (const source of LORA_SOURCES) {
    const dir = loraFolder(source, home);
    if (!existsSync(dir)) continue;
    const entries = readdirSync(dir).sort();
    const carded = new Set<string>();
    for (const f of entries.filter((x) => x.endsWith('.json'))) {
      let card;
      try {
        card = LoraCardSchema.parse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      } catch {
        // A broken card is not offered; its LoRA still shows (bare) if it is in the home folder.
        continue;
      }
      if (!plainLoraFile(card.file) || carded.has(card.file)) continue;
      const path = join(dir, card.file);
      if (!existsSync(path)) continue;
      carded.add(card.file);
      // Bundled cards are tied to the one model they were trained on; a person's card may name a
      // model or a family (as findLcmLora reads them). A card for another model is not offered.
      let match: LoraSummary['match'];
      if (card.baseModel !== undefined) {
        if (!names.has(card.baseModel)) continue;
        match = 'model';
      } else if (source === 'bundled') {
        continue;
      } else if (card.family !== undefined) {
        if (card.family !== family) continue;
        match = 'family';
      } else {
        match = 'unknown';
      }
      found.push({
        id: loraId(source, card.file),
        name: card.name,
        file: card.file,
        source,
        sizeBytes: statSync(path).size,
        kind: card.kind,
        match,
        card: {
          scale: card.scale,
          ...(card.scheduler !== undefined ? { scheduler: card.scheduler } : {}),
          ...(card.steps !== undefined ? { steps: card.steps } : {}),
          ...(card.guidance !== undefined ? { guidance: card.guidance } : {}),
          ...(card.schedulerOverrides !== undefined
            ? { schedulerOverrides: card.schedulerOverrides }
            : {}),
        },
      });
    }
    // The person's own bare LoRAs: no card, so nothing says what they are for until merged.
    if (source === 'home') {
      for (const f of entries.filter((x) => plainLoraFile(x) && !carded.has(x))) {
        const path = join(dir, f);
        if (!statSync(path).isFile()) continue;
        found.push({
          id: loraId(source, f),
          name: f.replace(/\.safetensors$/, ''),
          file: f,
          source,
          sizeBytes: statSync(path).size,
          kind: null,
          match: 'unknown',
          card: null,
        });
      }
      // PEFT adapters saved as folders: named after the folder.
      for (const f of entries.filter(plainFolder)) {
        const file = `${f}/${PEFT_ADAPTER_FILE}`;
        const path = join(dir, f, PEFT_ADAPTER_FILE);
        if (!statSync(join(dir, f)).isDirectory() || !existsSync(path)) continue;
        found.push({
          id: loraId(source, file),
          name: f,
          file,
          source,
          sizeBytes: statSync(path).size,
          kind: null,
          match: 'unknown',
          card: null,
        });
      }
    }
  }
  const order = { model: 0, family: 1, unknown: 2 } as const;
  return found.sort((a, b) => order[a.match] - order[b.match] || a.name.localeCompare(b.name));
}

/**
 * A request's LoRA reference as a file path: a listed id (`lora:bundled/<file>`,
 * `lora:home/<file>`) becomes the file in that folder; anything else is a path, returned as given.
 * An id never leaves its folder, whatever it holds.
 */
export function resolveLoraRef(value: string, home: string, field = 'loras'): string {
  if (!isLoraId(value)) return value;
  const rest = value.slice(LORA_ID_PREFIX.length);
  const slash = rest.indexOf('/');
  const source = rest.slice(0, slash);
  const file = rest.slice(slash + 1);
  if (
    slash < 0 ||
    !(LORA_SOURCES as readonly string[]).includes(source) ||
    !(plainLoraFile(file) || peftAdapterFile(file))
  ) {
    throw new StudioError(
      `${field}: ${value} is not a LoRA id; use one listLoras gives (lora:bundled/<file>, lora:home/<file> or lora:home/<folder>/adapter_model.safetensors) or a .safetensors path`,
      'bad-input',
    );
  }
  const path = join(loraFolder(source as Source, home), file);
  if (!existsSync(path)) {
    throw new StudioError(
      `${field}: no LoRA ${file} in ${loraFolder(source as Source, home)}; list them again`,
      'not-found',
    );
  }
  return path;
}

/** The request's LoRAs with ids turned into paths (fields named `loras.<i>.path` in errors). */
export function resolveLoraRefs<T extends { path: string }>(loras: T[], home: string): T[] {
  return loras.map((l, i) => ({ ...l, path: resolveLoraRef(l.path, home, `loras.${i}.path`) }));
}

/**
 * The scheduler settings a LoRA's card says its student was trained with (a step-distilled
 * student's timestep grid or `steps_offset`), when a generation samples as the card says: one LoRA, the card's
 * scheduler and exactly the card's steps. Another step count or scheduler gets none, since such
 * settings fit only the grid they were trained on. The card is the JSON beside the file whose
 * `file` names it.
 */
export function cardSchedulerOverrides(
  loraPath: string,
  sampling: { scheduler?: string; steps?: number },
): SchedulerOverrides | undefined {
  const card = cardForFile(loraPath);
  if (!card?.schedulerOverrides) return undefined;
  const sameScheduler = (sampling.scheduler ?? card.scheduler) === card.scheduler;
  return sameScheduler && sampling.steps === card.steps ? card.schedulerOverrides : undefined;
}
