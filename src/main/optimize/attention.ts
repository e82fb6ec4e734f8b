import type { NodeProto } from 'onnx-buf';
import { DT, dimsOf } from './tensor-data';
import {
  attr,
  floatAttr,
  getAttr,
  intAttr,
  intsAttr,
  makeNode,
  type OnnxModel,
} from './onnx-model';

/**
 * `attention`: replaces each unmasked attention core (MatMul(Q, Kᵀ) → scale → Softmax →
 * MatMul(·, V) with its head split and merge) by one `com.microsoft.MultiHeadAttention`, which
 * ORT's CPU provider runs on a flash-attention path that never builds the seq×seq score matrix.
 * ORT's own graph optimizer does not fuse the UNet form, so this pass is the only way to get it.
 */
export interface AttentionReport {
  fused: number;
  selfAttention: number;
  crossAttention: number;
  left: { node: string; reason: string }[];
}

/** Why a Softmax was not fused; thrown inside matching, caught into `left`. */
class Unmatched extends Error {}

type Layout = '4d' | '3d';

/** Per-entry values of a Reshape's target shape (undefined = computed at run time). */
type ShapeEntries = (number | undefined)[];

interface Step {
  node: NodeProto;
  /** Composed permutation when consecutive Transposes are merged. */
  perm?: number[];
  shape?: ShapeEntries;
}

interface Branch {
  /** The [B, S, H*D] tensor before the head split: what MultiHeadAttention takes. */
  source: string;
  layout: Layout;
  heads: number;
  headDim?: number;
  scale: number;
}

interface Match {
  query: Branch;
  key: Branch;
  value: Branch;
  scale: number;
  /** The merge Reshape whose output the fused node takes over. */
  merge: NodeProto;
  softmax: NodeProto;
}

/** Ops whose output element type is their first input's (enough to follow a projection). */
const TYPE_PRESERVING = new Set([
  'MatMul',
  'Gemm',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Reshape',
  'Transpose',
  'Softmax',
  'LayerNormalization',
  'InstanceNormalization',
  'Conv',
  'Sigmoid',
  'Tanh',
  'Relu',
  'Erf',
  'Gelu',
  'Identity',
  'Squeeze',
  'Unsqueeze',
  'Flatten',
  'Slice',
  'Split',
  'Concat',
  'Neg',
  'Sqrt',
  'Pow',
]);

export function fuseAttention(model: OnnxModel): AttentionReport {
  const report: AttentionReport = { fused: 0, selfAttention: 0, crossAttention: 0, left: [] };
  const matches: Match[] = [];
  const matcher = new Matcher(model);
  const softmaxes = model.graph.node.filter(
    (n) => n.opType === 'Softmax' && (n.domain === '' || n.domain === 'ai.onnx'),
  );
  for (const softmax of softmaxes) {
    try {
      matches.push(matcher.match(softmax));
    } catch (e) {
      if (!(e instanceof Unmatched)) throw e;
      report.left.push({ node: softmax.name || softmax.output[0], reason: e.message });
    }
  }
  if (matches.length === 0) return report;

  for (const m of matches) {
    const attributes = [attr('num_heads', m.query.heads)];
    const d = m.query.headDim;
    // MultiHeadAttention defaults to 1/sqrt(head size); anything else (or an unknown head size)
    // must be spelled out, and as FLOAT even when it is a whole number such as 1.0.
    if (d === undefined || Math.abs(m.scale * Math.sqrt(d) - 1) > 1e-6) {
      attributes.push(floatAttr('scale', m.scale));
    }
    const base = m.softmax.name ? m.softmax.name.replace(/\/?Softmax[^/]*$/, '') : 'attention';
    const fusedNode = makeNode(
      'MultiHeadAttention',
      [m.query.source, m.key.source, m.value.source],
      [m.merge.output[0]],
      model.uniqueName(`${base || 'attention'}/MultiHeadAttention`),
      attributes,
      'com.microsoft',
    );
    const index = model.graph.node.indexOf(m.merge);
    model.graph.node[index] = fusedNode;
    const q = matcher.projectionInput(m.query.source);
    const isSelf =
      q === matcher.projectionInput(m.key.source) && q === matcher.projectionInput(m.value.source);
    if (isSelf) report.selfAttention++;
    else report.crossAttention++;
    report.fused++;
  }
  model.ensureOpset('com.microsoft', 1);
  model.prune();
  return report;
}

class Matcher {
  private readonly types = new Map<string, number | undefined>();

  constructor(private readonly model: OnnxModel) {}

  match(softmax: NodeProto): Match {
    const m = this.model;
    const scores = this.scoresPath(softmax.input[0]);

    const probsUsers = m.consumers(softmax.output[0]);
    if (probsUsers.length !== 1 || m.isGraphOutput(softmax.output[0])) {
      throw new Unmatched('the attention probabilities are used outside the block');
    }
    let pv = probsUsers[0];
    if (pv.opType === 'Cast') {
      // diffusers casts the probabilities back to the activations' type; only a Cast to the type
      // they already had is a no-op that MultiHeadAttention can absorb.
      const to = intAttr(pv, 'to', 0);
      const had = this.elemType(scores.qk.output[0]);
      if (had === undefined || had !== to) {
        throw new Unmatched('a Cast after the Softmax changes the element type');
      }
      const next = m.consumers(pv.output[0]);
      if (next.length !== 1)
        throw new Unmatched('the attention probabilities are used outside the block');
      pv = next[0];
    }
    if (pv.opType !== 'MatMul' || m.consumers(pv.input[0]).length !== 1) {
      throw new Unmatched(`the Softmax feeds ${pv.opType}, not MatMul(probabilities, V)`);
    }

    const query = this.branch(scores.qk.input[0], 'query');
    const key = this.branch(scores.qk.input[1], 'key');
    const value = this.branch(pv.input[1], 'value');
    if (query.layout !== key.layout || query.layout !== value.layout) {
      throw new Unmatched('query, key and value are split into heads differently');
    }
    if (query.heads !== key.heads || query.heads !== value.heads) {
      throw new Unmatched(
        `query, key and value have different head counts (${query.heads}, ${key.heads}, ${value.heads})`,
      );
    }
    if (query.headDim !== undefined && key.headDim !== undefined && query.headDim !== key.headDim) {
      throw new Unmatched('query and key have different head sizes');
    }

    const rank = query.layout === '4d' ? 4 : 3;
    const defaultAxis = m.opsetVersion('') >= 13 ? -1 : 1;
    const axis = intAttr(softmax, 'axis', defaultAxis);
    if (axis !== -1 && axis !== rank - 1) {
      throw new Unmatched(
        `Softmax over axis ${axis}, not the last axis of the rank-${rank} scores`,
      );
    }

    const merge = this.mergePath(pv, query.layout, query.heads);
    const headDim = query.headDim ?? this.headDimFromWidth(query.source, query.heads);
    return {
      query: { ...query, headDim },
      key,
      value,
      scale: scores.scale * query.scale * key.scale,
      merge,
      softmax,
    };
  }

  /**
   * From the Softmax input up to MatMul(Q, Kᵀ): constant scalar Mul/Div fold into the scale, an
   * Add of a provable zero (what baddbmm with beta = 0 exports) is skipped, any other Add is a mask.
   */
  private scoresPath(start: string): { qk: NodeProto; scale: number } {
    let t = start;
    let scale = 1;
    for (let guard = 0; guard < 16; guard++) {
      const p = this.model.producer(t);
      if (!p) throw new Unmatched('the Softmax input is not computed from a MatMul');
      const factor = this.scalarFactor(p);
      if (factor) {
        scale *= factor.value;
        t = factor.input;
        continue;
      }
      if (p.opType === 'Add') {
        if (this.isZero(p.input[1])) t = p.input[0];
        else if (this.isZero(p.input[0])) t = p.input[1];
        else throw new Unmatched('mask: an Add before the Softmax (attention mask or bias)');
        continue;
      }
      if (p.opType === 'Where') throw new Unmatched('mask: a Where before the Softmax');
      if (p.opType === 'Cast') {
        // Upcasting the scores for the Softmax; the Cast after it must bring them back (checked there).
        t = p.input[0];
        continue;
      }
      if (p.opType === 'MatMul') return { qk: p, scale };
      throw new Unmatched(`${p.opType} before the Softmax instead of MatMul(Q, Kᵀ) and a scale`);
    }
    throw new Unmatched('no MatMul(Q, Kᵀ) within reach of the Softmax');
  }

  /** Mul or Div by a one-element constant: the factor it applies and the other input. */
  private scalarFactor(n: NodeProto): { value: number; input: string } | undefined {
    if (n.opType !== 'Mul' && n.opType !== 'Div') return undefined;
    const c1 = this.scalar(n.input[1]);
    if (c1 !== undefined && c1 !== 0) {
      return { value: n.opType === 'Mul' ? c1 : 1 / c1, input: n.input[0] };
    }
    if (n.opType === 'Mul') {
      const c0 = this.scalar(n.input[0]);
      if (c0 !== undefined && c0 !== 0) return { value: c0, input: n.input[1] };
    }
    return undefined;
  }

  private scalar(name: string): number | undefined {
    const t = this.model.constant(name);
    if (!t || dimsOf(t).reduce((a, b) => a * b, 1) !== 1) return undefined;
    const v = this.model.constantFloats(name);
    return v && v.length === 1 && Number.isFinite(v[0]) ? v[0] : undefined;
  }

  /** True only when the tensor is zero for certain (0 × a finite fill, a zero constant). */
  private isZero(name: string): boolean {
    const c = this.model.constant(name);
    if (c) {
      if (dimsOf(c).reduce((a, b) => a * b, 1) > 4096) return false;
      const v = this.model.constantFloats(name);
      return v !== undefined && v.every((x) => x === 0);
    }
    const p = this.model.producer(name);
    if (!p) return false;
    if (p.opType === 'ConstantOfShape') {
      const fill = this.fillValue(p);
      return fill === 0;
    }
    if (p.opType === 'Mul') {
      const [a, b] = p.input;
      return (
        (this.scalar(a) === 0 && this.isFinite(b)) || (this.scalar(b) === 0 && this.isFinite(a))
      );
    }
    return false;
  }

  private isFinite(name: string): boolean {
    const c = this.model.constant(name);
    if (c) {
      if (dimsOf(c).reduce((a, b) => a * b, 1) > 4096) return false;
      const v = this.model.constantFloats(name);
      return v !== undefined && v.every((x) => Number.isFinite(x));
    }
    const p = this.model.producer(name);
    if (p?.opType !== 'ConstantOfShape') return false;
    const fill = this.fillValue(p);
    return fill !== undefined && Number.isFinite(fill);
  }

  /** ConstantOfShape's fill value; ONNX defaults to a float 0 when the attribute is absent. */
  private fillValue(n: NodeProto): number | undefined {
    const value = getAttr(n, 'value');
    if (!value?.t) return 0;
    try {
      const v = this.model.reader.floats(value.t);
      return v.length === 1 ? v[0] : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Walks from a MatMul operand up to the head split's 4D Reshape. Scalar Mul/Div anywhere on the
   * way fold into the scale (they commute with the reshapes and transposes); consecutive
   * Transposes are composed so `k.transpose(1, 2).transpose(-1, -2)` and a pre-fused
   * Transpose(0, 2, 3, 1) look the same.
   */
  private branch(start: string, role: 'query' | 'key' | 'value'): Branch {
    const steps: Step[] = [];
    let t = start;
    let scale = 1;
    for (let guard = 0; guard < 16; guard++) {
      const p = this.model.producer(t);
      if (!p) throw new Unmatched(`the ${role} is not split into heads by Reshape/Transpose`);
      const factor = role === 'value' ? undefined : this.scalarFactor(p);
      if (factor) {
        scale *= factor.value;
        t = factor.input;
        continue;
      }
      if (p.opType === 'Transpose') {
        const perm = intsAttr(p, 'perm');
        if (!perm) throw new Unmatched(`the ${role}'s Transpose has no perm`);
        const last = steps[steps.length - 1];
        if (last?.perm && last.perm.length === perm.length) {
          // This Transpose runs first, then `last`: output axis i comes from input axis perm[last[i]].
          last.perm = last.perm.map((i) => perm[i]);
          last.node = p;
        } else steps.push({ node: p, perm });
        t = p.input[0];
        continue;
      }
      if (p.opType === 'Reshape') {
        const shape = this.shapeEntries(p.input[1]);
        if (!shape)
          throw new Unmatched(`unknown shape: the ${role}'s Reshape target is not readable`);
        steps.push({ node: p, shape });
        if (shape.length === 4) return this.readBranch(steps, role, scale);
        t = p.input[0];
        continue;
      }
      throw new Unmatched(`the ${role} reaches ${p.opType} before a head-split Reshape`);
    }
    throw new Unmatched(`the ${role}'s head split is not within reach`);
  }

  private readBranch(steps: Step[], role: string, scale: number): Branch {
    const kinds = steps.map((s) =>
      s.perm ? `T(${s.perm.join(',')})` : `R${s.shape ? s.shape.length : '?'}`,
    );
    const pattern = kinds.join(' ');
    // Index 0 is the 4D form, index 1 diffusers' head_to_batch_dim (heads folded into the batch).
    const forms =
      role === 'key'
        ? ['T(0,2,3,1) R4', 'T(0,2,1) R3 T(0,2,1,3) R4']
        : ['T(0,2,1,3) R4', 'R3 T(0,2,1,3) R4'];
    const known = forms.indexOf(pattern);
    if (known < 0) throw new Unmatched(`the ${role}'s head split is ${pattern}, not a known form`);
    const split = steps[steps.length - 1];
    const shape = split.shape as ShapeEntries;
    const heads = shape[2];
    if (heads === undefined || heads <= 0) {
      throw new Unmatched(`the ${role}'s head count is not a constant in its Reshape shape`);
    }
    const headDim = shape[3] !== undefined && shape[3] > 0 ? shape[3] : undefined;
    return {
      source: split.node.input[0],
      layout: known === 0 ? '4d' : '3d',
      heads,
      headDim,
      scale,
    };
  }

  /** From MatMul(probabilities, V) down to the Reshape that merges the heads back to [B, S, H*D]. */
  private mergePath(pv: NodeProto, layout: Layout, heads: number): NodeProto {
    const steps: Step[] = [];
    let t = pv.output[0];
    for (let guard = 0; guard < 8; guard++) {
      if (this.model.isGraphOutput(t)) throw new Unmatched('a head-split tensor is a graph output');
      // diffusers reads the shape of these tensors to build the next Reshape's target; those
      // Shape nodes die with the block.
      const users = this.model.consumers(t).filter((n) => n.opType !== 'Shape');
      if (users.length !== 1) {
        throw new Unmatched('the attention output is used before its heads are merged');
      }
      const n = users[0];
      if (n.input[0] !== t)
        throw new Unmatched(`the attention output feeds ${n.opType}'s second input`);
      if (n.opType === 'Transpose') {
        const perm = intsAttr(n, 'perm');
        if (!perm) throw new Unmatched('a Transpose without perm in the head merge');
        const last = steps[steps.length - 1];
        if (last?.perm && last.perm.length === perm.length) {
          last.perm = perm.map((i) => (last.perm as number[])[i]);
          last.node = n;
        } else steps.push({ node: n, perm });
      } else if (n.opType === 'Reshape') {
        const shape = this.shapeEntries(n.input[1]);
        if (!shape)
          throw new Unmatched('unknown shape: the head merge Reshape target is not readable');
        steps.push({ node: n, shape });
        if (shape.length === 3 && (layout === '4d' || steps.length > 1)) {
          return this.readMerge(steps, layout, heads);
        }
      } else {
        throw new Unmatched(`the attention output reaches ${n.opType} before its heads are merged`);
      }
      t = n.output[0];
    }
    throw new Unmatched('no head merge Reshape within reach');
  }

  private readMerge(steps: Step[], layout: Layout, heads: number): NodeProto {
    const pattern = steps
      .map((s) => (s.perm ? `T(${s.perm.join(',')})` : `R${s.shape ? s.shape.length : '?'}`))
      .join(' ');
    const want = layout === '4d' ? 'T(0,2,1,3) R3' : 'R4 T(0,2,1,3) R3';
    if (pattern !== want) throw new Unmatched(`the head merge is ${pattern}, not ${want}`);
    if (layout === '3d') {
      const h = (steps[0].shape as ShapeEntries)[1];
      if (h !== undefined && h !== heads) {
        throw new Unmatched(`the head merge splits ${h} heads, the split made ${heads}`);
      }
    }
    return steps[steps.length - 1].node;
  }

  /**
   * A Reshape target entry by entry: a constant, or a Concat of one-element pieces where torch's
   * dynamic-axis export computes some entries (Shape → Gather → Unsqueeze) and keeps the rest
   * as constants.
   */
  private shapeEntries(name: string): ShapeEntries | undefined {
    const whole = this.model.constantInts(name);
    if (whole) return whole;
    const p = this.model.producer(name);
    if (p?.opType !== 'Concat') return undefined;
    const out: ShapeEntries = [];
    for (const piece of p.input) {
      const c = this.model.constantInts(piece);
      if (c) {
        out.push(...c);
        continue;
      }
      const q = this.model.producer(piece);
      // Unsqueeze of a scalar along one axis is exactly one entry; anything else has unknown length.
      const axes = q?.opType === 'Unsqueeze' ? this.unsqueezeAxes(q) : undefined;
      if (axes?.length !== 1) return undefined;
      out.push(undefined);
    }
    return out;
  }

  private unsqueezeAxes(n: NodeProto): number[] | undefined {
    return n.input[1] ? this.model.constantInts(n.input[1]) : intsAttr(n, 'axes');
  }

  /** Head size from the projection width when the split's Reshape computes it at run time. */
  private headDimFromWidth(source: string, heads: number): number | undefined {
    const width = this.width(source);
    return width !== undefined && width % heads === 0 ? width / heads : undefined;
  }

  private width(name: string): number | undefined {
    const p = this.model.producer(name);
    if (!p) return undefined;
    if (p.opType === 'Add') {
      for (const i of p.input) {
        const c = this.model.constant(i);
        if (c && dimsOf(c).length === 1) return dimsOf(c)[0];
      }
      return this.width(p.input[0]) ?? this.width(p.input[1]);
    }
    if (p.opType === 'MatMul') {
      const dims = this.weightDims(p.input[1]);
      return dims && dims.length === 2 ? dims[1] : undefined;
    }
    return undefined;
  }

  private weightDims(name: string): number[] | undefined {
    const c = this.model.constant(name);
    if (c) return dimsOf(c);
    const p = this.model.producer(name);
    // fp16-stored weights (tiny-shapes) reach the MatMul through a Cast.
    if (p?.opType === 'Cast' || p?.opType === 'DequantizeLinear')
      return this.weightDims(p.input[0]);
    return undefined;
  }

  /** The tensor a Q/K/V projection reads (through its bias Add), to tell self from cross. */
  projectionInput(name: string): string {
    const p = this.model.producer(name);
    if (!p) return name;
    if (p.opType === 'Add') {
      if (this.model.constant(p.input[0])) return this.projectionInput(p.input[1]);
      if (this.model.constant(p.input[1])) return this.projectionInput(p.input[0]);
      return name;
    }
    if (p.opType === 'MatMul' || p.opType === 'Gemm') return p.input[0];
    return name;
  }

  /** Element type of a tensor, followed back through type-preserving ops (no full inference). */
  elemType(name: string, depth = 0): number | undefined {
    if (this.types.has(name)) return this.types.get(name);
    let type: number | undefined;
    const g = this.model.graph;
    const info = [...g.input, ...g.valueInfo, ...g.output].find((v) => v.name === name);
    if (info?.type?.value.case === 'tensorType') type = info.type.value.value.elemType;
    const c = type === undefined ? this.model.constant(name) : undefined;
    if (c) type = c.dataType;
    const p = this.model.producer(name);
    if (type === undefined && p && depth < 64) {
      if (p.opType === 'Cast') type = intAttr(p, 'to', DT.UNDEFINED);
      else if (TYPE_PRESERVING.has(p.opType) && p.input[0]) {
        type = this.elemType(p.input[0], depth + 1);
      }
    }
    if (type === DT.UNDEFINED) type = undefined;
    this.types.set(name, type);
    return type;
  }
}
