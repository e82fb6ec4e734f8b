import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  safeStorage,
  session,
  shell,
  utilityProcess,
  type IpcMainInvokeEvent,
} from 'electron';
import { basename, join } from 'node:path';
import { METHOD_NAMES, ipcChannel, ipcEventChannel } from '../shared/api';
import {
  CONSENT_PICK_CHANNEL,
  PICK_KINDS,
  type PickKind,
  type PickResult,
} from '../shared/consent';
import { createStudio, type Studio } from './services/studio';
import { dispatch, errorPayload } from './services/dispatch';
import { studioHome } from './paths';
import { moveDatabaseAside } from './store/database';
import { useUtilityProcess } from './workers/worker-process';
import { isTrustedSender, UNTRUSTED_SENDER, type OwnPage } from './ipc-guard';
import { ConsentStore } from './path-consent';

/**
 * The Electron adapter: a window and one ipcMain handler per StudioApi method, generated from the
 * channel list. All behaviour lives in the services; nothing here is needed to run them.
 */
let studio: Studio | undefined;
const consent = new ConsentStore();
const rendererFile = join(import.meta.dirname, '../renderer/index.html');
const ownPage: OwnPage = { rendererFile, devUrl: process.env.ELECTRON_RENDERER_URL };

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1280,
    height: 860,
    show: false,
    title: 'Latent Studio',
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      // Middle-click must not open links in new windows.
      disableBlinkFeatures: 'Auxclick',
    },
  });
  win.once('ready-to-show', () => win.show());
  if (ownPage.devUrl) void win.loadURL(ownPage.devUrl);
  else void win.loadFile(rendererFile);
}

/** Only https links leave the app, and only to the system browser. */
function openLinkOutside(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  if (parsed.protocol === 'https:') void shell.openExternal(parsed.href);
}

/**
 * Every web contents (the window, and anything it might try to create): no navigation away from
 * the app, no redirects, no webviews, no new windows.
 */
function lockDown(contents: Electron.WebContents): void {
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openLinkOutside(url);
    return { action: 'deny' };
  });
}

/** The consent dialog: what the person picks becomes a handle the page can pass as a path. */
async function pick(event: IpcMainInvokeEvent, kind: unknown): Promise<PickResult> {
  if (!PICK_KINDS.includes(kind as PickKind)) return null;
  const k = kind as PickKind;
  const win = BrowserWindow.fromWebContents(event.sender);
  const options: Electron.OpenDialogOptions = {
    title:
      k === 'file' ? 'Choose a file' : k === 'output' ? 'Choose where to write' : 'Choose a folder',
    properties:
      k === 'file'
        ? ['openFile']
        : k === 'output'
          ? ['openDirectory', 'createDirectory']
          : ['openDirectory'],
  };
  const picked = win
    ? await dialog.showOpenDialog(win, options)
    : await dialog.showOpenDialog(options);
  const path = picked.canceled ? undefined : picked.filePaths[0];
  return path ? { handle: consent.grant(path, k), name: basename(path) } : null;
}

/** Opens the studio; a damaged database is offered to be moved aside (renamed, never deleted). */
function openStudio(home: string): Studio {
  // A Hub token typed into the app is kept only through the OS keychain (safeStorage).
  const secrets = safeStorage;
  try {
    return createStudio({ home, secrets });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const choice = dialog.showMessageBoxSync({
      type: 'error',
      title: 'Latent Studio',
      message: 'The studio database could not be opened.',
      detail: message,
      buttons: ['Move aside and start fresh', 'Quit'],
      defaultId: 0,
      cancelId: 1,
    });
    if (choice !== 0) {
      app.exit(1);
      throw error;
    }
    moveDatabaseAside(join(home, 'studio.db'));
    return createStudio({ home, secrets });
  }
}

// One studio per user: two would share one database and one engine lock.
const primary = app.requestSingleInstanceLock();
if (!primary) app.quit();
app.on('second-instance', () => {
  const win = BrowserWindow.getAllWindows()[0];
  if (win?.isMinimized()) win.restore();
  win?.focus();
});
app.on('web-contents-created', (_event, contents) => lockDown(contents));

if (primary)
  void app.whenReady().then(() => {
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
      callback({
        responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] },
      });
    });
    // The studio uses no camera, microphone, location, notifications, MIDI, HID...: deny them all.
    session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) =>
      callback(false),
    );
    session.defaultSession.setPermissionCheckHandler(() => false);
    // Workers (engine, optimizer, image quality, provider probes) start as utility processes: no
    // RunAsNode fuse needed, and Electron ends them with the app.
    useUtilityProcess(utilityProcess);
    const home = studioHome(app.getPath('userData'));
    // Workers (engine, optimizer) and the variant store find the same home through the environment.
    process.env.LATENT_STUDIO_HOME = home;
    studio = openStudio(home);
    const s = studio;
    for (const method of METHOD_NAMES) {
      ipcMain.handle(ipcChannel(method), async (event, input: unknown) => {
        if (!isTrustedSender(event, ownPage)) return UNTRUSTED_SENDER;
        try {
          // Paths from the page are handles to what the person picked in a dialog, nothing else.
          const result = await dispatch(s.handlers, method, input, { paths: consent.resolve });
          return { ok: true, result };
        } catch (error) {
          return { ok: false, ...errorPayload(error) };
        }
      });
    }
    ipcMain.handle(CONSENT_PICK_CHANNEL, (event, kind: unknown) =>
      isTrustedSender(event, ownPage) ? pick(event, kind) : null,
    );
    s.events.subscribe((event, payload) => {
      for (const win of BrowserWindow.getAllWindows())
        win.webContents.send(ipcEventChannel(event), payload);
    });
    createWindow();
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
  });

app.on('window-all-closed', () => {
  void studio?.close().finally(() => app.quit());
});
