/** Upload states, in the order an upload moves through them (aborted and expired end early). */
export type UploadState = 'pending' | 'receiving' | 'finalizing' | 'completed' | 'failed' | 'aborted' | 'expired';

/** An upload as the API shows it (`GET /v1/uploads/:id`). Sizes are bytes. */
export interface UploadView {
  id: string;
  filename: string;
  size: number | null;
  contentType: string;
  chunkSize: number;
  chunkCount: number | null;
  state: UploadState;
  protocol: 'native' | 'form' | 'tus';
  bytesReceived: number;
  bytesStored: number;
  chunksStored: number;
  /** Indices not yet received (or rejected): what a resumed upload sends. */
  missing: number[];
  declaredSha256?: string;
  /** The whole file's SHA-256, once completed. */
  sha256?: string;
  metadata: Record<string, string>;
  seq: number;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  completedAt?: string;
}

export interface CreateUploadInput {
  filename: string;
  size: number;
  contentType?: string;
  chunkSize?: number;
  sha256?: string;
  metadata?: Record<string, string>;
}

export interface ListQuery {
  state?: UploadState;
  limit?: number;
  cursor?: string;
}

export interface ListPage {
  items: UploadView[];
  nextCursor: string | null;
}

/** A progress event from the notifier; every one carries `uploadId` and an increasing `seq`. */
export interface UploadEvent {
  type: 'chunk.stored' | 'chunk.rejected' | 'upload.progress' | 'upload.completed' | 'upload.failed' | 'upload.aborted' | 'upload.expired';
  uploadId: string;
  seq: number;
  index?: number;
  size?: number;
  sha256?: string;
  reason?: string;
  chunksStored?: number;
  chunkCount?: number;
  bytesStored?: number;
  percent?: number;
}
