import { createRequire } from 'node:module';
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import { StudioError } from '../../shared/errors';

/**
 * The LoRA merge's arithmetic: W += factor · up · down for one weight, in the weight's own storage
 * layout. For SD 1.5 with a rank-64 LoRA this is about 55 G multiply-adds, which is what made the
 * merge take minutes in plain JavaScript. Two kernels:
 *
 * - `onnxruntime`: one ONNX `Gemm` (Y = A·B + C) run by ONNX Runtime's MLAS on a worker thread.
 *   The merge is synchronous (merged weights are produced by lazy initializers while the model is
 *   written, and later transforms read them synchronously) while `session.run` is asynchronous, so
 *   the calling thread blocks on `Atomics.wait` until the worker has written the result into a
 *   SharedArrayBuffer. The worker is started from source text (`eval`) so it needs no bundle entry
 *   of its own; it loads the same onnxruntime-node the optimizer already depends on.
 * - `js`: a blocked JavaScript loop, used when the worker cannot start (and for comparison). It
 *   accumulates in float64 registers over 4 output rows × 2 columns per pass with the down matrix
 *   transposed in column blocks that stay in cache, and writes straight into the weight through
 *   strides, so [in, out]-stored MatMul weights need no transposed copy.
 *
 * Layouts: `out-in` is a Linear / Gemm(transB=1) weight [out, fanIn] and a Conv weight [out, in,
 * kh, kw] seen as [out, fanIn]; `in-out` is a MatMul / Gemm(transB=0) weight [fanIn, out], which
 * receives (up·down)ᵀ = downᵀ·upᵀ.
 */

export type WeightLayout = 'in-out' | 'out-in' | 'conv';

export interface UpDownKernel {
  /** `onnxruntime` or `js` here; a caller may bring its own (the bench's earlier loop). */
  readonly name: string;
  /**
   * Returns w + factor · up[out, rank] · down[rank, fanIn], with the weight stored as
   * [out, fanIn] or, for `in-out`, [fanIn, out]. The result may be `w` itself (changed in place)
   * or a new array, in which case `w` may have been handed over (detached): use only the result.
   */
  addUpDown(
    w: Float32Array,
    layout: WeightLayout,
    up: Float32Array,
    down: Float32Array,
    out: number,
    rank: number,
    fanIn: number,
    factor: number,
  ): Float32Array;
  /** Why ONNX Runtime's GEMM is not (or no longer) used, when it is not. */
  readonly fallbackReason?: string;
  close(): void;
}

export interface KernelOptions {
  /** ONNX Runtime intra-op threads (0: ONNX Runtime's default, one per physical core). */
  threads?: number;
  /** Give up on one product after this long (the merge then fails rather than hang). */
  timeoutMs?: number;
}

/** The fastest kernel that starts here: ONNX Runtime's GEMM, else the JavaScript loop. */
export function openUpDownKernel(
  prefer: 'onnxruntime' | 'js' = 'onnxruntime',
  options: KernelOptions = {},
): UpDownKernel {
  if (prefer === 'js') return new JsKernel();
  try {
    return new OrtKernel(options);
  } catch (e) {
    return new JsKernel((e as Error).message);
  }
}

/** Column block of the down matrix kept transposed (256 × rank 64 × 8 bytes = 128 KiB). */
const COLS = 256;

export class JsKernel implements UpDownKernel {
  readonly name = 'js';
  constructor(readonly fallbackReason?: string) {}

  addUpDown(
    w: Float32Array,
    layout: WeightLayout,
    up: Float32Array,
    down: Float32Array,
    out: number,
    rank: number,
    fanIn: number,
    factor: number,
  ): Float32Array {
    checkSizes(w, up, down, out, rank, fanIn);
    // Element (o, i) of the product lives at w[o * so + i * si].
    const so = layout === 'in-out' ? 1 : fanIn;
    const si = layout === 'in-out' ? out : 1;
    const dT = new Float64Array(COLS * rank);
    for (let i0 = 0; i0 < fanIn; i0 += COLS) {
      const cols = Math.min(COLS, fanIn - i0);
      for (let r = 0; r < rank; r++) {
        const b = r * fanIn + i0;
        for (let i = 0; i < cols; i++) dT[i * rank + r] = down[b + i];
      }
      let o = 0;
      for (; o + 4 <= out; o += 4) {
        const u0 = o * rank;
        const u1 = u0 + rank;
        const u2 = u1 + rank;
        const u3 = u2 + rank;
        let i = 0;
        for (; i + 2 <= cols; i += 2) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          let b0 = 0;
          let b1 = 0;
          let b2 = 0;
          let b3 = 0;
          const d0 = i * rank;
          const d1 = d0 + rank;
          for (let r = 0; r < rank; r++) {
            const x = dT[d0 + r];
            const y = dT[d1 + r];
            const p = up[u0 + r];
            const q = up[u1 + r];
            const s = up[u2 + r];
            const t = up[u3 + r];
            a0 += p * x;
            b0 += p * y;
            a1 += q * x;
            b1 += q * y;
            a2 += s * x;
            b2 += s * y;
            a3 += t * x;
            b3 += t * y;
          }
          const at = o * so + (i0 + i) * si;
          w[at] += factor * a0;
          w[at + so] += factor * a1;
          w[at + 2 * so] += factor * a2;
          w[at + 3 * so] += factor * a3;
          w[at + si] += factor * b0;
          w[at + si + so] += factor * b1;
          w[at + si + 2 * so] += factor * b2;
          w[at + si + 3 * so] += factor * b3;
        }
        for (; i < cols; i++) {
          for (let k = 0; k < 4; k++)
            w[(o + k) * so + (i0 + i) * si] += factor * dot(up, (o + k) * rank, dT, i * rank, rank);
        }
      }
      for (; o < out; o++) {
        for (let i = 0; i < cols; i++)
          w[o * so + (i0 + i) * si] += factor * dot(up, o * rank, dT, i * rank, rank);
      }
    }
    return w;
  }

  close(): void {}
}

function dot(a: Float32Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s = 0;
  for (let r = 0; r < n; r++) s += a[ao + r] * b[bo + r];
  return s;
}

function checkSizes(
  w: Float32Array,
  up: Float32Array,
  down: Float32Array,
  out: number,
  rank: number,
  fanIn: number,
): void {
  if (w.length !== out * fanIn || up.length !== out * rank || down.length !== rank * fanIn) {
    throw new StudioError(
      `LoRA product sizes do not agree: weight ${w.length}, up ${up.length} (${out}×${rank}), down ${down.length} (${rank}×${fanIn})`,
      'failed',
    );
  }
}

/*
 * The worker thread, as source text. CommonJS, because an `eval` worker is a script; it loads
 * onnxruntime-node from the path the main thread resolved, builds one session per Gemm form and
 * answers each job by writing Y over C (the weight's shared buffer), then waking the caller.
 * ctrl[0]: 0 = busy, 1 = done, 2 = failed (the reason is posted on `port`).
 */
const WORKER_SOURCE = `
'use strict';
const { workerData, parentPort } = require('node:worker_threads');
const ctrl = new Int32Array(workerData.ctrl);
const port = workerData.port;
const finish = (message, transfer) => {
  try {
    port.postMessage(message, transfer);
  } catch {
    // A buffer ONNX Runtime owns may not be transferable: send a copy instead.
    port.postMessage(message);
  }
  Atomics.store(ctrl, 0, 1);
  Atomics.notify(ctrl, 0);
};
const reason = (e) => String(e && e.message ? e.message : e);
(async () => {
  const ort = require(workerData.ort);
  const options = {
    intraOpNumThreads: workerData.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'disabled',
    enableCpuMemArena: false,
    logSeverityLevel: 3,
    extra: { session: { 'intra_op.allow_spinning': '0' } },
  };
  const plain = await ort.InferenceSession.create(workerData.plain, options);
  const transposed = await ort.InferenceSession.create(workerData.transposed, options);
  const tensor = (f, at, dims) =>
    new ort.Tensor('float32', f.subarray(at, at + dims[0] * dims[1]), dims);
  parentPort.on('message', async (job) => {
    try {
      const f = job.factors;
      const r = await (job.transposed ? transposed : plain).run({
        A: tensor(f, job.a, job.aDims),
        B: tensor(f, job.b, job.bDims),
        C: tensor(job.weight, 0, job.cDims),
      });
      const y = r.Y.data;
      finish({ ok: true, y }, [y.buffer]);
    } catch (e) {
      finish({ ok: false, reason: reason(e) });
    }
  });
  finish({ ok: true });
})().catch((e) => finish({ ok: false, reason: reason(e) }));
`;

interface GemmJob {
  /** C: the weight (its buffer is moved to the worker, not copied). */
  weight: Float32Array;
  /** A and B: the scaled up and the down matrix, one after the other. */
  factors: Float32Array;
  transposed: boolean;
  a: number;
  aDims: [number, number];
  b: number;
  bDims: [number, number];
  cDims: [number, number];
}

/** Y = A·B + C (plain) or Aᵀ·Bᵀ + C (transposed), every dimension symbolic. */
function gemmModel(transposed: boolean): Uint8Array {
  const input = (name: string, dims: string[]) =>
    create(ValueInfoProtoSchema, {
      name,
      type: create(TypeProtoSchema, {
        value: {
          case: 'tensorType',
          value: create(TypeProto_TensorSchema, {
            elemType: 1,
            shape: create(TensorShapeProtoSchema, {
              dim: dims.map((d) =>
                create(TensorShapeProto_DimensionSchema, { value: { case: 'dimParam', value: d } }),
              ),
            }),
          }),
        },
      }),
    });
  const flag = (name: string) =>
    create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: 1n });
  const graph = create(GraphProtoSchema, {
    name: 'lora_up_down',
    node: [
      create(NodeProtoSchema, {
        opType: 'Gemm',
        input: ['A', 'B', 'C'],
        output: ['Y'],
        name: 'gemm',
        attribute: transposed ? [flag('transA'), flag('transB')] : [],
      }),
    ],
    input: transposed
      ? [input('A', ['k', 'm']), input('B', ['n', 'k']), input('C', ['m', 'n'])]
      : [input('A', ['m', 'k']), input('B', ['k', 'n']), input('C', ['m', 'n'])],
    output: [input('Y', ['m', 'n'])],
  });
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'latent-studio',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph,
  });
  return toBinary(ModelProtoSchema, model);
}

const WORKER_START_MS = 60_000;

type WorkerAnswer = { ok: true; y?: Float32Array } | { ok: false; reason: string };

export class OrtKernel implements UpDownKernel {
  readonly name = 'onnxruntime';
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(4));
  private readonly port: MessagePort;
  private readonly worker: Worker;
  private fallback: JsKernel | undefined;
  private readonly timeoutMs: number;

  constructor(options: KernelOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10 * 60_000;
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        ort: ortPath,
        ctrl: this.ctrl.buffer,
        port: port2,
        threads: options.threads ?? 0,
        plain: gemmModel(false),
        transposed: gemmModel(true),
      },
      transferList: [port2],
    });
    // A worker that is never closed must not keep the process alive.
    this.worker.unref();
    const started = this.wait(WORKER_START_MS);
    if (!started.ok) {
      this.close();
      throw new Error(`ONNX Runtime GEMM worker did not start: ${started.reason}`);
    }
  }

  /**
   * Blocks this thread until the worker answers. Messages from the worker cannot arrive through
   * the event loop while it is blocked, so the answer is taken off the port synchronously.
   */
  private wait(timeoutMs: number): WorkerAnswer {
    if (Atomics.wait(this.ctrl, 0, 0, timeoutMs) === 'timed-out')
      return { ok: false, reason: `no answer within ${Math.round(timeoutMs / 1000)} s` };
    Atomics.store(this.ctrl, 0, 0);
    const msg = receiveMessageOnPort(this.port);
    return msg ? (msg.message as WorkerAnswer) : { ok: false, reason: 'no answer on the port' };
  }

  get fallbackReason(): string | undefined {
    return this.fallback?.fallbackReason;
  }

  addUpDown(
    w: Float32Array,
    layout: WeightLayout,
    up: Float32Array,
    down: Float32Array,
    out: number,
    rank: number,
    fanIn: number,
    factor: number,
  ): Float32Array {
    checkSizes(w, up, down, out, rank, fanIn);
    const n = w.length;
    if (this.fallback)
      return this.fallback.addUpDown(w, layout, up, down, out, rank, fanIn, factor);
    // up is scaled here (out × rank values) so the Gemm needs no per-call alpha attribute.
    const factors = new Float32Array(up.length + down.length);
    for (let i = 0; i < up.length; i++) factors[i] = up[i] * factor;
    factors.set(down, up.length);
    // The weight's buffer is moved to the worker when it is the whole buffer; else it is copied.
    const weight = w.byteOffset === 0 && w.byteLength === w.buffer.byteLength ? w : w.slice();
    const transposed = layout === 'in-out';
    const job: GemmJob = transposed
      ? // Y[fanIn, out] = downᵀ · upᵀ + W: A = down [rank, fanIn], B = up [out, rank].
        {
          weight,
          factors,
          transposed,
          a: up.length,
          aDims: [rank, fanIn],
          b: 0,
          bDims: [out, rank],
          cDims: [fanIn, out],
        }
      : {
          weight,
          factors,
          transposed,
          a: 0,
          aDims: [out, rank],
          b: up.length,
          bDims: [rank, fanIn],
          cDims: [out, fanIn],
        };
    const keep = weight === w ? undefined : w;
    this.worker.postMessage(job, [weight.buffer as ArrayBuffer, factors.buffer]);
    const answer = this.wait(this.timeoutMs);
    // The array arrives from the port's context: check it by shape, not by `instanceof`.
    const y = answer.ok ? answer.y : undefined;
    if (y && ArrayBuffer.isView(y) && y.byteLength === n * 4)
      return new Float32Array(y.buffer, y.byteOffset, n);
    const reason = answer.ok ? 'no result' : answer.reason;
    this.close();
    // The weight went to the worker with the job: without an answer it is lost, so the merge
    // fails here rather than write something unmerged.
    if (!keep) {
      throw new StudioError(
        `the LoRA product in ONNX Runtime failed (${reason}); nothing was kept`,
        'failed',
      );
    }
    // The weight was copied for the job, so the JavaScript loop can finish this one and the rest.
    this.fallback = new JsKernel(`ONNX Runtime GEMM failed: ${reason}`);
    return this.fallback.addUpDown(keep, layout, up, down, out, rank, fanIn, factor);
  }

  close(): void {
    void this.worker.terminate();
    this.port.close();
  }
}
