import { EventEmitter } from 'node:events';
import { mkdirSync, readFileSync, existsSync, realpathSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { OptimizeService } from './optimize-service';
import { OPTIMIZE_RECIPES } from '../optimize/recipes';
import { StudioError } from '../../shared/errors';
import { appVersion, ortVersion } from '../versions';
import type { EventName, EventPayload, StudioHandlers } from '../../shared/api';
import { openDatabase, type Db } from '../store/database';
import { RunsRepo } from '../store/runs-repo';
import { HardwareService } from '../hardware/hardware-service';
import { ModelRegistry } from '../models/model-registry';
import { GenerateService } from './generate-service';
import { BenchService } from './bench-service';
import { EngineLock } from './engine-lock';
import { BenchRepo } from '../store/bench-repo';
import { LiveSampler } from '../hardware/live-sampler';
import { HubModels } from '../hub/hub-models';
import { HubService } from '../hub/hub-service';
import { LibraryService } from './library-service';
import { ModelLibrary } from '../hub/model-library';
import { HubTokenStore, type SecretCodec } from '../hub/token-store';
import { listLoras } from '../optimize/lora-library';

export interface StudioEvents {
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void;
  subscribe(
    listener: <E extends EventName>(event: E, payload: EventPayload<E>) => void,
  ): () => void;
}

function createEvents(): StudioEvents {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(100);
  return {
    emit: (event, payload) => emitter.emit('event', event, payload),
    subscribe: (listener) => {
      emitter.on('event', listener);
      return () => emitter.off('event', listener);
    },
  };
}

export interface Studio {
  readonly home: string;
  readonly handlers: StudioHandlers;
  readonly events: StudioEvents;
  readonly db: Db;
  close(): Promise<void>;
}

/** Builds every service over one studio home folder. All three adapters sit on top of this. */
/** `secrets`: Electron's safeStorage, where the app has it (a Hub token is stored only through it). */
export function createStudio(options: { home: string; secrets?: SecretCodec }): Studio {
  const home = options.home;
  mkdirSync(home, { recursive: true });
  mkdirSync(join(home, 'images'), { recursive: true });
  const db = openDatabase(join(home, 'studio.db'));
  const runs = new RunsRepo(db);
  runs.markInterrupted();
  const events = createEvents();
  const hardware = new HardwareService(home);
  // Models in the Hugging Face cache (downloaded or found) resolve by repo id, like any other.
  const hubModels = new HubModels(home);
  const models = new ModelRegistry(home, hubModels);
  const bench = new BenchRepo(db);
  // A benchmark and a generation never run at once (in this process or another on this home).
  const lock = new EngineLock(home);
  const generate = new GenerateService({ home, runs, models, events, bench, hardware, lock });
  const benchService = new BenchService({ home, db, runs, bench, models, hardware, events, lock });
  const optimizeService = new OptimizeService({ home, models, events });
  const libraryService = new LibraryService({
    home,
    db,
    modelDir: (name) => {
      try {
        return models.resolve(name).dir;
      } catch {
        return undefined;
      }
    },
  });
  const hubToken = new HubTokenStore(home, options.secrets);
  const hub = new HubService({
    home,
    token: () => hubToken.token(),
    models: hubModels,
    hardware: () => hardware.detect(false),
    emit: (p) => events.emit('modelDownloadProgress', p),
  });
  const library = new ModelLibrary({ home, models, hubModels, hub });

  // Samples the engine that measures a benchmark, else the generate engine, else the studio itself.
  const sampler = new LiveSampler({
    pid: () => benchService.enginePid ?? generate.engine.pid ?? process.pid,
  });

  const handlers: StudioHandlers = {
    getHardware: (input) => hardware.detect(input.refresh),
    listModels: () => library.list(),
    generate: (input) => generate.generate(input),
    cancelGenerate: async (input) => ({ cancelled: generate.cancel(input.jobId) }),
    getHistory: async (input) => runs.history(input.limit),
    readImage: async (input) => {
      // Only images the studio wrote: the renderer never reads arbitrary files.
      const imagesDir = resolve(home, 'images') + sep;
      const file = resolve(input.path);
      if (!file.startsWith(imagesDir) || !file.endsWith('.png')) {
        throw new StudioError(`path: only PNG files under ${imagesDir} can be read`, 'bad-input');
      }
      if (!existsSync(file)) throw new StudioError(`path: ${file} no longer exists`, 'not-found');
      // Symlinks resolved: a link under images/ that points elsewhere is refused.
      const real = realpathSync(file);
      if (!real.startsWith(realpathSync(imagesDir) + sep)) {
        throw new StudioError(`path: only PNG files under ${imagesDir} can be read`, 'bad-input');
      }
      return { dataUrl: `data:image/png;base64,${readFileSync(real).toString('base64')}` };
    },
    proposeRecipes: (input) => benchService.propose(input),
    runBenchmark: (input) => benchService.run(input),
    planBenchmark: (input) => benchService.plan(input),
    cancelBenchmark: async (input) => ({ cancelled: benchService.cancel(input.jobId) }),
    getRun: async (input) => benchService.detail(input.runId),
    compareRuns: async (input) => benchService.compare(input.runA, input.runB),
    saveProfile: async (input) => benchService.saveProfile(input),
    exportRun: async (input) => benchService.exportRun(input.runId, input.format),
    exportComparison: async (input) => benchService.exportComparison(input.runA, input.runB),
    getTrend: async (input) => benchService.trend(input.model, input.recipe),
    listImages: async (input) => libraryService.images(input),
    deleteRun: async (input) => libraryService.deleteRun(input.runId),
    listProfiles: async (input) => libraryService.profiles(input.model),
    previewProfile: async (input) => libraryService.previewProfile(input.runId, input.recipe),
    registerModel: async (input) => models.register(input.path, input.name),
    unregisterModel: async (input) => ({ removed: models.unregister(input.name) }),
    planModelDownload: (input) => hub.plan(input),
    downloadModel: (input) => hub.download(input),
    cancelModelDownload: async (input) => ({ cancelled: hub.cancel(input.jobId) }),
    listDownloads: async () => hub.active(),
    deleteModel: (input) => library.remove(input.name),
    checkFit: (input) => library.fit(input),
    getCatalogue: async () => library.catalogue(),
    setHubToken: async (input) => {
      hubToken.set(input.token);
      return { source: hubToken.source(), canStore: hubToken.canStore };
    },
    getHubTokenStatus: async () => ({ source: hubToken.source(), canStore: hubToken.canStore }),
    listLoras: async (input) => listLoras(home, models.resolve(input.model)),
    optimizeModel: async (input) => optimizeService.optimize(input),
    cancelOptimize: async (input) => ({ cancelled: optimizeService.cancel(input.jobId) }),
    listOptimizeRecipes: async () =>
      OPTIMIZE_RECIPES.map((r) => ({
        name: r.name,
        description: r.description,
        pays: r.pays,
        components: { ...r.components },
      })),
    setMonitoring: async (input) => {
      if (input.on && !sampler.running)
        sampler.start((sample) => events.emit('monitorSample', sample));
      if (!input.on && sampler.running) sampler.stop();
      return { on: sampler.running };
    },
    getAppInfo: async () => ({
      appVersion: appVersion(),
      ortVersion: ortVersion(),
      home,
      nodeVersion: process.versions.node,
    }),
  };

  return {
    home,
    handlers,
    events,
    db,
    async close() {
      sampler.stop();
      await generate.close();
      db.close();
    },
  };
}
