import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peftAlpha, readPeftConfigs } from './peft-config';

const dir = (): string => mkdtempSync(join(tmpdir(), 'ls-peft-'));

/** A PEFT save_pretrained folder: adapter_model.safetensors + adapter_config.json. */
function peftFolder(config: unknown): string {
  const d = dir();
  writeFileSync(join(d, 'adapter_config.json'), JSON.stringify(config));
  return join(d, 'adapter_model.safetensors');
}

describe('readPeftConfigs', () => {
  it("reads PEFT's adapter_config.json beside adapter_model.safetensors", () => {
    const file = peftFolder({ r: 64, lora_alpha: 32, target_modules: ['to_q'], peft_type: 'LORA' });
    const configs = readPeftConfigs(file, {});
    expect(configs?.source).toBe('adapter_config.json');
    expect(peftAlpha(configs, 'unet', 'down_blocks.0.attentions.0.to_q', 64)).toBe(32);
    expect(peftAlpha(configs, 'text_encoder', 'text_model.encoder.layers.0.q_proj', 64)).toBe(32);
  });

  it('ignores an adapter_config.json beside a file PEFT did not name (a folder of many LoRAs)', () => {
    const d = dir();
    writeFileSync(join(d, 'adapter_config.json'), JSON.stringify({ r: 4, lora_alpha: 1 }));
    expect(readPeftConfigs(join(d, 'style.safetensors'), {})).toBeUndefined();
  });

  it("reads diffusers' header metadata, per component when prefixed", () => {
    const metadata = {
      lora_adapter_metadata: JSON.stringify({
        'unet.r': 8,
        'unet.lora_alpha': 4,
        'text_encoder.r': 8,
        'text_encoder.lora_alpha': 16,
      }),
    };
    const configs = readPeftConfigs(join(dir(), 'pytorch_lora_weights.safetensors'), metadata);
    expect(configs?.source).toBe('lora_adapter_metadata');
    expect(peftAlpha(configs, 'unet', 'mid_block.attentions.0.proj_in', 8)).toBe(4);
    expect(peftAlpha(configs, 'text_encoder', 'text_model.encoder.layers.0.q_proj', 8)).toBe(16);
    // No config for SDXL's second text encoder: alpha = rank, as before.
    expect(peftAlpha(configs, 'text_encoder_2', 'x', 8)).toBeUndefined();
    // An unprefixed config (save_lora_adapter on one model) serves every component.
    const single = readPeftConfigs(join(dir(), 'a.safetensors'), {
      lora_adapter_metadata: JSON.stringify({ r: 8, lora_alpha: 2 }),
    });
    expect(peftAlpha(single, 'unet', 'conv_in', 8)).toBe(2);
  });

  it('alpha_pattern beats lora_alpha on the module paths it matches (the end of the path)', () => {
    const configs = readPeftConfigs(
      peftFolder({ r: 16, lora_alpha: 16, alpha_pattern: { 'attn2.to_k': 4, 'to_out\\.0': 8 } }),
      {},
    );
    expect(peftAlpha(configs, 'unet', 'down_blocks.0.attentions.0.attn2.to_k', 16)).toBe(4);
    expect(peftAlpha(configs, 'unet', 'up_blocks.1.attentions.2.attn1.to_out.0', 16)).toBe(8);
    // Not a suffix on a dot boundary: the plain alpha.
    expect(peftAlpha(configs, 'unet', 'down_blocks.0.attentions.0.xattn2.to_k', 16)).toBe(16);
    expect(peftAlpha(configs, 'unet', 'down_blocks.0.attentions.0.attn1.to_k', 16)).toBe(16);
  });

  it('rsLoRA scales by lora_alpha / sqrt(r): the merge gets alpha = lora_alpha * sqrt(r)', () => {
    const configs = readPeftConfigs(peftFolder({ r: 16, lora_alpha: 8, use_rslora: true }), {});
    const alpha = peftAlpha(configs, 'unet', 'conv_in', 16) ?? NaN;
    expect(alpha / 16).toBeCloseTo(8 / Math.sqrt(16), 12);
  });

  it('a config without lora_alpha gives no alpha (the merge keeps alpha = rank)', () => {
    const configs = readPeftConfigs(peftFolder({ r: 4 }), {});
    expect(peftAlpha(configs, 'unet', 'conv_in', 4)).toBeUndefined();
  });

  it('refuses DoRA, a wrong field and broken JSON with the field and the fix', () => {
    expect(() => readPeftConfigs(peftFolder({ r: 4, lora_alpha: 4, use_dora: true }), {})).toThrow(
      /use_dora: true: a DoRA adapter cannot be merged as a LoRA/,
    );
    expect(() => readPeftConfigs(peftFolder({ r: 4, lora_alpha: '4' }), {})).toThrow(
      /field lora_alpha .*a PEFT LoraConfig has r \(integer\), lora_alpha \(number\)/,
    );
    expect(() =>
      readPeftConfigs(peftFolder({ r: 4, lora_alpha: 4, alpha_pattern: { '(': 1 } }), {}),
    ).toThrow(/alpha_pattern key "\(" is not a valid regular expression/);
    expect(() =>
      readPeftConfigs(join(dir(), 'x.safetensors'), { lora_adapter_metadata: '{r: 4' }),
    ).toThrow(/__metadata__\.lora_adapter_metadata\) is not valid JSON/);
  });
});
