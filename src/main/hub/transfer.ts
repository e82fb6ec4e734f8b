import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { StudioError } from '../../shared/errors';
import type { PipelineFile } from './pipeline-files';

/**
 * One file from the Hub into `blobs/<etag>`, the way a person can trust:
 * - bytes go to `<blob>.incomplete`; a partial file from a cancel, a crash or a dropped connection is
 *   resumed with an HTTP Range request from its current length (its bytes are hashed first, streamed);
 * - the content is hashed while it streams (never a synchronous pass over a GB file) and must match
 *   the Hub's LFS sha256 (or git's blob sha1 for small files) before it is renamed into place; a
 *   mismatch throws the bytes away and fetches the file once more, then gives up saying so;
 * - a dropped connection is retried a few times, each time from where it stopped.
 */

export interface TransferOptions {
  /** Opens the file's content from `offset` (a Range request). Returns the stream and the file's size. */
  open: (offset: number) => Promise<{ stream: ReadableStream<Uint8Array>; size: number }>;
  onBytes: (n: number) => void;
  /** Called when bytes already counted are thrown away (a corrupt file, a server that ignored Range). */
  onDiscard: (n: number) => void;
  signal?: AbortSignal;
  retries?: number;
  retryDelayMs?: number;
}

async function sizeOf(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.size,
    () => undefined,
  );
}

function newHash(file: PipelineFile): Hash {
  if (file.check === 'sha256') return createHash('sha256');
  // git's blob id: sha1("blob <size>\0" + content)
  return createHash('sha1').update(`blob ${file.size}\0`);
}

async function hashExisting(path: string, hash: Hash, signal?: AbortSignal): Promise<void> {
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
}

class Overrun extends Error {}

/** Downloads and verifies one file into `blobPath`. Returns the bytes fetched over the network. */
export async function transferFile(
  file: PipelineFile,
  blobPath: string,
  options: TransferOptions,
): Promise<number> {
  const incomplete = `${blobPath}.incomplete`;
  await mkdir(dirname(blobPath), { recursive: true });
  const retries = options.retries ?? 4;
  const delay = options.retryDelayMs ?? 500;
  let failures = 0;
  let refetched = false;
  let fetched = 0;
  for (;;) {
    let offset = (await sizeOf(incomplete)) ?? 0;
    if (offset > file.size) {
      await rm(incomplete, { force: true });
      options.onDiscard(offset);
      offset = 0;
    }
    const hash = newHash(file);
    if (offset > 0) await hashExisting(incomplete, hash, options.signal);
    if (offset < file.size) {
      let written = 0;
      try {
        const { stream, size } = await options.open(offset);
        if (size !== file.size) {
          throw new StudioError(
            `${file.path}: the Hub serves ${size} bytes but listed ${file.size}; try again later`,
            'unavailable',
          );
        }
        const tap = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            written += chunk.length;
            if (offset + written > file.size) {
              done(
                new Overrun('more bytes than the file has (the server ignored the Range request)'),
              );
              return;
            }
            hash.update(chunk);
            options.onBytes(chunk.length);
            done(null, chunk);
          },
        });
        await pipeline(
          Readable.fromWeb(stream as WebReadableStream<Uint8Array>),
          tap,
          createWriteStream(incomplete, { flags: 'a' }),
          { signal: options.signal },
        );
        fetched += written;
      } catch (error) {
        fetched += written;
        if (options.signal?.aborted) {
          throw new StudioError(
            `${file.path}: cancelled; the partial file is kept for resuming`,
            'cancelled',
          );
        }
        if (error instanceof StudioError) throw error;
        if (error instanceof Overrun) {
          options.onDiscard(offset + written);
          await rm(incomplete, { force: true });
        }
        failures += 1;
        if (failures > retries) {
          const reason = error instanceof Error ? error.message : String(error);
          throw new StudioError(
            `${file.path}: the connection failed ${failures} times (${reason}); run the download again to resume from ${(await sizeOf(incomplete)) ?? 0} bytes`,
            'unavailable',
          );
        }
        await sleep(delay * 2 ** (failures - 1), undefined, { signal: options.signal }).catch(
          () => {},
        );
        continue;
      }
      const now = (await sizeOf(incomplete)) ?? 0;
      if (now < file.size) {
        // The body ended early without an error: resume from where it stopped.
        failures += 1;
        if (failures > retries) {
          throw new StudioError(
            `${file.path}: the Hub kept ending the file early (${now} of ${file.size} bytes); run the download again to resume`,
            'unavailable',
          );
        }
        continue;
      }
    }
    const digest = hash.digest('hex');
    if (digest === file.etag) {
      await rename(incomplete, blobPath);
      return fetched;
    }
    await rm(incomplete, { force: true });
    options.onDiscard(file.size);
    if (refetched) {
      throw new StudioError(
        `${file.path}: content does not match the Hub's ${file.check === 'sha256' ? 'LFS sha256' : 'git hash'} (expected ${file.etag}, got ${digest}) twice; the bytes were thrown away and nothing was registered`,
        'failed',
      );
    }
    refetched = true;
  }
}
