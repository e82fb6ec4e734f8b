import {
  METHOD_NAMES,
  type EventName,
  type EventPayload,
  type MethodName,
  type StudioApi,
} from '../../../shared/api';
import type { PickKind, PickResult } from '../../../shared/consent';

/** The bridge the Electron preload exposes (see src/preload/index.ts). */
interface PreloadBridge {
  methods: Record<
    string,
    (input?: unknown) => Promise<{ ok: boolean; result?: unknown; error?: string; code?: string }>
  >;
  on(event: string, listener: (payload: unknown) => void): () => void;
  pickPath?(kind: PickKind): Promise<PickResult>;
}

declare global {
  interface Window {
    latentStudio?: PreloadBridge;
  }
}

/** A call the studio answered with an error: its message, and the service's code for it. */
export class StudioCallError extends Error {
  constructor(
    message: string,
    /** `cancelled`, `bad-input`, `not-found`, `unavailable`, `failed`, ... (shared/errors.ts). */
    readonly code: string,
  ) {
    super(message);
    this.name = 'StudioCallError';
  }
}

/**
 * Whether a call ended because the person cancelled it (the studio's code `cancelled`): an outcome
 * to show as "Cancelled", never as a failure.
 */
export const isCancelled = (error: unknown): boolean =>
  error instanceof StudioCallError && error.code === 'cancelled';

type Caller = (method: MethodName, input: unknown) => Promise<unknown>;
type Subscriber = (event: EventName, listener: (payload: unknown) => void) => () => void;

function build(call: Caller, subscribe: Subscriber): StudioApi {
  const api = Object.fromEntries(
    METHOD_NAMES.map((m) => [m, (input?: unknown) => call(m, input)]),
  ) as unknown as Omit<StudioApi, 'on'>;
  return {
    ...api,
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      return subscribe(event, listener as (payload: unknown) => void);
    },
  } as StudioApi;
}

function electronClient(bridge: PreloadBridge): StudioApi {
  return build(
    async (method, input) => {
      const reply = await bridge.methods[method](input);
      if (!reply.ok)
        throw new StudioCallError(
          reply.error ?? 'the studio failed without a message',
          reply.code ?? 'failed',
        );
      return reply.result;
    },
    (event, listener) => bridge.on(event, listener),
  );
}

/** The web host's API: POST /api/<method>; events over one WebSocket. The token travels as a cookie. */
function webClient(): StudioApi {
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let socket: WebSocket | undefined;
  const connect = (): void => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/api/events`);
    socket.onmessage = (message) => {
      const { event, payload } = JSON.parse(String(message.data)) as {
        event: string;
        payload: unknown;
      };
      for (const l of listeners.get(event) ?? []) l(payload);
    };
    socket.onclose = () => {
      socket = undefined;
      setTimeout(connect, 1000);
    };
  };
  return build(
    async (method, input) => {
      const response = await fetch(`/api/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(input ?? {}),
        credentials: 'same-origin',
      });
      const body = (await response.json()) as { result?: unknown; error?: string; code?: string };
      if (!response.ok)
        throw new StudioCallError(body.error ?? `HTTP ${response.status}`, body.code ?? 'failed');
      return body.result;
    },
    (event, listener) => {
      if (!socket) connect();
      const set = listeners.get(event) ?? new Set();
      set.add(listener);
      listeners.set(event, set);
      return () => set.delete(listener);
    },
  );
}

export const studio: StudioApi = window.latentStudio
  ? electronClient(window.latentStudio)
  : webClient();

/**
 * In the desktop app, paths come only from the main process's dialog: this opens it and returns
 * an opaque handle to pass where a method takes a path (and a name to show), or null if the
 * person cancelled. Undefined in the browser, where paths are typed (under allowed folders).
 */
export function pickPath(kind: PickKind): Promise<PickResult> | undefined {
  return window.latentStudio?.pickPath?.(kind);
}
