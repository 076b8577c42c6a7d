import { UploadExpiredError, UploadNotCompletedError, UploadNotReceivingError } from '../shared/errors';
import { chunkCountFor } from './chunk-math';
import type { UploadProps, UploadState } from './upload.types';

/** States from which each state may be entered. Anything else is a bug or a race lost. */
const ALLOWED_FROM: Record<UploadState, readonly UploadState[]> = {
  pending: [],
  receiving: ['pending'],
  finalizing: ['pending', 'receiving'],
  completed: ['finalizing'],
  failed: ['finalizing'],
  aborted: ['pending', 'receiving', 'finalizing', 'completed', 'failed'],
  expired: ['pending', 'receiving'],
};

export function canTransition(from: UploadState, to: UploadState): boolean {
  return ALLOWED_FROM[to].includes(from);
}

/** States in which chunks are accepted. */
export const RECEIVING_STATES: readonly UploadState[] = ['pending', 'receiving'];

/** States in which an upload is gone for its owner: it answers 404 everywhere. */
export const HIDDEN_STATES: readonly UploadState[] = ['aborted'];

export function isVisibleTo(upload: UploadProps, ownerId: string): boolean {
  return upload.ownerId === ownerId && !HIDDEN_STATES.includes(upload.state);
}

/** Throws unless the upload takes chunks at `now`: past its `expiresAt` it does not, swept yet or not. */
export function assertReceiving(upload: UploadProps, now: Date): void {
  if (upload.state === 'expired' || (RECEIVING_STATES.includes(upload.state) && upload.expiresAt.getTime() <= now.getTime())) {
    throw new UploadExpiredError(upload.expiresAt);
  }
  if (!RECEIVING_STATES.includes(upload.state)) throw new UploadNotReceivingError(upload.state);
}

export function assertCompleted(upload: UploadProps): void {
  if (upload.state !== 'completed') throw new UploadNotCompletedError(upload.state);
}

export interface NewUpload {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  size: number | null;
  chunkSize: number;
  declaredSha256: string | null;
  metadata: Record<string, string>;
  protocol: UploadProps['protocol'];
  now: Date;
  ttlMs: number;
}

/** A fresh upload in `pending`, its chunk count fixed when its size is known. */
export function newUpload(input: NewUpload): UploadProps {
  return {
    id: input.id,
    ownerId: input.ownerId,
    filename: input.filename,
    contentType: input.contentType,
    size: input.size,
    chunkSize: input.chunkSize,
    chunkCount: input.size === null ? null : chunkCountFor(input.size, input.chunkSize),
    state: 'pending',
    bytesReceived: 0,
    bytesStored: 0,
    chunksStored: 0,
    declaredSha256: input.declaredSha256,
    sha256: null,
    metadata: input.metadata,
    protocol: input.protocol,
    seq: 0,
    createdAt: input.now,
    updatedAt: input.now,
    expiresAt: new Date(input.now.getTime() + input.ttlMs),
    completedAt: null,
  };
}
