import { describe, expect, it } from 'vitest';
import { StudioError } from '../../shared/errors';
import { composeOptimizeRecipes, compositionRefusal, findOptimizeRecipe } from './recipes';

describe('composed optimizer recipes', () => {
  it('names a composition canonically, whatever the order, and chains graph rewrites before weights', () => {
    const a = findOptimizeRecipe('int8+attention');
    const b = composeOptimizeRecipes(['attention', 'int8']);
    expect(a.name).toBe('attention+int8');
    expect(b).toEqual(a);
    // Attention fusion matches the float MatMul pattern, so it runs before the quantizer.
    expect(a.components.unet).toEqual(['attention', 'int8-matmul', 'int8-weights-dq']);
    expect(a.components.text_encoder).toEqual(['attention', 'int8-matmul', 'int8-weights-dq']);
    // Only attention touches the VAE decoder; the encoder is copied as it is.
    expect(a.components.vae_decoder).toEqual(['attention']);
    expect(a.components.vae_encoder).toBeUndefined();
    // A bump of either part's version rebuilds the composition.
    expect(a.version).toBe(
      findOptimizeRecipe('attention').version + findOptimizeRecipe('int8').version,
    );
  });

  it('a single part, or the same part twice, is that recipe itself', () => {
    expect(findOptimizeRecipe('int8+int8')).toEqual(findOptimizeRecipe('int8'));
    expect(composeOptimizeRecipes(['attention'])).toEqual(findOptimizeRecipe('attention'));
  });

  it('composes mixed (attention + int8 MatMul in the UNet) with attention elsewhere', () => {
    const r = findOptimizeRecipe('mixed+attention');
    expect(r.name).toBe('attention+mixed');
    expect(r.components.unet).toEqual(['attention', 'int8-matmul']);
    expect(r.components.text_encoder).toEqual(['attention', 'int8-matmul']);
  });

  it('refuses two recipes that store the same weights, graph-all with anything, and lora by name', () => {
    expect(compositionRefusal(['int8', 'int4'])).toMatch(
      /int8 and int4 cannot be combined: both decide how the text_encoder's weights are stored \(int8-matmul, int8-weights-dq \/ int4-matmul, int8-weights-dq\)/,
    );
    expect(compositionRefusal(['mixed', 'int8-matmul'])).toMatch(/cannot be combined/);
    expect(compositionRefusal(['fp16-storage', 'int8'])).toMatch(/cannot be combined/);
    expect(compositionRefusal(['graph-all', 'attention'])).toMatch(
      /graph-all cannot be combined with attention: ONNX Runtime writes it from the source file/,
    );
    expect(compositionRefusal(['lora', 'int8'])).toMatch(/merged with its LoRA files/);
    expect(compositionRefusal(['attention', 'nope'])).toMatch(/unknown optimize recipe "nope"/);
    expect(compositionRefusal(['attention', 'fp16-storage'])).toBeUndefined();
    expect(() => findOptimizeRecipe('int4+int8')).toThrow(StudioError);
    try {
      findOptimizeRecipe('int4+int8');
    } catch (e) {
      expect((e as StudioError).code).toBe('bad-input');
    }
  });
});
