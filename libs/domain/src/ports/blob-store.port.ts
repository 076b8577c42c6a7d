import type { Readable } from 'node:stream';

/** Where one attempt of one chunk is staged until the worker commits it. */
export interface StagingKey {
  uploadId: string;
  index: number;
  token: string;
}

export interface StageOptions {
  /** Exact number of bytes expected; fewer or more make `stage` reject and keep nothing. */
  expectedBytes?: number;
  /** Upper bound when the length is not known in advance; more makes `stage` reject. */
  maxBytes?: number;
  signal?: AbortSignal;
  /** Gives up with a BodyTimeoutError (keeping nothing) when no byte arrives for this long, ms. */
  idleTimeoutMs?: number;
}

export interface StagedBytes {
  bytes: number;
  sha256: string;
}

/** The bytes of one chunk that arrive over several requests (tus), before they are staged. */
export interface PartialKey {
  uploadId: string;
  index: number;
}

/** A partial chunk open for appending. Writes are not durable until `sync` resolves. */
export interface PartialChunk {
  /** Bytes it holds so far. */
  readonly length: number;
  /** Appends, resolving when the store took the bytes (back-pressure). */
  write(data: Buffer): Promise<void>;
  /** Makes every byte written so far survive a crash. */
  sync(): Promise<void>;
  /**
   * Durably stages what it holds (call `sync` first) as the attempt `key`, leaving the
   * partial in place until `deletePartial`, and answers its size and SHA-256.
   */
  stageAs(key: StagingKey): Promise<StagedBytes>;
  /** Releases the handle; what was written stays. */
  close(): Promise<void>;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/**
 * Staging area for incoming chunk bytes, and content-addressed blobs
 * (`blobs/sha256/<aa>/<bb>/<hash>`) for committed ones.
 */
export interface BlobStore {
  /**
   * Streams `source` into the staging area and makes it durable (fsync'd or acknowledged)
   * before resolving, with the SHA-256 (hex) of what it wrote, hashed on the way through so
   * the bytes are never read back. On any failure, including a length mismatch, nothing is
   * left behind.
   */
  stage(key: StagingKey, source: Readable, options: StageOptions): Promise<StagedBytes>;

  /** The staged bytes, or null if they are gone. */
  readStaged(key: StagingKey): Promise<Readable | null>;

  /** How many bytes are staged under `key`, or null if nothing is. */
  stagedSize(key: StagingKey): Promise<number | null>;

  /**
   * Makes the staged bytes the blob `sha256`. Writes nothing if that blob already exists.
   * Leaves the staged copy in place (call `deleteStaged` once the commit is recorded).
   */
  commitStaged(key: StagingKey, sha256: string): Promise<void>;

  /** Deletes one staged attempt; a missing one is not an error. */
  deleteStaged(key: StagingKey): Promise<void>;

  /**
   * Opens chunk `key`'s partial file, cut back to its first `length` bytes (anything after
   * them was never recorded as durable). Creates it when `length` is 0. Null when it holds
   * fewer than `length` bytes: they were lost.
   */
  openPartial(key: PartialKey, length: number): Promise<PartialChunk | null>;

  /** Deletes a partial file; a missing one is not an error. */
  deletePartial(key: PartialKey): Promise<void>;

  /** Deletes everything staged for an upload. */
  deleteStagingOf(uploadId: string): Promise<void>;

  /** Ids of the uploads that have a staging folder (it may be empty). */
  stagingUploadIds(): Promise<string[]>;

  /** Every blob whose bytes were last changed before `cutoff` (a blob just committed is left out). */
  blobsChangedBefore(cutoff: Date): AsyncIterable<string>;

  /** Reads a blob, or a byte range of it. */
  readBlob(sha256: string, range?: ByteRange): Promise<Readable>;

  /** Deletes a blob; a missing one is not an error. */
  deleteBlob(sha256: string): Promise<void>;

  /** Throws when the store cannot be reached or written. */
  ping(): Promise<void>;
}
