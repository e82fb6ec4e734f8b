import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FuseState, FuseV1Options, getCurrentFuseWire } from '@electron/fuses';
import { STUDIO_FUSES } from '../../scripts/electron-fuses.mjs';
import afterPack from '../../scripts/after-pack.mjs';
import { tempHome } from '../helpers/temp-home';

/**
 * The packaged app's Electron fuses: the configuration says what each must be, electron-builder
 * runs the afterPack hook, and the hook flips them in the binary. The binary here is a stand-in
 * (the real Electron cannot be downloaded on these machines) carrying an Electron 45 fuse wire,
 * every fuse at Electron's default.
 */
const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
// Electron's defaults: RunAsNode on, cookie encryption off, NODE_OPTIONS on, --inspect on,
// asar integrity off, only-from-asar off, browser snapshot off, file:// privileges on, wasm traps on.
const ELECTRON_DEFAULT_WIRE = '101100011';

function fakeElectron(path: string): void {
  const wire = Buffer.concat([
    Buffer.from(SENTINEL),
    Buffer.from([1, ELECTRON_DEFAULT_WIRE.length]),
    Buffer.from(ELECTRON_DEFAULT_WIRE),
  ]);
  writeFileSync(path, Buffer.concat([Buffer.alloc(4096, 7), wire, Buffer.alloc(4096, 9)]));
}

const REQUIRED: [FuseV1Options, boolean, string][] = [
  [FuseV1Options.RunAsNode, false, 'RunAsNode off'],
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable, false, 'NODE_OPTIONS off'],
  [FuseV1Options.EnableNodeCliInspectArguments, false, '--inspect off'],
  [FuseV1Options.EnableCookieEncryption, true, 'cookie encryption on'],
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation, true, 'asar integrity on'],
  [FuseV1Options.OnlyLoadAppFromAsar, true, 'only load app from asar'],
];

describe('packaging: Electron fuses', () => {
  it('electron-builder runs the fuse hook on an asar-packed app', () => {
    const yml = readFileSync('electron-builder.yml', 'utf8');
    expect(yml).toMatch(/^afterPack: scripts\/after-pack\.mjs$/m);
    expect(yml).toMatch(/^asar: true$/m);
  });

  it('the configuration sets every fuse the issue asks for, and all fuses explicitly', () => {
    const config = STUDIO_FUSES as unknown as Record<number, boolean>;
    for (const [fuse, wanted, what] of REQUIRED) expect(config[fuse], what).toBe(wanted);
    expect(STUDIO_FUSES.strictlyRequireAllFuses).toBe(true);
    const fuses = Object.values(FuseV1Options).filter((v): v is number => typeof v === 'number');
    for (const fuse of fuses) expect(typeof config[fuse], FuseV1Options[fuse]).toBe('boolean');
  });

  it('the afterPack hook flips them in the packed binary', async () => {
    const home = tempHome();
    try {
      const binary = join(home.dir, 'latent-studio');
      fakeElectron(binary);
      const before = await getCurrentFuseWire(binary);
      expect(before[FuseV1Options.RunAsNode]).toBe(FuseState.ENABLE);
      await afterPack({
        appOutDir: home.dir,
        electronPlatformName: 'linux',
        arch: 1,
        packager: {
          appInfo: { productFilename: 'Latent Studio' },
          executableName: 'latent-studio',
        },
      });
      const after = (await getCurrentFuseWire(binary)) as unknown as Record<number, FuseState>;
      for (const [fuse, wanted, what] of REQUIRED) {
        expect(after[fuse], what).toBe(wanted ? FuseState.ENABLE : FuseState.DISABLE);
      }
    } finally {
      home.cleanup();
    }
  });
});
