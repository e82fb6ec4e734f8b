import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProfileFile, readProfileTrace, summarizeTrace } from './profile-trace';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latent-profile-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const node = (name: string, op: string, dur: number, provider = 'CPUExecutionProvider') => ({
  cat: 'Node',
  pid: 1,
  tid: 1,
  dur,
  ts: 0,
  ph: 'X',
  name: `${name}_kernel_time`,
  args: { op_name: op, provider, input_type_shape: [{ float: [1, 4, 8, 8] }] },
});

/** Two runs of a three-node graph, in the shape ORT writes, plus events we must ignore. */
const synthetic = [
  { cat: 'Session', pid: 1, tid: 1, dur: 900, ts: 0, ph: 'X', name: 'model_loading_uri', args: {} },
  { cat: 'Session', pid: 1, tid: 1, dur: 5000, ts: 0, ph: 'X', name: 'model_run', args: {} },
  node('/conv_in/Conv', 'Conv', 3000),
  node('/attn/MatMul', 'MatMul', 1000),
  node('/attn/MatMul_1', 'MatMul', 500, 'CUDAExecutionProvider'),
  { cat: 'Node', pid: 1, tid: 1, dur: 7777, ts: 0, ph: 'X', name: '/conv_in/Conv_fence_before' },
  { cat: 'Session', pid: 1, tid: 1, dur: 5000, ts: 0, ph: 'X', name: 'model_run', args: {} },
  node('/conv_in/Conv', 'Conv', 3000),
  node('/attn/MatMul', 'MatMul', 1000),
  node('/attn/MatMul_1', 'MatMul', 500, 'CUDAExecutionProvider'),
  { ph: 'M', name: 'process_name', args: { name: 'viewer metadata' } },
];

describe('summarizeTrace', () => {
  it('sums kernel time by op type, node and provider', () => {
    const s = summarizeTrace(synthetic, 'x.json');
    expect(s.runs).toBe(2);
    expect(s.runMs).toBe(10);
    expect(s.kernelMs).toBe(9);
    expect(s.nodeCount).toBe(3);
    expect(s.byOpType).toEqual([
      {
        opType: 'Conv',
        count: 2,
        totalMs: 6,
        percent: 66.667,
        providers: ['CPUExecutionProvider'],
      },
      {
        opType: 'MatMul',
        count: 4,
        totalMs: 3,
        percent: 33.333,
        providers: ['CPUExecutionProvider', 'CUDAExecutionProvider'],
      },
    ]);
    expect(s.byNode[0]).toEqual({
      node: '/conv_in/Conv',
      opType: 'Conv',
      provider: 'CPUExecutionProvider',
      count: 2,
      totalMs: 6,
      percent: 66.667,
    });
    expect(s.byNode.map((n) => n.node)).toEqual([
      '/conv_in/Conv',
      '/attn/MatMul',
      '/attn/MatMul_1',
    ]);
    expect(s.byProvider).toEqual([
      { provider: 'CPUExecutionProvider', count: 4, totalMs: 8, percent: 88.889 },
      { provider: 'CUDAExecutionProvider', count: 2, totalMs: 1, percent: 11.111 },
    ]);
  });

  it('keeps the top N while percentages stay relative to all kernel time', () => {
    const s = summarizeTrace(synthetic, null, { top: 1 });
    expect(s.byNode).toHaveLength(1);
    expect(s.byOpType).toHaveLength(1);
    expect(s.byOpType[0].percent).toBe(66.667);
  });

  it('accepts the object form and an empty trace', () => {
    expect(summarizeTrace({ traceEvents: synthetic }).kernelMs).toBe(9);
    const empty = summarizeTrace([]);
    expect(empty).toMatchObject({ runs: 0, kernelMs: 0, nodeCount: 0, byOpType: [], byNode: [] });
  });

  it('names the file when the value is not a trace', () => {
    expect(() => summarizeTrace({ hello: 'world' }, '/tmp/nope.json')).toThrow(
      /\/tmp\/nope\.json is not an ONNX Runtime profiling trace/,
    );
    expect(() => summarizeTrace([1, 2, 3], 'numbers.json')).toThrow(/numbers\.json/);
  });
});

describe('readProfileTrace', () => {
  it('reads a file and names it in errors', async () => {
    const good = join(dir, 'good.json');
    await writeFile(good, JSON.stringify(synthetic));
    expect((await readProfileTrace(good)).file).toBe(good);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, 'not json at all');
    await expect(readProfileTrace(bad)).rejects.toThrow(/bad\.json is not an ONNX Runtime/);
    await expect(readProfileTrace(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json/);
  });

  it('parses a real trace from onnxruntime-node on the SD1.5 fixture UNet', async () => {
    const model = resolve('test/fixtures/models/sd15-optimum-float/unet/model.onnx');
    const prefix = join(dir, 'unet');
    const session = await ort.InferenceSession.create(model, {
      enableProfiling: true,
      profileFilePrefix: prefix,
      intraOpNumThreads: 1,
    });
    const f32 = (dims: number[]) =>
      new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.1), dims);
    const feeds = {
      sample: f32([1, 4, 8, 8]),
      timestep: new ort.Tensor('float32', new Float32Array([10]), []),
      encoder_hidden_states: f32([1, 77, 16]),
    };
    await session.run(feeds);
    await session.run(feeds);
    session.endProfiling();
    await session.release();

    const file = await findProfileFile(prefix);
    expect(file).not.toBeNull();
    const s = await readProfileTrace(file as string, { top: 5 });
    expect(s.runs).toBe(2);
    expect(s.nodeCount).toBeGreaterThan(10);
    expect(s.kernelMs).toBeGreaterThan(0);
    expect(s.runMs).toBeGreaterThanOrEqual(s.kernelMs * 0.5);
    expect(s.byOpType.length).toBeLessThanOrEqual(5);
    expect(s.byOpType.map((o) => o.opType)).not.toContain('unknown');
    expect(s.byProvider.map((p) => p.provider)).toEqual(['CPUExecutionProvider']);
    // Every node ran once per run.
    for (const n of s.byNode) expect(n.count).toBe(2);
    const sorted = [...s.byNode].sort((a, b) => b.totalMs - a.totalMs);
    expect(s.byNode).toEqual(sorted);
  });

  it('findProfileFile ignores other files and returns null when none match', async () => {
    expect(await findProfileFile(join(dir, 'vae'))).toBeNull();
    await writeFile(join(dir, 'vae_notes.json'), '[]');
    expect(await findProfileFile(join(dir, 'vae'))).toBeNull();
    await writeFile(join(dir, 'vae_2026-01-01_00-00-00_000.json'), '[]');
    expect(await findProfileFile(join(dir, 'vae'))).toBe(
      join(dir, 'vae_2026-01-01_00-00-00_000.json'),
    );
    expect(await findProfileFile(join(dir, 'no-such-dir', 'x'))).toBeNull();
  });
});
