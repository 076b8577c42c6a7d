// Node-only helpers of @tessera/client: files and streams as sources, downloads to disk.
import { createHash } from 'node:crypto';
import { link, open, rename, rm, stat } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { TesseraClient } from './client';
import { TesseraError } from './errors';
import type { ChunkSource } from './sources';

/** A file on disk, read range by range (never whole). */
export async function fileSource(path: string, options: { type?: string } = {}): Promise<ChunkSource> {
  const { size } = await stat(path);
  return {
    size,
    name: basename(path),
    ...(options.type ? { type: options.type } : {}),
    async read(start, end) {
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(end - start);
        let filled = 0;
        while (filled < buffer.length) {
          const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled);
          if (bytesRead === 0) throw new TesseraError('source-changed', 0, `${path} is shorter than when the upload started`);
          filled += bytesRead;
        }
        return buffer;
      } finally {
        await handle.close();
      }
    },
  };
}

/**
 * A stream of known length, read once in order: each chunk is held in memory until it is
 * sent, so chunks must be asked for in order (use `parallel: 1`).
 */
export function streamSource(stream: Readable, size: number, name?: string): ChunkSource {
  const iterator = stream[Symbol.asyncIterator]();
  let pending = Buffer.alloc(0);
  let position = 0;
  const cache = new Map<number, Buffer>();
  return {
    size,
    ...(name ? { name } : {}),
    async read(start, end) {
      const cached = cache.get(start);
      if (cached) return cached;
      if (start !== position) throw new TesseraError('client-error', 0, 'a stream source is read in order: upload it with parallel: 1');
      while (pending.length < end - start) {
        const next = await iterator.next();
        if (next.done) break;
        pending = Buffer.concat([pending, next.value as Buffer]);
      }
      const piece = pending.subarray(0, end - start);
      pending = pending.subarray(end - start);
      position = end;
      // A retry of the last chunk reads it again; older ones are never asked for.
      cache.clear();
      cache.set(start, piece);
      return piece;
    },
  };
}

/**
 * Streams a completed upload to `path` and checks its SHA-256 on the way. Written to a
 * temporary name first: `path` appears only once the bytes are verified.
 */
export async function downloadToFile(
  client: TesseraClient,
  id: string,
  path: string,
  options: { overwrite?: boolean } = {},
): Promise<{ sha256: string; size: number }> {
  if (!options.overwrite && (await exists(path))) throw new TesseraError('file-exists', 0, `${path} already exists; choose another name or allow overwriting`);
  const { body, upload } = await client.download(id);
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(piece: Buffer, _encoding, callback) {
      hash.update(piece);
      size += piece.length;
      callback(null, piece);
    },
  });
  const temporary = `${path}.tessera-partial`;
  try {
    await pipeline(Readable.fromWeb(body as WebReadableStream<Uint8Array>), meter, createWriteStream(temporary, { flags: 'wx' }));
    const sha256 = hash.digest('hex');
    if (sha256 !== upload.sha256) throw new TesseraError('sha256-mismatch', 0, `downloaded bytes hash to ${sha256}, the upload's SHA-256 is ${upload.sha256}; the file was not kept`);
    if (options.overwrite) await rename(temporary, path);
    else {
      // link() never replaces a name: a file that appeared meanwhile is kept.
      await link(temporary, path).catch((error: NodeJS.ErrnoException) => {
        throw error.code === 'EEXIST' ? new TesseraError('file-exists', 0, `${path} already exists; choose another name or allow overwriting`) : error;
      });
      await rm(temporary, { force: true });
    }
    return { sha256, size };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}
