// Loads the exported tiny-shapes ONNX files with onnxruntime-node, prints their I/O metadata, and
// compares outputs with the torch outputs export_onnx.py saved for the same inputs.
// Usage: node verify_onnx.mjs <model dir> <test_vectors.json> [<path to onnxruntime-node>]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [modelDir, vectorsPath, ortPath = '/work/main/node_modules/onnxruntime-node'] =
  process.argv.slice(2);
const ort = createRequire(import.meta.url)(path.resolve(ortPath));
const v = JSON.parse(readFileSync(vectorsPath, 'utf8'));
const D = v.hidden_size;
let worst = 0;

function compare(name, got, want) {
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
    maxRef = Math.max(maxRef, Math.abs(want[i]));
  }
  const rel = maxAbs / Math.max(1e-6, maxRef);
  worst = Math.max(worst, rel);
  console.log(
    `${name}: n=${want.length} max|diff|=${maxAbs.toExponential(2)} (rel ${rel.toExponential(2)})`,
  );
  if (got.length !== want.length)
    throw new Error(`${name}: length ${got.length} != ${want.length}`);
}

async function open(component) {
  const s = await ort.InferenceSession.create(path.join(modelDir, component, 'model.onnx'));
  const meta = (m) => m.map((x) => `${x.name}:${x.type ?? ''}[${x.shape ?? ''}]`).join(', ');
  console.log(`${component}: in(${s.inputNames.join(', ')}) out(${s.outputNames.join(', ')})`);
  if (s.inputMetadata && Array.isArray(s.inputMetadata))
    console.log(`  inputs: ${meta(s.inputMetadata)}  outputs: ${meta(s.outputMetadata)}`);
  return s;
}

const f32 = (a, dims) => new ort.Tensor('float32', Float32Array.from(a), dims);

const te = await open('text_encoder');
let r = await te.run({ input_ids: new ort.Tensor('int32', Int32Array.from(v.input_ids), [2, 77]) });
compare('text_encoder.last_hidden_state', r.last_hidden_state.data, v.last_hidden_state);
compare('text_encoder.pooler_output', r.pooler_output.data, v.pooler_output);

const unet = await open('unet');
r = await unet.run({
  sample: f32(v.sample, [2, 4, 8, 8]),
  timestep: f32(v.timestep, [2]),
  encoder_hidden_states: f32(v.encoder_hidden_states, [2, 77, D]),
});
compare('unet.out_sample', r.out_sample.data, v.out_sample);
// dynamic batch and spatial axes: batch 1 at 12x16 latents (96x128 pixels) must run
r = await unet.run({
  sample: f32(new Array(1 * 4 * 12 * 16).fill(0.1), [1, 4, 12, 16]),
  timestep: f32([500], [1]),
  encoder_hidden_states: f32(v.encoder_hidden_states.slice(0, 77 * D), [1, 77, D]),
});
console.log(`unet dynamic: out_sample dims ${r.out_sample.dims}`);

const dec = await open('vae_decoder');
r = await dec.run({ latent_sample: f32(v.sample, [2, 4, 8, 8]) });
compare('vae_decoder.sample', r.sample.data, v.decoded);
r = await dec.run({ latent_sample: f32(new Array(4 * 12 * 16).fill(0), [1, 4, 12, 16]) });
console.log(`vae_decoder dynamic: sample dims ${r.sample.dims}`);

const enc = await open('vae_encoder');
r = await enc.run({ sample: f32(v.image, [2, 3, 64, 64]) });
compare('vae_encoder.latent_sample', r.latent_sample.data, v.latent_mean);

console.log(
  worst < 1e-3 ? `OK: worst relative difference ${worst.toExponential(2)}` : `FAIL: worst ${worst}`,
);
process.exit(worst < 1e-3 ? 0 : 1);
