import type { UploadView } from './upload.schemas';
import type { UploadProps } from './upload.types';

/** The public shape of an upload; `missing` comes from its chunk rows. */
export function toUploadView(upload: UploadProps, missing: number[]): UploadView {
  return {
    id: upload.id,
    filename: upload.filename,
    size: upload.size,
    contentType: upload.contentType,
    chunkSize: upload.chunkSize,
    chunkCount: upload.chunkCount,
    state: upload.state,
    protocol: upload.protocol,
    bytesReceived: upload.bytesReceived,
    bytesStored: upload.bytesStored,
    chunksStored: upload.chunksStored,
    missing,
    ...(upload.declaredSha256 ? { declaredSha256: upload.declaredSha256 } : {}),
    ...(upload.sha256 ? { sha256: upload.sha256 } : {}),
    metadata: upload.metadata,
    seq: upload.seq,
    createdAt: upload.createdAt.toISOString(),
    updatedAt: upload.updatedAt.toISOString(),
    expiresAt: upload.expiresAt.toISOString(),
    ...(upload.completedAt ? { completedAt: upload.completedAt.toISOString() } : {}),
  };
}
