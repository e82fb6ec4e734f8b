import { app, BrowserWindow, dialog, ipcMain, session, shell, utilityProcess } from 'electron';
import { join } from 'node:path';
import { METHOD_NAMES, ipcChannel, ipcEventChannel } from '../shared/api';
import { createStudio, type Studio } from './services/studio';
import { dispatch, errorPayload } from './services/dispatch';
import { studioHome } from './paths';
import { moveDatabaseAside } from './store/database';
import { useUtilityProcess } from './workers/worker-process';

/**
 * The Electron adapter: a window and one ipcMain handler per StudioApi method, generated from the
 * channel list. All behaviour lives in the services; nothing here is needed to run them.
 */
let studio: Studio | undefined;

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
    },
  });
  win.once('ready-to-show', () => win.show());
  // No navigation away from the app and no new windows; links open in the system browser.
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL);
  else void win.loadFile(join(import.meta.dirname, '../renderer/index.html'));
}

/** Opens the studio; a damaged database is offered to be moved aside (renamed, never deleted). */
function openStudio(home: string): Studio {
  try {
    return createStudio({ home });
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
    return createStudio({ home });
  }
}

void app.whenReady().then(() => {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  // Workers (engine, optimizer, image quality, provider probes) start as utility processes: no
  // RunAsNode fuse needed, and Electron ends them with the app.
  useUtilityProcess(utilityProcess);
  const home = studioHome(app.getPath('userData'));
  // Workers (engine, optimizer) and the variant store find the same home through the environment.
  process.env.LATENT_STUDIO_HOME = home;
  studio = openStudio(home);
  const s = studio;
  for (const method of METHOD_NAMES) {
    ipcMain.handle(ipcChannel(method), async (_event, input: unknown) => {
      try {
        return { ok: true, result: await dispatch(s.handlers, method, input) };
      } catch (error) {
        return { ok: false, ...errorPayload(error) };
      }
    });
  }
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
