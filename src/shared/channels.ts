/**
 * The StudioApi's method and event names alone, free of any dependency, so the sandboxed preload
 * (which cannot require packages) can import them. `api.ts` checks its tables against these lists
 * at compile time, so they cannot drift.
 */
export const METHOD_NAMES = [
  'getHardware',
  'listModels',
  'generate',
  'cancelGenerate',
  'getHistory',
  'readImage',
  'getAppInfo',
  'proposeRecipes',
  'runBenchmark',
  'planBenchmark',
  'cancelBenchmark',
  'getRun',
  'compareRuns',
  'saveProfile',
  'setMonitoring',
  'exportRun',
  'exportComparison',
  'getTrend',
  'listImages',
  'deleteRun',
  'listProfiles',
  'previewProfile',
  'optimizeModel',
  'cancelOptimize',
  'listOptimizeRecipes',
  'registerModel',
  'unregisterModel',
  'planModelDownload',
  'downloadModel',
  'cancelModelDownload',
  'listDownloads',
  'deleteModel',
  'checkFit',
  'getCatalogue',
  'setHubToken',
  'getHubTokenStatus',
  'listLoras',
] as const;
export const EVENT_NAMES = [
  'generateProgress',
  'benchProgress',
  'monitorSample',
  'optimizeProgress',
  'modelDownloadProgress',
] as const;

export type MethodName = (typeof METHOD_NAMES)[number];
export type EventName = (typeof EVENT_NAMES)[number];

/** IPC channel names, derived from the lists. */
export const ipcChannel = (method: MethodName): string => `studio:${method}`;
export const ipcEventChannel = (event: EventName): string => `studio-event:${event}`;
