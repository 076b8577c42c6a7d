import type { ListUploadsQuery, UploadView } from '../upload/upload.schemas';
import { toUploadView } from '../upload/upload.view';
import type { UploadRepository } from '../ports';
import { findVisibleSnapshot } from './visible-upload';

export class GetUpload {
  constructor(private readonly repo: UploadRepository) {}

  async execute(ownerId: string, uploadId: string): Promise<UploadView> {
    const { upload, missing } = await findVisibleSnapshot(this.repo, ownerId, uploadId);
    return toUploadView(upload, missing);
  }
}

export class ListUploads {
  constructor(private readonly repo: UploadRepository) {}

  async execute(ownerId: string, query: ListUploadsQuery): Promise<{ items: UploadView[]; nextCursor: string | null }> {
    const page = await this.repo.list({ ownerId, limit: query.limit, ...(query.state ? { state: query.state } : {}), ...(query.cursor ? { cursor: query.cursor } : {}) });
    return { items: page.items.map((s) => toUploadView(s.upload, s.missing)), nextCursor: page.nextCursor };
  }
}
