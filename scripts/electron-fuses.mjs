// The Electron fuses of the packaged studio (https://www.electronjs.org/docs/latest/tutorial/fuses),
// flipped into the app's binary by the electron-builder afterPack hook (scripts/after-pack.mjs)
// before it is signed. test/integration/packaging.test.ts checks every one of them.
import { FuseV1Options, FuseVersion } from '@electron/fuses';

export const STUDIO_FUSES = {
  version: FuseVersion.V1,
  // Every fuse this Electron has must be set here: a new one cannot slip through unreviewed.
  strictlyRequireAllFuses: true,
  // The studio's workers are utility processes; nothing may run the binary as plain Node.
  [FuseV1Options.RunAsNode]: false,
  // Cookies (and other secrets in the session store) encrypted at rest with the OS keychain.
  [FuseV1Options.EnableCookieEncryption]: true,
  // NODE_OPTIONS and --inspect cannot inject code into the packaged app.
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  // app.asar must match the hash electron-builder embeds (macOS and Windows), and the app loads
  // only from app.asar, never from a loose app/ folder beside it.
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  // Electron's defaults for the rest, written down.
  [FuseV1Options.LoadBrowserProcessSpecificV8Snapshot]: false,
  // file:// gets no more than a browser gives it.
  [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
  [FuseV1Options.WasmTrapHandlers]: true,
};

/** The file whose fuse wire is flipped, for electron-builder's packed app folder. */
export function electronBinary(appOutDir, platform, productFilename, executableName) {
  if (platform === 'darwin' || platform === 'mas') return `${appOutDir}/${productFilename}.app`;
  if (platform === 'win32') return `${appOutDir}/${productFilename}.exe`;
  return `${appOutDir}/${executableName ?? productFilename}`;
}
