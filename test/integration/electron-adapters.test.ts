import { describe, expect, it, vi, beforeEach } from 'vitest';
import { METHOD_NAMES, EVENT_NAMES, ipcChannel, ipcEventChannel } from '../../src/shared/api';
import { tempHome } from '../helpers/temp-home';

/**
 * Electron cannot be launched on these machines, so the two Electron adapters are loaded against
 * a recording stand-in for the `electron` module: this proves they are generated from the channel
 * list (every method exposed by the preload and handled by ipcMain), not that a window opens.
 */
const recorded = vi.hoisted(() => ({
  exposed: {} as Record<string, unknown>,
  invoked: [] as { channel: string; input: unknown }[],
  handlers: new Map<string, (event: unknown, input: unknown) => Promise<unknown>>(),
  listened: [] as string[],
  windowOptions: [] as Record<string, unknown>[],
}));

vi.mock('electron', () => {
  class BrowserWindow {
    static getAllWindows(): BrowserWindow[] {
      return [];
    }
    webContents = { on: vi.fn(), setWindowOpenHandler: vi.fn(), send: vi.fn() };
    constructor(options: Record<string, unknown>) {
      recorded.windowOptions.push(options);
    }
    once(): void {}
    loadFile(): Promise<void> {
      return Promise.resolve();
    }
    loadURL(): Promise<void> {
      return Promise.resolve();
    }
  }
  return {
    contextBridge: {
      exposeInMainWorld: (key: string, value: unknown) => (recorded.exposed[key] = value),
    },
    ipcRenderer: {
      invoke: (channel: string, input: unknown) => {
        recorded.invoked.push({ channel, input });
        return Promise.resolve({ ok: true });
      },
      on: (channel: string) => recorded.listened.push(channel),
      off: vi.fn(),
    },
    ipcMain: { handle: (channel: string, fn: never) => recorded.handlers.set(channel, fn) },
    app: {
      whenReady: () => Promise.resolve(),
      getPath: () => '/nonexistent',
      on: vi.fn(),
      quit: vi.fn(),
    },
    session: { defaultSession: { webRequest: { onHeadersReceived: vi.fn() } } },
    shell: { openExternal: vi.fn() },
    utilityProcess: { fork: vi.fn() },
    BrowserWindow,
  };
});

describe('Electron preload', () => {
  beforeEach(() => {
    recorded.invoked.length = 0;
  });

  it('exposes exactly the StudioApi methods and events', async () => {
    await import('../../src/preload/index');
    const bridge = recorded.exposed.latentStudio as {
      methods: Record<string, (input?: unknown) => Promise<unknown>>;
      on: (event: string, listener: () => void) => () => void;
    };
    expect(Object.keys(bridge.methods).sort()).toEqual([...METHOD_NAMES].sort());
    for (const name of METHOD_NAMES) await bridge.methods[name]({ probe: name });
    expect(recorded.invoked.map((i) => i.channel)).toEqual(METHOD_NAMES.map(ipcChannel));
    for (const event of EVENT_NAMES) bridge.on(event, () => {});
    expect(recorded.listened).toEqual(EVENT_NAMES.map(ipcEventChannel));
    expect(() => bridge.on('notAnEvent', () => {})).toThrow(/unknown event/);
  });
});

describe('Electron main', () => {
  it('registers one ipcMain handler per method and opens a sandboxed window', async () => {
    const home = tempHome();
    process.env.LATENT_STUDIO_HOME = home.dir;
    try {
      await import('../../src/main/index');
      await vi.waitFor(() => expect(recorded.handlers.size).toBe(METHOD_NAMES.length));
      expect([...recorded.handlers.keys()].sort()).toEqual(METHOD_NAMES.map(ipcChannel).sort());
      const prefs = recorded.windowOptions[0]?.webPreferences as Record<string, unknown>;
      expect(prefs).toMatchObject({
        contextIsolation: true,
        nodeIntegration: false,
        sandbox: true,
      });
      const reply = (await recorded.handlers.get(ipcChannel('getHistory'))?.({}, { limit: 0 })) as {
        ok: boolean;
        error: string;
      };
      expect(reply.ok).toBe(false);
      expect(reply.error).toMatch(/^limit:/);
      const ok = (await recorded.handlers.get(ipcChannel('getHistory'))?.({}, {})) as {
        ok: boolean;
      };
      expect(ok.ok).toBe(true);
    } finally {
      delete process.env.LATENT_STUDIO_HOME;
    }
  });
});
