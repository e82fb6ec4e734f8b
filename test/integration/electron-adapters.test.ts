import { describe, expect, it, vi, beforeEach } from 'vitest';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { METHOD_NAMES, EVENT_NAMES, ipcChannel, ipcEventChannel } from '../../src/shared/api';
import { CONSENT_PICK_CHANNEL } from '../../src/shared/consent';
import { tempHome } from '../helpers/temp-home';

/**
 * Electron cannot be launched on these machines, so the two Electron adapters are loaded against
 * a recording stand-in for the `electron` module: this proves they are generated from the channel
 * list (every method exposed by the preload and handled by ipcMain), that every handler checks who
 * is asking, that permissions, webviews, redirects and navigation are refused, and that paths
 * come only from the main-process dialog. It does not prove that a window opens.
 */
type Handler = (event: unknown, input: unknown) => Promise<unknown>;
type Listener = (...args: unknown[]) => void;

const recorded = vi.hoisted(() => ({
  exposed: {} as Record<string, unknown>,
  invoked: [] as { channel: string; input: unknown }[],
  handlers: new Map<string, (event: unknown, input: unknown) => Promise<unknown>>(),
  listened: [] as string[],
  windowOptions: [] as Record<string, unknown>[],
  appListeners: new Map<string, (...args: unknown[]) => void>(),
  permissionRequest: undefined as
    undefined | ((wc: unknown, permission: string, callback: (granted: boolean) => void) => void),
  permissionCheck: undefined as undefined | ((...args: unknown[]) => boolean),
  singleInstanceAsked: 0,
  dialogAnswer: { canceled: false, filePaths: [] as string[] },
}));

vi.mock('electron', () => {
  class BrowserWindow {
    static getAllWindows(): BrowserWindow[] {
      return [];
    }
    static fromWebContents(): null {
      return null;
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
      on: (event: string, listener: (...args: unknown[]) => void) =>
        recorded.appListeners.set(event, listener),
      quit: vi.fn(),
      requestSingleInstanceLock: () => {
        recorded.singleInstanceAsked++;
        return true;
      },
    },
    dialog: {
      showOpenDialog: () => Promise.resolve(recorded.dialogAnswer),
      showMessageBoxSync: vi.fn(),
    },
    session: {
      defaultSession: {
        webRequest: { onHeadersReceived: vi.fn() },
        setPermissionRequestHandler: (fn: typeof recorded.permissionRequest) =>
          (recorded.permissionRequest = fn),
        setPermissionCheckHandler: (fn: typeof recorded.permissionCheck) =>
          (recorded.permissionCheck = fn),
      },
    },
    shell: { openExternal: vi.fn() },
    utilityProcess: { fork: vi.fn() },
    safeStorage: {
      isEncryptionAvailable: () => false,
      encryptString: vi.fn(),
      decryptString: vi.fn(),
    },
    BrowserWindow,
  };
});

/** An IPC event as Electron builds it: the sender's frame, its URL and whether it is a subframe. */
const ownUrl = pathToFileURL(resolve('src/renderer/index.html')).href;
const from = (url: string, parent: unknown = null) => ({
  sender: {},
  senderFrame: { url, parent },
});

describe('Electron preload', () => {
  beforeEach(() => {
    recorded.invoked.length = 0;
  });

  it('exposes exactly the StudioApi methods and events, and the consent picker', async () => {
    await import('../../src/preload/index');
    const bridge = recorded.exposed.latentStudio as {
      methods: Record<string, (input?: unknown) => Promise<unknown>>;
      on: (event: string, listener: () => void) => () => void;
      pickPath: (kind: string) => Promise<unknown>;
    };
    expect(Object.keys(bridge.methods).sort()).toEqual([...METHOD_NAMES].sort());
    for (const name of METHOD_NAMES) await bridge.methods[name]({ probe: name });
    expect(recorded.invoked.map((i) => i.channel)).toEqual(METHOD_NAMES.map(ipcChannel));
    for (const event of EVENT_NAMES) bridge.on(event, () => {});
    expect(recorded.listened).toEqual(EVENT_NAMES.map(ipcEventChannel));
    expect(() => bridge.on('notAnEvent', () => {})).toThrow(/unknown event/);
    await bridge.pickPath('folder');
    expect(recorded.invoked.at(-1)).toEqual({ channel: CONSENT_PICK_CHANNEL, input: 'folder' });
    expect(() => bridge.pickPath('anything')).toThrow(/unknown pick kind/);
  });
});

describe('Electron main', () => {
  const home = tempHome();
  let loaded = false;
  const load = async (): Promise<void> => {
    if (loaded) return;
    process.env.LATENT_STUDIO_HOME = home.dir;
    await import('../../src/main/index');
    await vi.waitFor(() => expect(recorded.handlers.size).toBe(METHOD_NAMES.length + 1));
    loaded = true;
  };
  const handler = (channel: string): Handler => {
    const h = recorded.handlers.get(channel);
    if (!h) throw new Error(`no handler for ${channel}`);
    return h;
  };

  it('registers one ipcMain handler per method and opens a sandboxed window', async () => {
    await load();
    expect([...recorded.handlers.keys()].sort()).toEqual(
      [...METHOD_NAMES.map(ipcChannel), CONSENT_PICK_CHANNEL].sort(),
    );
    const prefs = recorded.windowOptions[0]?.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      disableBlinkFeatures: 'Auxclick',
    });
    const reply = (await handler(ipcChannel('getHistory'))(from(ownUrl), { limit: 0 })) as {
      ok: boolean;
      error: string;
    };
    expect(reply.ok).toBe(false);
    expect(reply.error).toMatch(/^limit:/);
    const ok = (await handler(ipcChannel('getHistory'))(from(ownUrl), {})) as { ok: boolean };
    expect(ok.ok).toBe(true);
  });

  it('answers only the app’s own page in the top frame, on every channel', async () => {
    await load();
    const strangers = [
      from('https://example.com/'),
      from(`${ownUrl}`, { url: 'https://example.com/' }), // our page, framed by another
      from('file:///tmp/evil/index.html'),
      from('http://127.0.0.1:5173/'),
      { sender: {}, senderFrame: null },
      {},
    ];
    for (const channel of [...METHOD_NAMES.map(ipcChannel), CONSENT_PICK_CHANNEL]) {
      for (const event of strangers) {
        const reply = await handler(channel)(event, {});
        if (channel === CONSENT_PICK_CHANNEL) expect(reply).toBeNull();
        else expect(reply).toMatchObject({ ok: false, code: 'forbidden', error: /^sender:/ });
      }
    }
  });

  it('denies every permission request and check', async () => {
    await load();
    for (const permission of ['media', 'geolocation', 'notifications', 'midi', 'hid']) {
      const answer = await new Promise<boolean>((done) =>
        recorded.permissionRequest?.({}, permission, done),
      );
      expect(answer).toBe(false);
      expect(recorded.permissionCheck?.({}, permission)).toBe(false);
    }
  });

  it('refuses navigation, redirects, webviews and new windows in every web contents', async () => {
    await load();
    const created = recorded.appListeners.get('web-contents-created');
    expect(created).toBeDefined();
    const listeners = new Map<string, Listener>();
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    created?.(
      {},
      {
        on: (event: string, l: Listener) => listeners.set(event, l),
        setWindowOpenHandler: (h: typeof openHandler) => (openHandler = h),
      },
    );
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      const e = { preventDefault: vi.fn() };
      listeners.get(event)?.(e, {}, {});
      expect(e.preventDefault, event).toHaveBeenCalled();
    }
    expect(openHandler?.({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(openHandler?.({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
  });

  it('holds the single-instance lock and focuses the first window on a second launch', async () => {
    await load();
    expect(recorded.singleInstanceAsked).toBe(1);
    expect(recorded.appListeners.has('second-instance')).toBe(true);
  });

  it('takes paths only as handles from its own dialog', async () => {
    await load();
    const register = handler(ipcChannel('registerModel'));
    const fixture = resolve('test/fixtures/models/sd15-optimum-float');
    const typed = (await register(from(ownUrl), { path: fixture })) as {
      ok: boolean;
      error: string;
    };
    expect(typed.ok).toBe(false);
    expect(typed.error).toMatch(/^path: the desktop app only uses files and folders picked/);
    const optimizeTyped = (await handler(ipcChannel('optimizeModel'))(from(ownUrl), {
      recipe: 'graph-all',
      out: '/tmp/anywhere',
    })) as { error: string };
    expect(optimizeTyped.error).toMatch(/^out: the desktop app only uses/);
    const generateOutside = (await handler(ipcChannel('generate'))(from(ownUrl), {
      model: '/etc',
    })) as { error: string };
    expect(generateOutside.error).toMatch(/^model: the desktop app only uses/);

    recorded.dialogAnswer = { canceled: false, filePaths: [fixture] };
    const picked = (await handler(CONSENT_PICK_CHANNEL)(from(ownUrl), 'folder')) as {
      handle: string;
      name: string;
    };
    expect(picked.name).toBe('sd15-optimum-float');
    expect(picked.handle).toMatch(/^consent:[0-9a-f-]{36}$/);
    expect(picked.handle).not.toContain(fixture);
    const ok = (await register(from(ownUrl), { path: picked.handle })) as {
      ok: boolean;
      result: { name: string; path: string };
    };
    expect(ok).toMatchObject({ ok: true, result: { name: 'sd15-optimum-float', path: fixture } });
    // A folder handle is not an output or a file.
    const wrongKind = (await handler(ipcChannel('runBenchmark'))(from(ownUrl), {
      cases: picked.handle,
    })) as { error: string };
    expect(wrongKind.error).toMatch(/^cases: the picked folder cannot be used here/);
    recorded.dialogAnswer = { canceled: true, filePaths: [] };
    expect(await handler(CONSENT_PICK_CHANNEL)(from(ownUrl), 'file')).toBeNull();
    delete process.env.LATENT_STUDIO_HOME;
  });
});
