import { isVisibleTo } from '../upload/upload.entity';
import { NotFoundError } from '../shared/errors';
import type { UploadRepository, UploadSnapshot } from '../ports/upload-repository.port';
import type { UploadProps } from '../upload/upload.types';

/** The owner's upload, or NotFoundError: a stranger learns nothing, not even that it exists. */
export async function findVisibleUpload(repo: UploadRepository, ownerId: string, id: string): Promise<UploadProps> {
  const upload = await repo.findById(id);
  if (!upload || !isVisibleTo(upload, ownerId)) throw new NotFoundError();
  return upload;
}

export async function findVisibleSnapshot(repo: UploadRepository, ownerId: string, id: string): Promise<UploadSnapshot> {
  const snapshot = await repo.findSnapshot(id);
  if (!snapshot || !isVisibleTo(snapshot.upload, ownerId)) throw new NotFoundError();
  return snapshot;
}
