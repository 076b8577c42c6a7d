import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore, ByteRange, PartialChunk, PartialKey, StageOptions, StagedBytes, StagingKey } from '@tessera/domain';
import { copyWithLimits } from '../fs/limited-copy';
import { createS3Client, isMissingObject, S3Bucket, type S3ConnectionOptions } from './s3-bucket';
import { S3Keys } from './s3-keys';
import { S3PartialChunk } from './s3-partial-chunk';
import { BufferedUploadSink, StreamingPutSink, type UploadSink } from './upload-sinks';

const MiB = 1024 * 1024;

export interface S3BlobStoreOptions extends S3ConnectionOptions {
  /** Prepended to every key (`tessera/` → `tessera/staging/…`); a missing trailing `/` is added. */
  prefix?: string;
  /**
   * Memory bound of a stage whose length is not known in advance (one-shot form uploads):
   * a longer body goes up as a multipart upload of parts this big. Default 5 MiB, the
   * smallest part S3 accepts.
   */
  partBytes?: number;
  /**
   * Most bytes an open partial chunk (tus) holds before it writes them out as a segment.
   * Default 8 MiB (the default chunk size: a chunk filled by one request is one segment).
   */
  segmentBytes?: number;
  /** Bodies of a known length up to this are buffered (and so retried by the SDK); longer ones stream. Default 1 MiB. */
  smallBodyBytes?: number;
  /** How long `ping` waits, ms (default 5000). */
  pingTimeoutMs?: number;
  /** A client to use instead of one built from the connection options (tests). */
  client?: S3Client;
}

/**
 * BlobStore on any S3-compatible object store (AWS S3, MinIO, R2, s3rver). Keys:
 * `<prefix>staging/<uploadId>/<index>-<token>` for staged attempts,
 * `<prefix>staging/<uploadId>/<index>.partial/<offset>` for the segments of a partial chunk,
 * and `<prefix>blobs/sha256/<aa>/<bb>/<hash>` for committed content. Bytes are streamed
 * through: a stage holds at most one part (or nothing, when its length is known), an open
 * partial at most one segment. A commit is a server-side copy, skipped when the blob exists.
 */
export class S3BlobStore implements BlobStore {
  readonly keys: S3Keys;
  readonly bucket: S3Bucket;
  private readonly partBytes: number;
  private readonly segmentBytes: number;
  private readonly smallBodyBytes: number;
  private readonly pingTimeoutMs: number;

  constructor(options: S3BlobStoreOptions) {
    if (!options.bucket) throw new TypeError('S3BlobStore needs a bucket name.');
    this.keys = new S3Keys(options.prefix ?? '');
    this.bucket = new S3Bucket(options.client ?? createS3Client(options), options.bucket, options.operationTimeoutMs ?? 60_000);
    this.partBytes = positive(options.partBytes ?? 5 * MiB, 'partBytes');
    this.segmentBytes = positive(options.segmentBytes ?? 8 * MiB, 'segmentBytes');
    this.smallBodyBytes = options.smallBodyBytes ?? MiB;
    // Below the 2 s the readiness checks wait, so a probe's ping never outlives the probe.
    this.pingTimeoutMs = options.pingTimeoutMs ?? 1500;
  }

  /**
   * Streams the body into the staged object, counting and hashing it on the way. A known
   * length is one streamed PutObject (the store acknowledges the object only once it holds
   * every byte); an unknown one is buffered a part at a time. Any failure aborts the request
   * and deletes whatever the store may have kept.
   */
  async stage(key: StagingKey, source: Readable, options: StageOptions): Promise<StagedBytes> {
    const target = this.keys.staged(key);
    // Until the copy watches it, a failing source must not crash the process for want of a listener.
    const ignore = (): void => {};
    source.on('error', ignore);
    const streamed = options.expectedBytes !== undefined && options.expectedBytes > this.smallBodyBytes;
    const sink: UploadSink = streamed
      ? new StreamingPutSink(this.bucket, target, options.expectedBytes!)
      : new BufferedUploadSink(this.bucket, target, Math.min(this.partBytes, Math.max(1, options.expectedBytes ?? options.maxBytes ?? this.partBytes)));
    try {
      return await copyWithLimits(source, sink, options);
    } catch (error) {
      if (!sink.destroyed) sink.destroy(error as Error);
      // A request still running could otherwise create the object after the delete.
      await sink.settled();
      await this.bucket.delete(target).catch(() => undefined);
      throw error;
    } finally {
      source.off('error', ignore);
    }
  }

  async readStaged(key: StagingKey): Promise<Readable | null> {
    return (await this.bucket.get(this.keys.staged(key)))?.body ?? null;
  }

  async stagedSize(key: StagingKey): Promise<number | null> {
    return this.bucket.size(this.keys.staged(key));
  }

  /**
   * A server-side CopyObject of the staged object, after a HeadObject: content already stored
   * is never copied again. Two commits of the same content at once both copy the same bytes,
   * which is harmless.
   */
  async commitStaged(key: StagingKey, sha256: string): Promise<void> {
    const staged = this.keys.staged(key);
    const blob = this.keys.blob(sha256);
    if (await this.bucket.exists(blob)) return;
    try {
      await this.bucket.copy(staged, blob);
    } catch (error) {
      if (!isMissingObject(error)) throw error;
      if (await this.bucket.exists(blob)) return;
      throw new Error(`Cannot commit chunk ${key.index} of upload ${key.uploadId} as blob ${sha256}: its staged object is gone. Stage the chunk again.`, { cause: error });
    }
  }

  async deleteStaged(key: StagingKey): Promise<void> {
    await this.bucket.delete(this.keys.staged(key));
  }

  /** Segments `<prefix>staging/<uploadId>/<index>.partial/<offset>`, beside the upload's staged attempts. */
  async openPartial(key: PartialKey, length: number): Promise<PartialChunk | null> {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`Partial length ${length} is not a non-negative integer.`);
    return S3PartialChunk.open(this.bucket, this.keys, key, length, this.segmentBytes);
  }

  async deletePartial(key: PartialKey): Promise<void> {
    await this.bucket.deleteAll(await this.bucket.keysUnder(this.keys.partialOf(key)));
  }

  /** Lists and deletes until nothing is left: a chunk still being staged may add an object meanwhile. */
  async deleteStagingOf(uploadId: string): Promise<void> {
    const prefix = this.keys.stagingOf(uploadId);
    for (let pass = 0; pass < 3; pass++) {
      const keys = await this.bucket.keysUnder(prefix);
      if (keys.length === 0) return;
      await this.bucket.deleteAll(keys);
    }
  }

  async stagingUploadIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of this.bucket.list(this.keys.stagingRoot, '/')) {
      for (const common of page.CommonPrefixes ?? []) {
        const id = common.Prefix === undefined ? null : this.keys.stagingUploadId(common.Prefix);
        if (id) ids.push(id);
      }
    }
    return ids.sort();
  }

  /** One listing page (1000 keys) at a time; LastModified is when the blob's object was written (its copy). */
  async *blobsChangedBefore(cutoff: Date): AsyncIterable<string> {
    for await (const page of this.bucket.list(this.keys.blobRoot)) {
      for (const object of page.Contents ?? []) {
        const sha256 = object.Key === undefined ? null : this.keys.blobSha256(object.Key);
        if (sha256 && object.LastModified && object.LastModified.getTime() < cutoff.getTime()) yield sha256;
      }
    }
  }

  /** GetObject, with a `Range` header for a range: only the bytes asked for leave the store. */
  async readBlob(sha256: string, range?: ByteRange): Promise<Readable> {
    const key = this.keys.blob(sha256);
    if (range) checkRange(range);
    const object = await this.bucket.get(key, range);
    if (!object) throw new Error(`Blob ${sha256} is missing from bucket ${this.bucket.name}.`);
    return object.body;
  }

  async deleteBlob(sha256: string): Promise<void> {
    await this.bucket.delete(this.keys.blob(sha256));
  }

  /** HeadBucket, bounded in time: the store is reachable, the bucket exists and the credentials may use it. */
  async ping(): Promise<void> {
    await this.bucket.ping(this.pingTimeoutMs);
  }

  /** Closes the client's connections. */
  close(): void {
    this.bucket.client.destroy();
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`S3BlobStore option ${name} must be a positive integer, not ${value}.`);
  return value;
}

function checkRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`Byte range ${start}-${end} is invalid: expected integers with 0 <= start <= end.`);
  }
}
