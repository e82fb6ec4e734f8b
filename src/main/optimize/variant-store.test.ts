import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { variantModelName, variantStorePath } from './variant-store';

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
