import { TooManyUploadsError } from '../shared/errors';
import type { UploadRepository } from '../ports';
import type { UploadProps } from '../upload/upload.types';
import type { UploadSettings } from './upload-settings';

/** Inserts a new upload within its owner's limit of unfinished uploads, or throws TooManyUploadsError. */
export async function insertUpload(repo: UploadRepository, upload: UploadProps, settings: UploadSettings): Promise<void> {
  const limit = settings.maxUnfinishedPerOwner;
  if (limit === undefined) {
    await repo.create(upload);
    return;
  }
  if ((await repo.create(upload, { maxUnfinishedPerOwner: limit })) === 'owner-limit') throw new TooManyUploadsError(limit);
}
