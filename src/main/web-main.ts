import { join } from 'node:path';
import { createStudio } from './services/studio';
import { startWebHost } from './web-host';
import { appRoot, studioHome } from './paths';
import { allowFolder, readAllowedFolders } from './path-consent';

/** `npm run web`: the studio for machines without a display, in any browser on this machine. */
async function main(): Promise<void> {
  const portArg = process.argv.indexOf('--port');
  const requested = Number(
    portArg >= 0 ? process.argv[portArg + 1] : (process.env.LATENT_STUDIO_PORT ?? 5178),
  );
  if (!Number.isInteger(requested) || requested < 0 || requested > 65535) {
    throw new Error('--port must be a whole number between 0 and 65535 (0 picks a free port)');
  }
  const studio = createStudio({ home: studioHome() });
  // Folders API calls may name paths under (model folders, outputs, test sets, LoRAs); kept.
  process.argv.forEach((arg, i) => {
    if (arg === '--allow-folder' && process.argv[i + 1])
      allowFolder(studio.home, process.argv[i + 1]);
  });
  const rendererDir = join(appRoot(), 'out', 'renderer');
  const host = await startWebHost({ studio, rendererDir, port: requested }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') throw error;
      console.error(`port ${requested} is busy; using a free port instead`);
      return startWebHost({ studio, rendererDir, port: 0 });
    },
  );
  console.log(`Latent Studio is running at ${host.url}`);
  console.log(`(data in ${studio.home}; Ctrl+C stops it)`);
  const folders = readAllowedFolders(studio.home);
  console.log(
    folders.length
      ? `Paths allowed under: ${folders.join(', ')}`
      : 'No folder allowed for paths yet: add one with --allow-folder DIR',
  );
  const stop = async (): Promise<void> => {
    await host.close();
    await studio.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
