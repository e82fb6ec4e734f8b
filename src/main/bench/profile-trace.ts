import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { describeZodError, StudioError } from '../../shared/errors';

/**
 * Reads the JSON trace ONNX Runtime writes when a session has `enableProfiling` on, and sums
 * kernel time per operator type, per node and per execution provider. The file itself is
 * Chrome's trace-event format, kept as is for chrome://tracing or Perfetto.
 *
 * What the file holds (ORT `core/common/profiler.cc` Profiler::EndProfiling and the executor's
 * per-kernel event, checked against a trace written by onnxruntime-node 1.30 on our fixtures):
 * a JSON array of complete events `{cat, pid, tid, dur, ts, ph: "X", name, args}`, `ts`/`dur` in
 * µs from the start of profiling. `cat: "Session"` events are `model_loading_uri`,
 * `session_initialization`, `SequentialExecutor::Execute` and one `model_run` per run.
 * `cat: "Node"` events are named `<node name>_kernel_time` (`<OpType>_<index>` when the node has
 * no name) with `args.op_name` (the kernel's op type, after fusion: FusedMatMul, QuickGelu...),
 * `args.provider` (e.g. CPUExecutionProvider) and sizes/shapes. Older versions also wrote
 * `_fence_before` / `_fence_after` Node events, which are synchronisation, not compute, and are
 * left out. Arg values are strings, except shapes and stats that ORT writes as raw JSON.
 */

/** One event, loosely: anything we do not read may be there or not. */
const TraceEventSchema = z
  .object({
    name: z.string(),
    cat: z.string().optional(),
    ph: z.string().optional(),
    ts: z.number().optional(),
    dur: z.number().optional(),
    args: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

/** ORT writes a bare array; a trace re-saved by a viewer may be the object form. */
const TraceFileSchema = z.union([
  z.array(TraceEventSchema),
  z.object({ traceEvents: z.array(TraceEventSchema) }).loose(),
]);

export interface OpTypeStat {
  opType: string;
  /** Kernel invocations (nodes x runs). */
  count: number;
  totalMs: number;
  /** Share of all kernel time in the trace, 0-100. */
  percent: number;
  /** Execution providers that ran this op type. */
  providers: string[];
}

export interface NodeStat {
  node: string;
  opType: string;
  provider: string;
  /** Times this node ran (one per session run). */
  count: number;
  totalMs: number;
  percent: number;
}

export interface ProviderStat {
  provider: string;
  count: number;
  totalMs: number;
  percent: number;
}

export interface ProfileSummary {
  /** The trace file, when read from disk. */
  file: string | null;
  /** `model_run` events: how many session runs the trace covers. */
  runs: number;
  /** Sum of `model_run` durations, ms: kernel time plus the executor's own overhead. */
  runMs: number;
  /** Sum of all kernel times, ms: the base of every percentage. */
  kernelMs: number;
  /** Distinct nodes that ran. */
  nodeCount: number;
  /** Most expensive first, at most `top` entries. */
  byOpType: OpTypeStat[];
  byNode: NodeStat[];
  byProvider: ProviderStat[];
}

export interface SummaryOptions {
  /** Keep this many op types and nodes (default 20); percentages always use all kernel time. */
  top?: number;
}

const KERNEL_SUFFIX = '_kernel_time';
const round3 = (v: number): number => Math.round(v * 1000) / 1000;

function byTimeThenName<T extends { totalMs: number }>(key: (t: T) => string) {
  return (a: T, b: T): number => b.totalMs - a.totalMs || key(a).localeCompare(key(b));
}

/** Sums a parsed trace (the file's JSON value). Throws a StudioError naming `file` when the value
 * is not a trace. */
export function summarizeTrace(
  trace: unknown,
  file: string | null = null,
  options: SummaryOptions = {},
): ProfileSummary {
  const parsed = TraceFileSchema.safeParse(trace);
  if (!parsed.success) {
    throw new StudioError(
      `${file ?? 'the profile'} is not an ONNX Runtime profiling trace (${describeZodError(parsed.error, 'trace')})`,
      'bad-input',
    );
  }
  const events = Array.isArray(parsed.data) ? parsed.data : parsed.data.traceEvents;
  const top = options.top ?? 20;

  let runs = 0;
  let runUs = 0;
  let kernelUs = 0;
  const ops = new Map<string, { count: number; us: number; providers: Set<string> }>();
  const nodes = new Map<string, { opType: string; provider: string; count: number; us: number }>();
  const providers = new Map<string, { count: number; us: number }>();

  for (const e of events) {
    const dur = e.dur ?? 0;
    if (e.cat === 'Session' && e.name === 'model_run') {
      runs++;
      runUs += dur;
      continue;
    }
    if (e.cat !== 'Node' || !e.name.endsWith(KERNEL_SUFFIX)) continue;
    const node = e.name.slice(0, -KERNEL_SUFFIX.length);
    const opName = e.args?.op_name;
    const opType = typeof opName === 'string' && opName !== '' ? opName : 'unknown';
    const prov = e.args?.provider;
    const provider = typeof prov === 'string' && prov !== '' ? prov : 'unknown';
    kernelUs += dur;

    const op = ops.get(opType) ?? { count: 0, us: 0, providers: new Set<string>() };
    op.count++;
    op.us += dur;
    op.providers.add(provider);
    ops.set(opType, op);

    const n = nodes.get(node) ?? { opType, provider, count: 0, us: 0 };
    n.count++;
    n.us += dur;
    nodes.set(node, n);

    const p = providers.get(provider) ?? { count: 0, us: 0 };
    p.count++;
    p.us += dur;
    providers.set(provider, p);
  }

  const percent = (us: number): number => (kernelUs > 0 ? round3((100 * us) / kernelUs) : 0);
  const ms = (us: number): number => round3(us / 1000);

  return {
    file,
    runs,
    runMs: ms(runUs),
    kernelMs: ms(kernelUs),
    nodeCount: nodes.size,
    byOpType: [...ops]
      .map(([opType, o]) => ({
        opType,
        count: o.count,
        totalMs: ms(o.us),
        percent: percent(o.us),
        providers: [...o.providers].sort(),
      }))
      .sort(byTimeThenName((o) => o.opType))
      .slice(0, top),
    byNode: [...nodes]
      .map(([node, n]) => ({
        node,
        opType: n.opType,
        provider: n.provider,
        count: n.count,
        totalMs: ms(n.us),
        percent: percent(n.us),
      }))
      .sort(byTimeThenName((n) => n.node))
      .slice(0, top),
    byProvider: [...providers]
      .map(([provider, p]) => ({
        provider,
        count: p.count,
        totalMs: ms(p.us),
        percent: percent(p.us),
      }))
      .sort(byTimeThenName((p) => p.provider)),
  };
}

/** Reads and sums a trace file; errors name the file. */
export async function readProfileTrace(
  file: string,
  options: SummaryOptions = {},
): Promise<ProfileSummary> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new StudioError(
      `cannot read the profile ${file}: ${e instanceof Error ? e.message : String(e)}`,
      'not-found',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new StudioError(
      `${file} is not an ONNX Runtime profiling trace (not JSON: ${e instanceof Error ? e.message : String(e)})`,
      'bad-input',
    );
  }
  return summarizeTrace(json, file, options);
}

/**
 * The trace a session wrote for `profileFilePrefix`. onnxruntime-node's `endProfiling()` returns
 * nothing (the C API returns the name, the Node binding drops it), and ORT appends a timestamp:
 * `<prefix>_YYYY-MM-DD_HH-MM-SS_mmm.json`. The newest match wins; null when there is none.
 */
export async function findProfileFile(prefix: string): Promise<string | null> {
  const dir = dirname(prefix);
  const stem = `${basename(prefix)}_`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  const matches = names.filter(
    (n) =>
      n.startsWith(stem) && n.endsWith('.json') && /^\d{4}-\d{2}-\d{2}_/.test(n.slice(stem.length)),
  );
  let newest: { path: string; mtime: number } | null = null;
  for (const name of matches) {
    const path = join(dir, name);
    const { mtimeMs } = await stat(path);
    if (!newest || mtimeMs > newest.mtime || (mtimeMs === newest.mtime && path > newest.path)) {
      newest = { path, mtime: mtimeMs };
    }
  }
  return newest?.path ?? null;
}
