import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { OnnxModel } from '../optimize/onnx-model';
import { studioHome } from '../paths';
import { ortVersion } from '../versions';
import { modelFilesHash } from './optimized-model-cache';

/**
 * Static shapes for a session: the symbolic dimensions of a component's graph inputs (batch,
 * height, width, sequence) fixed to the sizes this generation uses, so ONNX Runtime can fold the
 * shape arithmetic of a traced export into constants and plan memory once. ORT's own lever for
 * this, `freeDimensionOverrides`, is not read by the Node binding (onnxruntime-node's session
 * options parser knows no such key), so the studio writes the same change into the graph: each
 * `dim_param` of an input becomes a `dim_value`. Only the graph (`model.onnx`) is rewritten; the
 * weights file is hard-linked beside it (symlinked, or copied where neither works).
 */

/** Concrete sizes for each input's dimensions; null keeps a dimension as the export has it. */
export type InputDims = Record<string, (number | null)[]>;

const keyOf = (file: string, dims: InputDims): string => {
  const hash = modelFilesHash(file);
  const sorted = Object.keys(dims)
    .sort()
    .map((k) => [k, dims[k]]);
  hash.update(`${file}|${JSON.stringify(sorted)}|${ortVersion()}`);
  return hash.digest('hex').slice(0, 24);
};

function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch {
    try {
      symlinkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
  }
}

/**
 * The component file with its inputs fixed to `dims`, made once per source file and shape under
 * `<home>/cache/static-shapes/`, and a description of what was fixed. An input missing from
 * `dims`, or a dimension given as null, stays as it is.
 */
export function staticShapesFile(
  file: string,
  dims: InputDims,
  home: string = studioHome(),
): { file: string; fixed: string[] } {
  const dir = join(home, 'cache', 'static-shapes', keyOf(file, dims));
  const out = join(dir, 'model.onnx');
  const fixedFile = join(dir, 'fixed.json');
  if (existsSync(out) && existsSync(fixedFile)) {
    return { file: out, fixed: JSON.parse(readFileSync(fixedFile, 'utf8')) as string[] };
  }
  const model = OnnxModel.read(file);
  const fixed: string[] = [];
  try {
    for (const input of model.graph.input) {
      const want = dims[input.name];
      const t = input.type?.value;
      if (!want || t?.case !== 'tensorType' || !t.value.shape) continue;
      t.value.shape.dim.forEach((d, i) => {
        const size = want[i];
        if (size === null || size === undefined || d.value.case === 'dimValue') return;
        fixed.push(
          `${input.name}[${i}] ${d.value.case === 'dimParam' ? d.value.value : '?'}=${size}`,
        );
        d.value = { case: 'dimValue', value: BigInt(size) };
      });
    }
    // Written under a temporary name and renamed, so a crash never leaves a half folder in use.
    const tmp = `${dir}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const name of readdirSync(dirname(file)))
      if (name !== 'model.onnx' && /\.(onnx_data|pb|data|bin)$/.test(name))
        linkOrCopy(join(dirname(file), name), join(tmp, name));
    writeFileSync(join(tmp, 'model.onnx'), toBinary(ModelProtoSchema, model.model));
    writeFileSync(join(tmp, 'fixed.json'), JSON.stringify(fixed));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dirname(dir), { recursive: true });
    renameSync(tmp, dir);
  } finally {
    model.close();
  }
  return { file: out, fixed };
}
