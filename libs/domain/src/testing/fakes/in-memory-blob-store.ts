import { createHash } from 'node:crypto';
import { Readable, Writable, finished } from 'node:stream';
import { BodyTimeoutError, ChunkIncompleteError } from '../../shared/errors';
import { isUuid } from '../../shared/ids';
import type { BlobStore, ByteRange, Clock, PartialChunk, PartialKey, StageOptions, StagedBytes, StagingKey } from '../../ports';

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;

function partialName(key: PartialKey): string {
  return stagingName({ ...key, token: 'partial' }).replace(/-partial$/, '.partial');
}

function stagingName(key: StagingKey): string {
  if (!isUuid(key.uploadId)) throw new TypeError('Staging key refused: uploadId is not a UUID.');
  if (!Number.isSafeInteger(key.index) || key.index < 0) throw new TypeError('Staging key refused: index is not a non-negative integer.');
  if (!TOKEN.test(key.token)) throw new TypeError('Staging key refused: token must be 1..64 characters of [A-Za-z0-9_-].');
  return `${key.uploadId}/${key.index}-${key.token}`;
}

function checkSha256(sha256: string): string {
  if (!SHA256.test(sha256)) throw new TypeError('Blob name refused: sha256 must be 64 lowercase hex digits.');
  return sha256;
}

/**
 * Reads `source` to the end under the limits of `options`. Like the real stores, it never
 * destroys `source` (the caller may still have to answer the request it belongs to).
 */
function collect(source: Readable, options: StageOptions): Promise<Buffer> {
  const { expectedBytes, maxBytes, signal, idleTimeoutMs } = options;
  const limit = Math.min(expectedBytes ?? Infinity, maxBytes ?? Infinity);
  const pieces: Buffer[] = [];
  let bytes = 0;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (idleTimeoutMs === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(() => sink.destroy(new BodyTimeoutError(idleTimeoutMs)), idleTimeoutMs);
  };
  const sink = new Writable({
    write(piece: Buffer, _encoding, done) {
      armIdle();
      bytes += piece.length;
      if (bytes > limit) return done(new ChunkIncompleteError(`The chunk is longer than ${limit} bytes.`));
      pieces.push(piece);
      done();
    },
    final(done) {
      if (expectedBytes !== undefined && bytes < expectedBytes) {
        return done(new ChunkIncompleteError(`The chunk ended after ${bytes} of ${expectedBytes} bytes.`));
      }
      done();
    },
  });
  return new Promise((resolve, reject) => {
    const onAbort = () => sink.destroy(Object.assign(new Error('Staging was aborted.'), { name: 'AbortError', cause: signal?.reason }));
    const stopWatchingSource = finished(source, { writable: false }, (error) => error && sink.destroy(error));
    finished(sink, (error) => {
      clearTimeout(idle);
      stopWatchingSource();
      signal?.removeEventListener('abort', onAbort);
      source.unpipe(sink);
      if (error) reject(error);
      else resolve(Buffer.concat(pieces));
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    armIdle();
    source.pipe(sink);
  });
}

/**
 * A BlobStore held in memory, with the same observable semantics as the filesystem one:
 * for use-case unit tests and as the reference for the BlobStore contract suite.
 */
export class InMemoryBlobStore implements BlobStore {
  private readonly staged = new Map<string, Buffer>();
  private readonly partials = new Map<string, Buffer>();
  private readonly blobs = new Map<string, Buffer>();
  private readonly committedAt = new Map<string, Date>();

  /** `clock` dates commits, so a test can age blobs past the sweep's grace period. */
  constructor(private readonly clock: Clock = { now: () => new Date() }) {}

  async stage(key: StagingKey, source: Readable, options: StageOptions): Promise<StagedBytes> {
    const name = stagingName(key);
    const content = await collect(source, options);
    this.staged.set(name, content);
    return { bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') };
  }

  async readStaged(key: StagingKey): Promise<Readable | null> {
    const content = this.staged.get(stagingName(key));
    return content ? streamOf(content) : null;
  }

  async stagedSize(key: StagingKey): Promise<number | null> {
    return this.staged.get(stagingName(key))?.length ?? null;
  }

  async commitStaged(key: StagingKey, sha256: string): Promise<void> {
    const name = stagingName(key);
    if (this.blobs.has(checkSha256(sha256))) return;
    const content = this.staged.get(name);
    if (!content) throw new Error(`Cannot commit ${name} as blob ${sha256}: nothing is staged under that key.`);
    this.blobs.set(sha256, content);
    this.committedAt.set(sha256, this.clock.now());
  }

  async deleteStaged(key: StagingKey): Promise<void> {
    this.staged.delete(stagingName(key));
  }

  async openPartial(key: PartialKey, length: number): Promise<PartialChunk | null> {
    const name = partialName(key);
    const held = this.partials.get(name) ?? Buffer.alloc(0);
    if (held.length < length) return null;
    this.partials.set(name, held.subarray(0, length));
    const partials = this.partials;
    const staged = this.staged;
    return {
      get length() {
        return partials.get(name)?.length ?? 0;
      },
      async write(data: Buffer) {
        partials.set(name, Buffer.concat([partials.get(name) ?? Buffer.alloc(0), data]));
      },
      async sync() {},
      async stageAs(target: StagingKey) {
        const content = Buffer.from(partials.get(name) ?? Buffer.alloc(0));
        staged.set(stagingName(target), content);
        return { bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') };
      },
      async close() {},
    };
  }

  async deletePartial(key: PartialKey): Promise<void> {
    this.partials.delete(partialName(key));
  }

  async deleteStagingOf(uploadId: string): Promise<void> {
    if (!isUuid(uploadId)) throw new TypeError('Staging folder refused: uploadId is not a UUID.');
    for (const name of this.staged.keys()) if (name.startsWith(`${uploadId}/`)) this.staged.delete(name);
    for (const name of this.partials.keys()) if (name.startsWith(`${uploadId}/`)) this.partials.delete(name);
  }

  async readBlob(sha256: string, range?: ByteRange): Promise<Readable> {
    const content = this.blobs.get(checkSha256(sha256));
    if (!content) throw new Error(`Blob ${sha256} is missing from the blob store.`);
    if (!range) return streamOf(content);
    checkRange(range);
    return streamOf(content.subarray(range.start, range.end + 1));
  }

  async stagingUploadIds(): Promise<string[]> {
    return [...new Set([...this.staged.keys(), ...this.partials.keys()].map((name) => name.slice(0, name.indexOf('/'))))].sort();
  }

  async *blobsChangedBefore(cutoff: Date): AsyncIterable<string> {
    for (const [sha256, at] of [...this.committedAt]) if (at.getTime() < cutoff.getTime()) yield sha256;
  }

  async deleteBlob(sha256: string): Promise<void> {
    this.blobs.delete(checkSha256(sha256));
    this.committedAt.delete(sha256);
  }

  async ping(): Promise<void> {}

  /** Every staged attempt, as `<uploadId>/<index>-<token>`. */
  stagedKeys(): string[] {
    return [...this.staged.keys()].sort();
  }

  /** The hashes of every stored blob. */
  blobHashes(): string[] {
    return [...this.blobs.keys()].sort();
  }
}

function checkRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`Byte range ${start}-${end} is invalid: expected integers with 0 <= start <= end.`);
  }
}

function streamOf(content: Buffer): Readable {
  return Readable.from(content.length > 0 ? [content] : []);
}
