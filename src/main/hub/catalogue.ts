import { CatalogueSchema } from '../../shared/hub-schemas';

/**
 * A few well-known ONNX exports of Stable Diffusion on the Hugging Face Hub, as data. Written from
 * public model cards and blog posts; none of these repos could be reached from the machines the
 * studio is developed on, so sizes are approximate and every entry is checked when it is used (the
 * download lists the repo first and says plainly when it is missing, gated, or not an ONNX pipeline).
 */
const CATALOGUE_DATA = {
  verified: false,
  entries: [
    {
      id: 'sd15',
      title: 'Stable Diffusion 1.5 (ONNX, float32)',
      repo: 'stable-diffusion-v1-5/stable-diffusion-v1-5',
      revision: 'onnx',
      family: 'sd1',
      sizeBytes: 4.3e9,
      licence: 'creativeml-openrail-m',
      steps: 25,
      guidance: 7.5,
      gated: false,
      notes:
        'The classic 512x512 model; the onnx branch holds the diffusers ONNX export (mirrored from runwayml).',
    },
    {
      id: 'sd-turbo',
      title: 'SD-Turbo (ONNX, float16, ONNX Runtime build)',
      repo: 'onnxruntime/sd-turbo',
      family: 'sd-turbo',
      sizeBytes: 2.6e9,
      licence: 'sai-nc-community (non-commercial research)',
      steps: 1,
      guidance: 0,
      gated: false,
      notes: 'Distilled SD 2.1, 1-4 steps, no guidance; optimized by Olive for GPU providers.',
    },
    {
      id: 'lcm-dreamshaper',
      title: 'LCM Dreamshaper v7 (ONNX)',
      repo: 'TheyCallMeHex/LCM-Dreamshaper-V7-ONNX',
      family: 'lcm',
      sizeBytes: 4.3e9,
      licence: 'creativeml-openrail-m',
      steps: 4,
      guidance: 1,
      gated: false,
      notes: 'Latent consistency model: 2-8 steps; guidance goes in as an embedding.',
    },
    {
      id: 'sdxl-turbo',
      title: 'SDXL-Turbo (ONNX, float16, ONNX Runtime build)',
      repo: 'onnxruntime/sdxl-turbo',
      family: 'sdxl',
      sizeBytes: 6.9e9,
      licence: 'sai-nc-community (non-commercial research)',
      steps: 1,
      guidance: 0,
      gated: false,
      notes: '512x512 in 1-4 steps; two text encoders; needs a GPU or sequential loading on 8 GB.',
    },
    {
      id: 'sdxl-turbo-int4',
      title: 'SDXL-Turbo (ONNX, int4, WebNN build)',
      repo: 'webnn/sdxl-turbo',
      family: 'sdxl',
      sizeBytes: 3.5e9,
      licence: 'stability-ai-community',
      steps: 1,
      guidance: 0,
      gated: false,
      notes: 'MatMulNBits int4 weights with float16 I/O, made for WebNN; the CPU provider runs it.',
    },
  ],
};

export const CATALOGUE = CatalogueSchema.parse(CATALOGUE_DATA);
