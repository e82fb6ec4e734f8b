import type { FromEngine, PipelineRequest, ToEngine } from '../engine/protocol';
import { ModelSessions } from '../engine/model-sessions';
import { readModelInfo } from '../engine/model-loader';
import { DEFAULT_RUN_CONFIG, runConfigKey, type RunConfig } from '../engine/run-config';
import { runPipeline } from '../engine/pipeline';
import { StudioError } from '../../shared/errors';
import { SchedulerConfigError } from '../engine/schedulers';
import { TokenizerFileError } from '../engine/tokenizer/tokenizer-files';
import { parentChannel } from './parent-channel';

/**
 * The engine process: owns every ONNX Runtime session. Requests run one at a time; sessions stay
 * cached while the model and RunConfig are unchanged.
 */
let loaded: { key: string; sessions: ModelSessions } | undefined;
const cancelled = new Set<string>();
const queued = new Set<string>();
let queue: Promise<void> = Promise.resolve();

const parent = parentChannel();

function send(message: FromEngine): void {
  void parent.send(message);
}

function runConfigFor(req: PipelineRequest): RunConfig {
  // A GPU provider that fails falls back to the CPU, which always works.
  const providers: RunConfig['providers'] = req.ep === 'cpu' ? ['cpu'] : [req.ep, 'cpu'];
  return {
    ...DEFAULT_RUN_CONFIG,
    providers,
    ...req.runConfig,
    // An explicit --threads wins over a profile's setting.
    ...(req.threads !== undefined ? { intraOpThreads: req.threads } : {}),
  };
}

async function sessionsFor(req: PipelineRequest): Promise<ModelSessions> {
  const config = runConfigFor(req);
  const key = `${req.modelDir}|${runConfigKey(config)}`;
  if (loaded?.key === key) return loaded.sessions;
  await loaded?.sessions.releaseAll();
  loaded = undefined;
  const info = await readModelInfo(req.modelDir);
  loaded = { key, sessions: new ModelSessions(info, config) };
  return loaded.sessions;
}

async function handleGenerate(id: string, req: PipelineRequest): Promise<void> {
  try {
    const sessions = await sessionsFor(req);
    const result = await runPipeline(sessions, req, {
      onProgress: (progress) => send({ type: 'progress', id, progress }),
      isCancelled: () => cancelled.has(id),
    });
    // A profiled run's traces are only written when its sessions end: end them now.
    if (sessions.config.enableProfiling) {
      await sessions.releaseAll();
      loaded = undefined;
    }
    send({ type: 'result', id, result });
  } catch (error) {
    // Bad configs and tokenizer files are the user's model folder, not an engine failure.
    const badInput = error instanceof SchedulerConfigError || error instanceof TokenizerFileError;
    const code =
      error instanceof StudioError && (error.code === 'bad-input' || error.code === 'cancelled')
        ? error.code
        : badInput
          ? 'bad-input'
          : 'failed';
    send({
      type: 'error',
      id,
      message: error instanceof Error ? error.message : String(error),
      code,
    });
    // Sequential residency promises one component in memory at a time: a cancelled or failed run
    // must not leave the UNet loaded for the next one.
    if (loaded?.sessions.config.residency === 'sequential') {
      await loaded.sessions.releaseAll();
      loaded = undefined;
    }
  } finally {
    cancelled.delete(id);
    queued.delete(id);
  }
}

parent.onMessage((raw) => {
  const message = raw as ToEngine;
  if (message.type === 'cancel') {
    // Only requests still queued or running can be cancelled; a stale id must not poison a later one.
    if (queued.has(message.id)) cancelled.add(message.id);
    return;
  }
  if (message.type === 'stats') {
    const mb = (bytes: number): number => bytes / 2 ** 20;
    send({
      type: 'stats',
      id: message.id,
      stats: {
        maxRssMb: process.resourceUsage().maxRSS / 1024,
        rssMb: mb(process.memoryUsage().rss),
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      },
    });
    return;
  }
  if (message.type === 'generate') {
    queued.add(message.id);
    queue = queue.then(() => handleGenerate(message.id, message.request));
  }
});

parent.onParentGone(() => process.exit(0));
