import type { UploadProps } from '../upload/upload.types';

/** How a tus upload takes part in concatenation. */
export type TusConcat = 'none' | 'partial' | 'final';

/** What tus needs to know of an upload beyond the upload itself. */
export interface TusRecord {
  uploadId: string;
  concat: TusConcat;
  /** A final upload's parts, in order (empty otherwise). */
  parts: string[];
  /** `Upload-Metadata` exactly as the client sent it, or null. */
  metadataHeader: string | null;
}

/**
 * Where an upload's durable bytes end: every chunk below `nextIndex` is received or stored,
 * and `partialBytes` bytes of chunk `nextIndex` are staged in its partial file.
 */
export interface TusProgress {
  nextIndex: number;
  partialBytes: number;
}

/**
 * Persistence of the tus side of uploads: the record made at creation, the one-writer lock
 * of each upload, the durable length of the chunk being filled, and concatenation.
 */
export interface TusRepository {
  /** Records a new tus upload (its upload row exists). */
  create(record: TusRecord): Promise<void>;

  /** The upload's tus record, or null for an upload made by another protocol. */
  find(uploadId: string): Promise<TusRecord | null>;

  /**
   * Where the durable bytes end. `nextIndex` is the first chunk that is neither received nor
   * stored, so a chunk that was promoted just before a crash, or one that was rejected, is
   * accounted for whatever the recorded partial says.
   */
  progress(uploadId: string): Promise<TusProgress>;

  /** Takes the upload's write lock for `token` unless another holder renewed it within `leaseMs`. */
  lock(input: { uploadId: string; token: string; now: Date; leaseMs: number }): Promise<boolean>;

  /** Extends the lock; false if `token` no longer holds it. */
  renew(input: { uploadId: string; token: string; now: Date }): Promise<boolean>;

  /** Records the durable length of chunk `index`'s partial file; false if `token` no longer holds the lock. */
  recordPartial(input: { uploadId: string; token: string; index: number; bytes: number }): Promise<boolean>;

  /** Releases the lock if `token` holds it. */
  unlock(input: { uploadId: string; token: string }): Promise<void>;

  /** Final uploads, not yet assembled, that list `partId` among their parts. */
  finalsAwaiting(partId: string): Promise<string[]>;

  /**
   * Assembles a final upload once every part is completed, in one transaction: its chunk
   * rows become the parts' chunks in order (referencing the same blobs, so no byte is
   * copied), its size and counters are set, and it moves to `finalizing`. Returns the upload
   * then, or null when a part is unfinished or the final is no longer pending.
   */
  assembleFinal(input: { uploadId: string; now: Date }): Promise<UploadProps | null>;
}
