/** Limits and defaults the use cases apply; each service fills them from its configuration. */
export interface UploadSettings {
  /** Largest accepted upload, bytes. */
  maxUploadBytes: number;
  /** Chunk size when the client names none, bytes. */
  defaultChunkSize: number;
  /** How long an unfinished upload lives, ms. */
  uploadTtlMs: number;
  /** How long a chunk claim of a silent request is honoured, ms. */
  chunkClaimLeaseMs: number;
  /** A chunk body that sends nothing for this long is given up, ms (no limit when absent). */
  bodyIdleTimeoutMs?: number;
  /** Unfinished uploads one owner may have at once (no limit when absent). */
  maxUnfinishedPerOwner?: number;
}
