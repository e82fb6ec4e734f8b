import { describe, expect, it } from 'vitest';
import { componentSizes, selectPipelineFiles, type TreeEntry } from './pipeline-files';

const oid = 'a'.repeat(40);
const sha = 'b'.repeat(64);
const file = (path: string, size = 10, lfs = false): TreeEntry => ({
  type: 'file',
  path,
  size: lfs ? 134 : size,
  oid,
  ...(lfs ? { lfs: { oid: sha, size } } : {}),
});

describe('picking the ONNX pipeline out of a repo listing', () => {
  const listing = [
    file('model_index.json'),
    file('README.md'),
    file('unet/model.onnx', 1000, true),
    file('unet/model.onnx_data', 5000, true),
    file('unet/diffusion_pytorch_model.safetensors', 9000, true),
    file('unet/config.json'),
    file('text_encoder/model.onnx', 300, true),
    file('text_encoder/pytorch_model.bin', 900, true),
    file('tokenizer/vocab.json'),
    file('vae/diffusion_pytorch_model.safetensors', 800, true),
    file('vae_decoder/model.onnx', 200, true),
    file('samples/x.png'),
  ];

  it('keeps the graphs, their external data and configs; never PyTorch weights; model_index last', () => {
    const { files, skipped } = selectPipelineFiles('a/b', listing, null);
    expect(files.map((f) => f.path)).toEqual([
      'unet/model.onnx',
      'unet/model.onnx_data',
      'unet/config.json',
      'text_encoder/model.onnx',
      'tokenizer/vocab.json',
      'vae_decoder/model.onnx',
      'model_index.json',
    ]);
    expect(skipped).toBe(5);
    expect(files[0]).toMatchObject({ size: 1000, etag: sha, check: 'sha256' });
    expect(files[2]).toMatchObject({ size: 10, etag: oid, check: 'git-sha1' });
    expect(Object.fromEntries(componentSizes(files, null))).toEqual({
      unet: 6010,
      text_encoder: 300,
      vae_decoder: 200,
    });
  });

  it('refuses a repo without model_index.json + unet/model.onnx, hinting at a subfolder', () => {
    expect(() => selectPipelineFiles('a/b', [file('model_index.json')], null)).toThrow(
      /no ONNX Stable Diffusion pipeline at the repo root/,
    );
    const nested = [
      file('model_index.json'),
      file('onnx/model_index.json'),
      file('onnx/unet/model.onnx'),
    ];
    expect(() => selectPipelineFiles('a/b', nested, null)).toThrow(/add --subfolder onnx/);
    expect(selectPipelineFiles('a/b', nested, 'onnx').files.map((f) => f.path)).toEqual([
      'onnx/unet/model.onnx',
      'onnx/model_index.json',
    ]);
  });

  it('refuses the whole repo when any listed name would escape', () => {
    for (const bad of ['../x', 'unet/../../x.onnx', '/etc/passwd', 'unet\\..\\x']) {
      expect(() => selectPipelineFiles('a/b', [...listing, file(bad)], null), bad).toThrow(
        /would escape the cache folder/,
      );
    }
  });
});
