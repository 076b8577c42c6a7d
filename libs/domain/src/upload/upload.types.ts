export const UPLOAD_STATES = ['pending', 'receiving', 'finalizing', 'completed', 'failed', 'aborted', 'expired'] as const;
export type UploadState = (typeof UPLOAD_STATES)[number];

export const UPLOAD_PROTOCOLS = ['native', 'form', 'tus'] as const;
export type UploadProtocol = (typeof UPLOAD_PROTOCOLS)[number];

/** Lifecycle of one chunk row: claimed while its bytes stream in, then staged, then stored or rejected. */
export type ChunkState = 'receiving' | 'received' | 'stored' | 'rejected';

/** Everything persisted about an upload. Sizes are bytes; `size` is null while the length is deferred. */
export interface UploadProps {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  size: number | null;
  chunkSize: number;
  chunkCount: number | null;
  state: UploadState;
  bytesReceived: number;
  bytesStored: number;
  chunksStored: number;
  declaredSha256: string | null;
  sha256: string | null;
  metadata: Record<string, string>;
  protocol: UploadProtocol;
  /** Highest event sequence number issued for this upload. */
  seq: number;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
}

/** A stored chunk, as finalize and downloads read them (in index order). */
export interface StoredChunk {
  index: number;
  size: number;
  sha256: string;
}
