// electron-builder afterPack hook (electron-builder.yml: afterPack): flips the studio's Electron
// fuses (scripts/electron-fuses.mjs) in the packed binary, before signing and the installers.
import { flipFuses } from '@electron/fuses';
import { STUDIO_FUSES, electronBinary } from './electron-fuses.mjs';

export default async function afterPack(context) {
  const platform = context.electronPlatformName;
  const info = context.packager.appInfo;
  const binary = electronBinary(
    context.appOutDir,
    platform,
    info.productFilename,
    context.packager.executableName,
  );
  // arm64 macOS binaries carry an ad-hoc signature that flipping bytes invalidates.
  const resetAdHocDarwinSignature = platform === 'darwin' && context.arch === 3; // Arch.arm64
  await flipFuses(binary, { ...STUDIO_FUSES, resetAdHocDarwinSignature });
}
