import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import type { NodeProto, TensorProto } from 'onnx-buf';
import { StudioError } from '../../shared/errors';
import { LORA_SCALE_RANGE } from '../../shared/schemas';
import { attr, intAttr, makeNode, type OnnxModel } from './onnx-model';
import { openUpDownKernel, type UpDownKernel } from './lora-product';
import { SafetensorsFile } from './safetensors';
import { peftAlpha, readPeftConfigs, type PeftConfigs, type PeftConfigSource } from './peft-config';
import { bytesOf, dimsOf, DT, elementCount, floatToHalf, halfToFloat } from './tensor-data';

/**
 * LoRA merging into an exported ONNX model: W' = W + scale · (alpha / rank) · up · down.
 *
 * Key layouts read (what the public LoRAs use):
 * - kohya / sd-scripts: `lora_unet_<module with _>.lora_down.weight`, `.lora_up.weight`, `.alpha`;
 *   `lora_te_` / `lora_te1_` (text encoder) and `lora_te2_` (SDXL's second one).
 * - diffusers / PEFT: `[unet.|text_encoder.|text_encoder_2.][base_model.model.]<module>.lora_A.weight`
 *   / `.lora_B.weight` (also `.lora.down.weight` / `.lora.up.weight`, `.lora_down` / `.lora_up`,
 *   and the older `<attn>.processor.to_q_lora.down.weight` attention-processor form); no prefix means
 *   the UNet.
 * Alpha: the key's own `.alpha` tensor (kohya); else the PEFT LoraConfig's `lora_alpha` /
 * `alpha_pattern` (`adapter_config.json` beside `adapter_model.safetensors`, or the config diffusers
 * embeds in the header; peft-config.ts); else alpha = rank (factor 1; the manifest marks such keys
 * `alphaDefault`). The rank is the down matrix's first dimension, and a down or up matrix without
 * one refuses the merge.
 *
 * Merged weights keep the source's dtype: computed in float32, rounded once to float16 when the
 * source stores float16 (directly, or behind the `Cast(to=float)` of fp16-stored exports), so a
 * merged variant is the size of its source.
 *
 * ONNX side: torch exports name nodes by module path (`/down_blocks.0/attentions.0/…/to_q/MatMul`),
 * while Linear weights feeding a MatMul are often anonymous (`onnx::MatMul_1522`) and stored
 * transposed, [in, out]. Each MatMul / Gemm / Conv with a constant float weight is a "site"; its
 * module path comes from the weight's own name when it has one (`conv_in.weight`), else from the
 * node name. Exports that lost the outer scope in loops (`/attns.0/blocks.0/attn1/to_q_1/MatMul`)
 * get it back from the nearest preceding named weight of the same block. A path claimed by two
 * sites is ambiguous and matches nothing. Keys that map to no site, or whose shapes do not fit
 * (an SDXL LoRA on SD 1.5), refuse the whole merge: nothing is half-applied.
 */

export interface LoraSpec {
  path: string;
  scale: number;
}

export { LORA_SCALE_RANGE };

export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';

/** One LoRA pair (down/up, optional alpha) as found in the file. */
export interface LoraModule {
  component: LoraComponent;
  /** The module path as the key spells it (dots for PEFT, underscores for kohya). */
  module: string;
  /** The key stem, for messages and the manifest. */
  key: string;
  down: string;
  up: string;
  alpha?: string;
}

export interface LoraKeys {
  format: 'kohya' | 'peft';
  modules: LoraModule[];
  /** Keys of no known layout, or pairs missing their other half. */
  unknown: string[];
}

const KOHYA = /^lora_(unet|te|te1|te2)_(.+)\.(lora_down\.weight|lora_up\.weight|alpha)$/;
const PEFT =
  /^(?:(unet|text_encoder|text_encoder_2)\.)?(?:base_model\.model\.)?(.+?)\.(lora_A(?:\.default)?\.weight|lora_B(?:\.default)?\.weight|lora\.down\.weight|lora\.up\.weight|lora_down\.weight|lora_up\.weight|alpha)$/;
const PROCESSOR = /^(.*)\.processor\.(to_q|to_k|to_v|to_out)_lora$/;
/** The attention-processor form's own part names: `<attn>.processor.to_q_lora.down.weight`. */
const PROCESSOR_KEY =
  /^(?:(unet|text_encoder|text_encoder_2)\.)?(.+\.processor\.(?:to_q|to_k|to_v|to_out)_lora)\.(down\.weight|up\.weight)$/;

const KOHYA_COMPONENT: Record<string, LoraComponent> = {
  unet: 'unet',
  te: 'text_encoder',
  te1: 'text_encoder',
  te2: 'text_encoder_2',
};

/** Sorts a LoRA file's keys into down/up/alpha triples per module. */
export function parseLoraKeys(names: readonly string[]): LoraKeys {
  const groups = new Map<string, Partial<LoraModule> & { component: LoraComponent }>();
  const unknown: string[] = [];
  let kohya = 0;
  let peft = 0;
  for (const name of names) {
    let component: LoraComponent;
    let module: string;
    let part: string;
    const k = KOHYA.exec(name);
    const p = k ? null : (PROCESSOR_KEY.exec(name) ?? PEFT.exec(name));
    if (k) {
      component = KOHYA_COMPONENT[k[1]];
      module = k[2];
      part = k[3];
      kohya++;
    } else if (p) {
      component = (p[1] as LoraComponent | undefined) ?? 'unet';
      module = p[2];
      part = p[3];
      const proc = PROCESSOR.exec(module);
      if (proc) module = `${proc[1]}.${proc[2] === 'to_out' ? 'to_out.0' : proc[2]}`;
      peft++;
    } else {
      unknown.push(name);
      continue;
    }
    const stem = name.slice(0, name.length - part.length - 1);
    const id = `${component}:${module}`;
    const g = groups.get(id) ?? { component, module, key: stem };
    if (part === 'alpha') g.alpha = name;
    else if (/lora_A|down/.test(part)) g.down = name;
    else g.up = name;
    groups.set(id, g);
  }
  const modules: LoraModule[] = [];
  for (const g of groups.values()) {
    if (g.down && g.up && g.module && g.key) {
      modules.push({
        component: g.component,
        module: g.module,
        key: g.key,
        down: g.down,
        up: g.up,
        alpha: g.alpha,
      });
    } else {
      unknown.push(
        ...[g.down, g.up, g.alpha].filter((x): x is string => !!x).map((x) => `${x} (no pair)`),
      );
    }
  }
  return { format: kohya >= peft ? 'kohya' : 'peft', modules, unknown };
}

/** A MatMul / Gemm / Conv whose weight is a constant float tensor the merge can rewrite. */
export interface WeightSite {
  node: NodeProto;
  /** The node's weight input (an initializer, or the output of the Cast in front of one). */
  input: string;
  tensor: TensorProto;
  layout: 'in-out' | 'out-in' | 'conv';
  out: number;
  /** Fan-in per output: in features, or in-channels/groups × kh × kw for Conv. */
  fanIn: number;
  kernel: number[];
}

function siteOf(model: OnnxModel, node: NodeProto): WeightSite | undefined {
  if (node.domain !== '' || node.input.length < 2) return undefined;
  const input = node.input[1];
  const tensor = model.weightTensor(input);
  if (!tensor) return undefined;
  const dims = dimsOf(tensor);
  if (node.opType === 'MatMul' && dims.length === 2) {
    return { node, input, tensor, layout: 'in-out', out: dims[1], fanIn: dims[0], kernel: [] };
  }
  if (node.opType === 'Gemm' && dims.length === 2 && intAttr(node, 'transA', 0) === 0) {
    return intAttr(node, 'transB', 0) === 1
      ? { node, input, tensor, layout: 'out-in', out: dims[0], fanIn: dims[1], kernel: [] }
      : { node, input, tensor, layout: 'in-out', out: dims[1], fanIn: dims[0], kernel: [] };
  }
  if (node.opType === 'Conv' && dims.length >= 3) {
    return {
      node,
      input,
      tensor,
      layout: 'conv',
      out: dims[0],
      fanIn: elementCount(dims.slice(1)),
      kernel: dims.slice(2),
    };
  }
  return undefined;
}

/** `/a/a.0/b/MatMul` → ['a.0', 'b']: Sequential children repeat their parent's name. */
function scopeSegments(nodeName: string): string[] {
  const parts = nodeName.split('/').filter((p) => p.length > 0);
  parts.pop();
  const out: string[] = [];
  for (const p of parts) {
    if (out.length > 0 && p.startsWith(`${out[out.length - 1]}.`)) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

function namedPath(input: string): string | undefined {
  if (input.startsWith('onnx::') || input.startsWith('/')) return undefined;
  const m = /^(.+)\.weight(?:_fp16)?$/.exec(input);
  return m ? m[1] : undefined;
}

/**
 * Every site of a component by the module paths it answers to (dotted and kohya's underscored
 * form). Paths claimed by more than one site are dropped as ambiguous.
 */
export function indexSites(model: OnnxModel): Map<string, WeightSite> {
  const claims = new Map<string, Set<WeightSite>>();
  const claim = (path: string, site: WeightSite): void => {
    for (const p of new Set([path, path.replace(/\./g, '_')])) {
      const set = claims.get(p) ?? new Set<WeightSite>();
      set.add(site);
      claims.set(p, set);
    }
  };
  let lastNamed: string | undefined;
  for (const node of model.graph.node) {
    const site = siteOf(model, node);
    if (!site) continue;
    const named = namedPath(site.input);
    if (named) {
      claim(named, site);
      lastNamed = named;
      continue;
    }
    const raw = scopeSegments(node.name);
    if (raw.length === 0) continue;
    claim(raw.join('.'), site);
    const stripped = raw.map((s) => s.replace(/_\d+$/, ''));
    claim(stripped.join('.'), site);
    // Recover a scope the exporter lost (modules called in a loop): the preceding named weight
    // `down.1.attns.0.proj_in` gives the prefix `down.1.` for `attns.0.blocks.0.attn1.to_q`.
    if (lastNamed) {
      const at = `.${lastNamed}`.indexOf(`.${stripped[0]}.`);
      if (at > 0) claim(`${lastNamed.slice(0, at - 1)}.${stripped.join('.')}`, site);
    }
  }
  const index = new Map<string, WeightSite>();
  for (const [path, sites] of claims) if (sites.size === 1) index.set(path, [...sites][0]);
  return index;
}

export interface MappedKey {
  key: string;
  node: string;
  weight: string;
  shape: number[];
  rank: number;
  alpha: number;
  /** True when neither the file nor its LoraConfig gives an alpha for this key: alpha = rank. */
  alphaDefault?: boolean;
  /** Where the alpha came from when the file has no `.alpha` key for it but a LoraConfig does. */
  alphaSource?: PeftConfigSource;
}

export interface LoraPlanEntry {
  spec: LoraSpec;
  file: string;
  sha256: string;
  format: LoraKeys['format'];
  modules: LoraModule[];
  /** The PEFT LoraConfig that gives alphas the file's keys do not carry. */
  peft?: PeftConfigs;
}

/** Reads and hashes each LoRA file and sorts its keys; unknown keys refuse the merge. */
export function readLoras(specs: readonly LoraSpec[]): LoraPlanEntry[] {
  return specs.map((spec) => {
    if (
      !Number.isFinite(spec.scale) ||
      spec.scale < LORA_SCALE_RANGE.min ||
      spec.scale > LORA_SCALE_RANGE.max
    ) {
      throw new StudioError(
        `LoRA scale ${spec.scale} for ${spec.path} is out of range: use ${LORA_SCALE_RANGE.min}..${LORA_SCALE_RANGE.max} (1 = as trained)`,
        'bad-input',
      );
    }
    const file = resolve(spec.path);
    const st = SafetensorsFile.open(file);
    try {
      const keys = parseLoraKeys(st.names());
      if (keys.unknown.length > 0) {
        throw new StudioError(
          `${basename(file)} has ${keys.unknown.length} key(s) of no LoRA layout this studio reads (kohya lora_down/lora_up/alpha, diffusers/PEFT lora_A/lora_B): ${keys.unknown.slice(0, 20).join(', ')}${keys.unknown.length > 20 ? ', …' : ''}; nothing was merged`,
          'bad-input',
        );
      }
      if (keys.modules.length === 0)
        throw new StudioError(`${basename(file)} holds no LoRA weights`, 'bad-input');
      const peft = readPeftConfigs(file, st.metadata);
      return {
        spec,
        file,
        sha256: sha256File(file),
        format: keys.format,
        modules: keys.modules,
        ...(peft ? { peft } : {}),
      };
    } finally {
      st.close();
    }
  });
}

export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4 * 1024 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The LoRA components a component folder answers to. */
export function loraComponentOf(folder: string): LoraComponent | undefined {
  return folder === 'unet' || folder === 'text_encoder' || folder === 'text_encoder_2'
    ? folder
    : undefined;
}

interface Pending {
  file: string;
  down: string;
  up: string;
  factor: number;
  rank: number;
}

export interface MergeReport {
  mapped: (MappedKey & { file: string })[];
  weightsChanged: number;
  /** Filled in while the model is written (the merged weights are computed then). */
  stats: MergeStats;
}

export interface MergeStats {
  /** The up·down kernel used (`onnxruntime`, or `js` when ONNX Runtime's could not start). */
  kernel?: string;
  fallbackReason?: string;
  /** Weights computed so far, of `weightsChanged`. */
  done: number;
  /** Time in the up·down products alone. */
  productMs: number;
}

export interface MergeOptions {
  /**
   * The up·down kernel; by default ONNX Runtime's GEMM (else the JavaScript loop), opened on the
   * first merged weight and closed after the last. A kernel passed in stays open.
   */
  kernel?: UpDownKernel;
  /**
   * `source` (default): merged weights in the source's dtype. `float32`: always float32 (an fp16
   * weight behind a Cast loses the Cast), for comparing with a float32 reference merge.
   */
  dtype?: 'source' | 'float32';
  /** Called after each merged weight is computed (during `model.write`). */
  onWeight?: (done: number, total: number) => void;
}

/**
 * Merges every LoRA module of `component` into `model`. Validation happens for all modules before
 * the model is touched: an unmapped key or a shape that does not fit throws with its name. The
 * merged weights are lazy initializers (computed tensor by tensor at write time), so peak memory
 * stays near one weight plus its LoRA factors.
 */
export function mergeLoras(
  model: OnnxModel,
  component: LoraComponent,
  loras: readonly LoraPlanEntry[],
  options: MergeOptions = {},
): MergeReport {
  const index = indexSites(model);
  const perSite = new Map<WeightSite, Pending[]>();
  const mapped: MergeReport['mapped'] = [];
  const unmapped: string[] = [];
  const files = new Map<string, SafetensorsFile>();
  const fileOf = (path: string): SafetensorsFile => {
    let f = files.get(path);
    if (!f) {
      f = SafetensorsFile.open(path);
      files.set(path, f);
    }
    return f;
  };
  try {
    for (const lora of loras) {
      for (const m of lora.modules.filter((x) => x.component === component)) {
        const site = index.get(m.module);
        if (!site) {
          unmapped.push(m.key);
          continue;
        }
        const st = fileOf(lora.file);
        const down = st.entry(m.down);
        const up = st.entry(m.up);
        if (down.shape.length < 2 || up.shape.length < 2 || down.shape[0] < 1) {
          throw new StudioError(
            `LoRA key ${m.key} (${basename(lora.file)}) has no rank: down [${down.shape.join(', ')}] and up [${up.shape.join(', ')}] must be [rank, in…] and [out, rank…] with rank ≥ 1; nothing was merged`,
            'bad-input',
          );
        }
        const rank = down.shape[0];
        const downFanIn = elementCount(down.shape.slice(1));
        const upOut = up.shape[0];
        const upRank = elementCount(up.shape.slice(1));
        // A Linear-shaped LoRA on a 1x1 Conv (some trainers save proj_in that way) has the same
        // fan-in as the Conv; a 3x3 Conv needs a Conv-shaped down matrix.
        const fits = upRank === rank && upOut === site.out && downFanIn === site.fanIn;
        if (!fits) {
          throw new StudioError(
            `LoRA key ${m.key} (${basename(lora.file)}) does not fit ${site.node.name}: LoRA up [${up.shape.join(', ')}] · down [${down.shape.join(', ')}] vs weight [${dimsOf(site.tensor).join(', ')}] (${site.layout}); is this LoRA for another model family (e.g. SDXL on SD 1.5)? nothing was merged`,
            'bad-input',
          );
        }
        const configured = m.alpha ? undefined : peftAlpha(lora.peft, component, m.module, rank);
        let alpha = configured ?? rank;
        if (m.alpha) {
          const a = st.floats(m.alpha);
          if (a.length !== 1 || !Number.isFinite(a[0]))
            throw new StudioError(
              `LoRA key ${m.alpha} (${basename(lora.file)}) is not a single finite number (alpha: leave it out to mean alpha = rank); nothing was merged`,
              'bad-input',
            );
          alpha = a[0];
        }
        const list = perSite.get(site) ?? [];
        list.push({
          file: lora.file,
          down: m.down,
          up: m.up,
          factor: (lora.spec.scale * alpha) / rank,
          rank,
        });
        perSite.set(site, list);
        mapped.push({
          key: m.key,
          file: lora.file,
          node: site.node.name,
          weight: site.input,
          shape: dimsOf(site.tensor),
          rank,
          alpha,
          ...(m.alpha
            ? {}
            : configured !== undefined && lora.peft
              ? { alphaSource: lora.peft.source }
              : { alphaDefault: true }),
        });
      }
    }
  } catch (e) {
    for (const f of files.values()) f.close();
    throw e;
  }
  if (unmapped.length > 0) {
    for (const f of files.values()) f.close();
    throw new StudioError(
      `${unmapped.length} LoRA key(s) map to no weight in ${component}: ${unmapped.slice(0, 20).join(', ')}${unmapped.length > 20 ? ', …' : ''}; is the LoRA for this model? nothing was merged`,
      'bad-input',
    );
  }
  // Files stay open until the last lazy weight that needs them is written.
  const remaining = new Map<string, number>();
  for (const list of perSite.values())
    for (const p of new Set(list.map((x) => x.file))) remaining.set(p, (remaining.get(p) ?? 0) + 1);
  for (const [path, f] of files) if (!remaining.has(path)) f.close();
  const stats: MergeStats = { done: 0, productMs: 0 };
  const total = perSite.size;
  let kernel = options.kernel;
  const merge: SiteMerge = {
    files,
    dtype: options.dtype ?? 'source',
    product: (w, site, p) => {
      if (!kernel) kernel = openUpDownKernel();
      const st = files.get(p.file) as SafetensorsFile;
      const down = st.floats(p.down);
      const up = st.floats(p.up);
      const t0 = performance.now();
      const r = kernel.addUpDown(w, site.layout, up, down, site.out, p.rank, site.fanIn, p.factor);
      stats.productMs += performance.now() - t0;
      stats.kernel = kernel.name;
      stats.fallbackReason = kernel.fallbackReason;
      return r;
    },
    finished: (list) => {
      for (const p of new Set(list.map((x) => x.file))) {
        const left = (remaining.get(p) ?? 1) - 1;
        remaining.set(p, left);
        if (left === 0) files.get(p)?.close();
      }
      stats.done++;
      if (stats.done === total && kernel && !options.kernel) kernel.close();
      options.onWeight?.(stats.done, total);
    },
  };
  let rewired = false;
  for (const [site, list] of perSite) rewired = applyToSite(model, site, list, merge) || rewired;
  // Casts (and their float16 sources) that fed merged weights are left unused: drop them.
  if (rewired) model.prune();
  return { mapped, weightsChanged: perSite.size, stats };
}

interface SiteMerge {
  files: Map<string, SafetensorsFile>;
  dtype: 'source' | 'float32';
  /** w + factor · up · down for one LoRA (the result may be a new array). */
  product: (w: Float32Array, site: WeightSite, p: Pending) => Float32Array;
  finished: (list: Pending[]) => void;
}

/**
 * Registers the merged weight of one site as a lazy initializer. Returns true when the graph was
 * rewired (and needs pruning).
 */
function applyToSite(
  model: OnnxModel,
  site: WeightSite,
  list: Pending[],
  merge: SiteMerge,
): boolean {
  const t = site.tensor;
  const dims = dimsOf(t);
  const n = elementCount(dims);
  const baseLoad = model.bytesLoader(t);
  const baseType = t.dataType;
  const compute = (): Float32Array => {
    let w = floatsOf(baseLoad(), baseType, n);
    for (const p of list) w = merge.product(w, site, p);
    merge.finished(list);
    return w;
  };
  const outType = merge.dtype === 'float32' ? DT.FLOAT : baseType;
  const encode = (): Uint8Array => {
    const w = compute();
    if (outType !== DT.FLOAT16) return bytesOf(w);
    const h = new Uint16Array(w.length);
    for (let i = 0; i < w.length; i++) h[i] = floatToHalf(w[i]);
    return bytesOf(h);
  };
  const cast = model.initializer(site.input) === t ? undefined : model.producer(site.input);
  // Rewritten in place, under its own name, when nothing but this site reads the weight (through
  // its Cast, if any): the graph keeps its shape and the variant its size.
  const exclusive =
    model.consumers(t.name).length === 1 &&
    (!cast || model.consumers(site.input).length === 1) &&
    !model.graph.input.some((i) => i.name === t.name);
  if (outType === baseType && exclusive) {
    model.setLazyInitializer(t.name, baseType, dims, encode);
    return false;
  }
  const name = model.uniqueName(`${t.name.replace(/[^A-Za-z0-9_.]/g, '_')}_lora`);
  model.setLazyInitializer(name, outType, dims, encode);
  const at = site.node.input.indexOf(site.input);
  if (cast && outType !== DT.FLOAT) {
    // A weight shared with other nodes: this site gets its own copy behind its own Cast.
    const castOut = model.uniqueName(`${name}_cast`);
    const node = makeNode('Cast', [name], [castOut], castOut, [attr('to', DT.FLOAT)]);
    model.graph.node.splice(model.graph.node.indexOf(site.node), 0, node);
    site.node.input[at] = castOut;
  } else {
    site.node.input[at] = name;
  }
  model.reindex();
  return true;
}

/** float16 bits → float32, all 65536 of them: a table lookup per weight instead of arithmetic. */
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** Bytes at offset 0 of their own buffer (a Node Buffer's `slice` would share its pool). */
function alignedCopy(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(0, length));
  return out;
}

/** A copy as float32 (the copy is the merge's to change or hand to the kernel's worker). */
function floatsOf(bytes: Uint8Array, dataType: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (dataType === DT.FLOAT) {
    out.set(
      bytes.byteOffset % 4 === 0
        ? new Float32Array(bytes.buffer, bytes.byteOffset, n)
        : new Float32Array(alignedCopy(bytes, n * 4).buffer),
    );
    return out;
  }
  if (dataType === DT.FLOAT16) {
    const table = halfToFloatTable();
    const h =
      bytes.byteOffset % 2 === 0
        ? new Uint16Array(bytes.buffer, bytes.byteOffset, n)
        : new Uint16Array(alignedCopy(bytes, n * 2).buffer);
    for (let i = 0; i < n; i++) out[i] = table[h[i]];
    return out;
  }
  throw new StudioError(`weight of data type ${dataType} cannot take a LoRA`, 'bad-input');
}
