import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  EVENT_NAMES,
  METHOD_NAMES,
  ipcChannel,
  ipcEventChannel,
  type EventName,
} from '../shared/channels';
import {
  CONSENT_PICK_CHANNEL,
  PICK_KINDS,
  type PickKind,
  type PickResult,
} from '../shared/consent';

/**
 * Exposes exactly the StudioApi tables to the sandboxed renderer: one `invoke` per method and one
 * subscription per event, generated from the channel lists so nothing can drift or leak.
 */
const methods = Object.fromEntries(
  METHOD_NAMES.map((name) => [
    name,
    (input?: unknown) => ipcRenderer.invoke(ipcChannel(name), input),
  ]),
);

const bridge = {
  methods,
  /**
   * Opens the main process's dialog; resolves to an opaque handle for what the person picked (pass
   * it where a method takes a path) and a name to show, or null when they cancelled.
   */
  pickPath(kind: PickKind): Promise<PickResult> {
    if (!PICK_KINDS.includes(kind)) throw new Error(`unknown pick kind ${String(kind)}`);
    return ipcRenderer.invoke(CONSENT_PICK_CHANNEL, kind) as Promise<PickResult>;
  },
  on(event: EventName, listener: (payload: unknown) => void): () => void {
    if (!EVENT_NAMES.includes(event)) throw new Error(`unknown event ${String(event)}`);
    const channel = ipcEventChannel(event);
    const wrapped = (_e: IpcRendererEvent, payload: unknown): void => listener(payload);
    ipcRenderer.on(channel, wrapped);
    return () => ipcRenderer.off(channel, wrapped);
  },
};

contextBridge.exposeInMainWorld('latentStudio', bridge);
