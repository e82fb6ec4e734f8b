import { create } from '@bufbuild/protobuf';
import {
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type NodeProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { StudioError } from '../../shared/errors';
import { getAttr, makeNode, type OnnxModel } from './onnx-model';
import { DT } from './tensor-data';

/**
 * UNet feature caching (DeepCache, Ma et al., CVPR 2024, arXiv 2312.00858) as graph surgery.
 *
 * The up path of a UNet concatenates each up block's input with a skip connection from the down
 * path (`Concat(h, skip)` on the channel axis). The deep feature `h` at a shallow skip changes
 * little between adjacent denoising steps, so:
 * - the full UNet gets `h` as an extra output (`CACHED_FEATURE`), unchanged otherwise;
 * - the shallow UNet takes `h` as an input instead, and every node that only fed it is dropped:
 *   what is left is the stem, the shallow down layers that make the skip, the time embedding and
 *   the up layers after the cut. The engine runs the full UNet every N-th step and the shallow one
 *   in between, on the cached feature.
 *
 * The cut is found from the graph's structure, not from node names: a skip Concat is a two-input
 * Concat on axis 1 whose inputs both depend on `sample` through data (not through Shape), and whose
 * skip input also feeds the down path. Branch b (DeepCache's `cache_branch_id`) is the b-th such
 * Concat counted from the output end, not counting the stem skip (conv_in's own output, which the
 * last up layer of diffusers' UNets reads) unless it is the only skip the model has.
 */

export const CACHED_FEATURE = 'cached_feature';

export interface SkipConcat {
  /** The Concat node's name (or its output's, where the node has none). */
  node: string;
  /** The deep feature: the Concat's first input. */
  feature: string;
  /** The skip connection from the down path: its second input. */
  skip: string;
  /** The skip is conv_in's output (the stem), read straight from `sample`. */
  stem: boolean;
}

const NO_DATA = new Set(['Shape', 'Size']);

/** Tensors whose values depend on `sample` through data flow (Shape/Size outputs do not). */
function sampleDependent(model: OnnxModel): Set<string> {
  const dependent = new Set<string>(['sample']);
  for (const n of model.graph.node) {
    if (NO_DATA.has(n.opType)) continue;
    if (n.input.some((i) => i && dependent.has(i)))
      for (const o of n.output) if (o) dependent.add(o);
  }
  return dependent;
}

/** Follows Cast/Identity back from a tensor to what really made it. */
function realProducer(model: OnnxModel, name: string): NodeProto | undefined {
  let p = model.producer(name);
  while (p && (p.opType === 'Cast' || p.opType === 'Identity')) p = model.producer(p.input[0]);
  return p;
}

function isStem(model: OnnxModel, skip: string): boolean {
  const p = realProducer(model, skip);
  if (!p || p.opType !== 'Conv') return false;
  const src = p.input[0];
  return src === 'sample' || realProducer(model, src) === undefined;
}

/** Every skip Concat of the up path, in graph order (the last one is nearest the output). */
export function findSkipConcats(model: OnnxModel): SkipConcat[] {
  const dependent = sampleDependent(model);
  const found: SkipConcat[] = [];
  for (const n of model.graph.node) {
    if (n.opType !== 'Concat' || n.input.length !== 2) continue;
    const axis = Number(getAttr(n, 'axis')?.i ?? 0);
    if (axis !== 1 && axis !== -3) continue;
    const [feature, skip] = n.input;
    if (!dependent.has(feature) || !dependent.has(skip)) continue;
    if (model.consumers(skip).length < 2) continue;
    found.push({ node: n.name || n.output[0], feature, skip, stem: isStem(model, skip) });
  }
  return found;
}

/** The cut for DeepCache branch `branch`, or why there is none. */
export function chooseCut(
  model: OnnxModel,
  branch: number,
): { cut: SkipConcat; skips: SkipConcat[] } | { refused: string; skips: SkipConcat[] } {
  const skips = findSkipConcats(model);
  if (skips.length === 0)
    return {
      refused:
        'no skip connection was found in the UNet (no two-input Concat on the channel axis fed by the down path); feature caching needs a UNet with skip connections',
      skips,
    };
  const fromEnd = [...skips].reverse();
  const branches = fromEnd.some((s) => !s.stem) ? fromEnd.filter((s) => !s.stem) : fromEnd;
  const cut = branches[branch];
  if (!cut)
    return {
      refused: `branch ${branch} does not exist: this UNet has ${branches.length} usable skip connection(s)`,
      skips,
    };
  return { cut, skips };
}

function tensorValueInfo(name: string, elemType: number, rank: number | null): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType,
          ...(rank === null
            ? {}
            : {
                shape: create(TensorShapeProtoSchema, {
                  dim: Array.from({ length: rank }, (_, i) =>
                    create(TensorShapeProto_DimensionSchema, {
                      value: { case: 'dimParam', value: `cached_feature_${i}` },
                    }),
                  ),
                }),
              }),
        }),
      },
    }),
  });
}

/** The element type of a tensor where the graph records it, else float32. */
function elemTypeOf(model: OnnxModel, name: string): number {
  const vi = [...model.graph.valueInfo, ...model.graph.output, ...model.graph.input].find(
    (v) => v.name === name,
  );
  const t = vi?.type?.value;
  if (t?.case === 'tensorType' && t.value.elemType) return t.value.elemType;
  // A Cast states its output type.
  const p = model.producer(name);
  if (p?.opType === 'Cast') return Number(getAttr(p, 'to')?.i ?? DT.FLOAT);
  return DT.FLOAT;
}

export interface FeatureCacheReport {
  /** Skip Concats found, and which one was cut (index from the output end). */
  skips: number;
  cutFromEnd: number;
  stem: boolean;
  feature: string;
}

/**
 * The full UNet of the pair: the deep feature at the chosen cut becomes a second graph output,
 * through an Identity so its name is stable whatever the export called the tensor. Nothing else
 * changes, so `out_sample` is bit for bit the source's.
 */
export function addCachedFeatureOutput(model: OnnxModel, branch: number): FeatureCacheReport {
  if (model.isGraphOutput(CACHED_FEATURE) || model.producer(CACHED_FEATURE))
    throw new StudioError('this UNet already has a cached_feature output', 'bad-input');
  const choice = chooseCut(model, branch);
  if ('refused' in choice) throw new StudioError(`feature cache: ${choice.refused}`, 'failed');
  const { cut, skips } = choice;
  model.graph.node.push(
    makeNode('Identity', [cut.feature], [CACHED_FEATURE], 'feature_cache/Identity'),
  );
  model.graph.output.push(tensorValueInfo(CACHED_FEATURE, elemTypeOf(model, cut.feature), 4));
  model.reindex();
  return {
    skips: skips.length,
    cutFromEnd: skips.length - 1 - skips.indexOf(cut),
    stem: cut.stem,
    feature: cut.feature,
  };
}

/**
 * The shallow UNet, made from a full UNet of the pair: `cached_feature` becomes a graph input that
 * replaces the deep feature, and every node that only fed the deep feature is pruned. The graph's
 * other inputs stay declared (the engine feeds both UNets alike), even where none is read now.
 */
export function makeShallowUnet(model: OnnxModel): { nodesBefore: number; nodesAfter: number } {
  const identity = model.producer(CACHED_FEATURE);
  if (!identity || identity.opType !== 'Identity')
    throw new StudioError(
      'not a feature-cache UNet: no cached_feature output made by the feature-cache transform',
      'bad-input',
    );
  const nodesBefore = model.graph.node.length;
  const feature = identity.input[0];
  const output = model.graph.output.find((o) => o.name === CACHED_FEATURE);
  model.graph.node = model.graph.node.filter((n) => n !== identity);
  model.graph.output = model.graph.output.filter((o) => o.name !== CACHED_FEATURE);
  model.reindex();
  model.rewire(feature, CACHED_FEATURE);
  model.graph.input.push(output ?? tensorValueInfo(CACHED_FEATURE, elemTypeOf(model, feature), 4));
  model.reindex();
  model.prune();
  return { nodesBefore, nodesAfter: model.graph.node.length };
}
