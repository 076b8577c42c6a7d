import { progressPercent } from '../upload/chunk-math';
import type { UploadProps } from '../upload/upload.types';
import type { UploadEvent, UploadEventOf } from './upload-event';

/** `upload.progress` for the upload as it is now. */
export function progressEvent(upload: UploadProps, seq = upload.seq): UploadEventOf<'upload.progress'> {
  return {
    type: 'upload.progress',
    uploadId: upload.id,
    seq,
    chunksStored: upload.chunksStored,
    chunkCount: upload.chunkCount,
    bytesStored: upload.bytesStored,
    size: upload.size,
    percent: progressPercent(upload.bytesStored, upload.size, upload.chunksStored, upload.chunkCount),
  };
}

/** The event that announces an upload's terminal state, if it has one. */
export function terminalEvent(upload: UploadProps): UploadEvent | null {
  const base = { uploadId: upload.id, seq: upload.seq };
  switch (upload.state) {
    case 'completed':
      return { type: 'upload.completed', ...base, sha256: upload.sha256 ?? '', size: upload.size ?? 0 };
    case 'failed':
      return { type: 'upload.failed', ...base, reason: 'sha256-mismatch' };
    case 'aborted':
      return { type: 'upload.aborted', ...base };
    case 'expired':
      return { type: 'upload.expired', ...base };
    default:
      return null;
  }
}
