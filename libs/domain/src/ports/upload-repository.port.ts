import type { ChunkState, UploadProps, UploadState, StoredChunk } from '../upload/upload.types';
import type { RejectionReason } from '../events/upload-event';

/** An upload with the indices the client still has to send (not received, or rejected). */
export interface UploadSnapshot {
  upload: UploadProps;
  missing: number[];
}

export interface ListQuery {
  ownerId: string;
  state?: UploadState;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface ListPage {
  items: UploadSnapshot[];
  nextCursor: string | null;
}

export interface ChunkClaim {
  uploadId: string;
  index: number;
  /** Identifies this attempt; only its holder may mark the chunk received or release it. */
  token: string;
  now: Date;
  /** A claim older than this (ms) is treated as abandoned by a crashed gateway. */
  leaseMs: number;
}

/**
 * `claimed`: the caller now owns the index. `taken`: it is received, stored or being
 * received by another request. `not-receiving`: the upload takes no more chunks.
 */
export type ClaimOutcome = 'claimed' | 'taken' | 'not-receiving';

export interface ChunkStoredInput {
  uploadId: string;
  index: number;
  size: number;
  sha256: string;
  now: Date;
}

/**
 * `stored`: this call stored the chunk (counters moved, `seq` advanced by 2: one for
 * `chunk.stored`, one for `upload.progress`). `duplicate`: it was already stored (a
 * redelivered job); nothing changed. `upload-closed`: the upload no longer takes chunks.
 */
export interface ChunkStoredOutcome {
  status: 'stored' | 'duplicate' | 'upload-closed';
  /** The upload after the call (null only if the upload row is gone). */
  upload: UploadProps | null;
}

export interface ChunkRejectedInput {
  uploadId: string;
  index: number;
  /** The staging token of the attempt being rejected; a newer attempt is left alone. */
  token: string;
  reason: RejectionReason;
  now: Date;
}

export interface FinishInput {
  uploadId: string;
  sha256: string;
  now: Date;
}

/**
 * Persistence of uploads, chunks and blob references. Every method is atomic, and every
 * mutation is idempotent or reports that it changed nothing, so jobs may be redelivered.
 * Methods that advance state return the upload with its new `seq`.
 */
export interface UploadRepository {
  /**
   * Inserts a new upload (its id is new). With `maxUnfinishedPerOwner`, inserts nothing and
   * answers `owner-limit` when the owner already has that many unfinished (pending,
   * receiving, finalizing) uploads; creates racing each other may overshoot it by their number.
   */
  create(upload: UploadProps, limits?: { maxUnfinishedPerOwner?: number }): Promise<'created' | 'owner-limit'>;

  /** The upload, or null. */
  findById(id: string): Promise<UploadProps | null>;

  /** One chunk's row, or null if the index was never claimed. */
  findChunk(uploadId: string, index: number): Promise<{ state: ChunkState; token: string | null } | null>;

  /** The upload and its missing indices, or null. Hidden (aborted) uploads are returned too. */
  findSnapshot(id: string): Promise<UploadSnapshot | null>;

  /** The owner's uploads, newest first, excluding aborted ones. */
  list(query: ListQuery): Promise<ListPage>;

  /**
   * Takes an index for one request: succeeds if the chunk has no row, was rejected, or
   * its claim is older than `leaseMs`. Leaves the upload row as it is: a claim whose
   * request then fails must have changed nothing a client can see.
   */
  claimChunk(claim: ChunkClaim): Promise<ClaimOutcome>;

  /**
   * The claim's bytes (`size` of them) are durably staged and queued: `receiving` →
   * `received`, `bytesReceived` += size, and a `pending` upload becomes `receiving`. False if
   * the claim was lost (the worker may already have stored the chunk, or the upload was closed).
   */
  markChunkReceived(input: { uploadId: string; index: number; token: string; size: number; now: Date }): Promise<boolean>;

  /** Drops a claim whose request failed, so the index can be sent again at once. */
  releaseChunkClaim(input: { uploadId: string; index: number; token: string }): Promise<void>;

  /**
   * Records a stored chunk and its blob reference in one transaction. `ensureBlob` runs
   * inside it after the blob's row is locked and must leave the blob's bytes in place:
   * this is what keeps a concurrent garbage collection from deleting a blob that is being
   * referenced again. When the last chunk is stored the upload moves to `finalizing`.
   */
  recordChunkStored(input: ChunkStoredInput, ensureBlob: () => Promise<void>): Promise<ChunkStoredOutcome>;

  /** Marks the attempt rejected (its index is missing again); `seq` += 1 when it changed anything. */
  recordChunkRejected(input: ChunkRejectedInput): Promise<{ rejected: boolean; upload: UploadProps | null }>;

  /**
   * Fixes the size of an upload created with a deferred length. When every chunk is
   * already stored the upload moves to `finalizing`.
   */
  setLength(input: { uploadId: string; size: number; now: Date }): Promise<UploadProps>;

  /** Stored chunks in index order. */
  listStoredChunks(uploadId: string): Promise<StoredChunk[]>;

  /** `finalizing` → `completed` with the computed digest; `changed` is false if it was not finalizing. */
  complete(input: FinishInput): Promise<{ changed: boolean; upload: UploadProps | null }>;

  /** `finalizing` → `failed` with the computed digest. */
  fail(input: FinishInput): Promise<{ changed: boolean; upload: UploadProps | null }>;

  /**
   * Marks the upload `aborted` (or `expired`), deletes its chunk rows and drops its blob
   * references. Rows of blobs whose count reaches zero are deleted, and `deleteBlob` is
   * called for each as the transaction's last step, while those rows are still locked.
   * Returns null when nothing changed.
   */
  close(
    input: { uploadId: string; state: 'aborted' | 'expired'; now: Date },
    deleteBlob: (sha256: string) => Promise<void>,
  ): Promise<UploadProps | null>;

  /**
   * Deletes an upload that is `pending` and has no chunk row (claimed or otherwise), as if it
   * had never been created: for a creation refused right after the insert. False, changing
   * nothing, for any other upload.
   */
  discard(uploadId: string): Promise<boolean>;

  /** Ids of unfinished (`pending` or `receiving`) uploads whose `expiresAt` is not after `now`, oldest first. */
  listExpired(input: { now: Date; limit: number }): Promise<string[]>;

  /**
   * Deletes a blob's bytes that no row accounts for (left by a crash between committing the
   * bytes and recording them): if the blob has no row, runs `deleteFile` while holding its
   * key, so a store of the same content that starts meanwhile waits and then writes the
   * bytes afresh. Returns false, deleting nothing, when the blob has a row.
   */
  deleteUnrecordedBlob(sha256: string, deleteFile: () => Promise<void>): Promise<boolean>;

  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
}
