import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loraVariantName, variantModelName, variantStorePath } from './variant-store';

describe('variant store paths', () => {
  it('names a variant after the model folder, or after the repo for an HF cache snapshot', () => {
    expect(variantModelName('/models/tiny-shapes')).toBe('tiny-shapes');
    const hub = '/c/hub/models--acme--sd15-onnx/snapshots/0123abcd';
    expect(variantModelName(hub)).toBe('acme--sd15-onnx');
    expect(variantModelName(`${hub}/onnx`)).toBe('acme--sd15-onnx--onnx');
    expect(variantStorePath('/h', `${hub}/onnx`, 'int8')).toBe(
      join('/h', 'models', 'acme--sd15-onnx--onnx--int8'),
    );
    // Two repos that both keep their pipeline in an `onnx` subfolder get different variants.
    expect(variantModelName('/c/hub/models--a--x/snapshots/1/onnx')).not.toBe(
      variantModelName('/c/hub/models--b--y/snapshots/2/onnx'),
    );
  });
});

describe('loraVariantName', () => {
  it("changes with a PEFT adapter's adapter_config.json (its alpha), not only with the weights", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-peft-name-'));
    const file = join(dir, 'adapter_model.safetensors');
    writeFileSync(file, 'weights');
    const bare = loraVariantName([{ path: file, scale: 1 }]);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ r: 4, lora_alpha: 4 }));
    const alpha4 = loraVariantName([{ path: file, scale: 1 }]);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ r: 4, lora_alpha: 8 }));
    const alpha8 = loraVariantName([{ path: file, scale: 1 }]);
    expect(new Set([bare, alpha4, alpha8]).size).toBe(3);
    expect(loraVariantName([{ path: file, scale: 1 }])).toBe(alpha8);
  });
});
