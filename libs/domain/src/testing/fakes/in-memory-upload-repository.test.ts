import { randomUUID } from 'node:crypto';
import { describeUploadRepositoryContract } from '../contracts/upload-repository.contract';
import { newUpload } from '../../upload/upload.entity';
import { InMemoryUploadRepository } from './in-memory-upload-repository';

describeUploadRepositoryContract('InMemoryUploadRepository', async () => ({ repo: new InMemoryUploadRepository(), teardown: async () => {} }));

describe('InMemoryUploadRepository helpers', () => {
  it('reports blob reference counts', async () => {
    const repo = new InMemoryUploadRepository();
    const now = new Date('2026-01-01T00:00:00.000Z');
    const upload = newUpload({ id: randomUUID(), ownerId: 'o', filename: 'f', contentType: 'x/y', size: 8, chunkSize: 4, declaredSha256: null, metadata: {}, protocol: 'native', now, ttlMs: 1000 });
    await repo.create(upload);
    const sha256 = 'a'.repeat(64);
    await repo.recordChunkStored({ uploadId: upload.id, index: 0, size: 4, sha256, now }, async () => {});
    await repo.recordChunkStored({ uploadId: upload.id, index: 1, size: 4, sha256, now }, async () => {});
    expect(repo.blobRefCount(sha256)).toBe(2);
    await repo.close({ uploadId: upload.id, state: 'aborted', now }, async () => {});
    expect(repo.blobRefCount(sha256)).toBe(0);
  });

  it('hands out copies, so callers cannot change stored rows', async () => {
    const repo = new InMemoryUploadRepository();
    const now = new Date('2026-01-01T00:00:00.000Z');
    const upload = newUpload({ id: randomUUID(), ownerId: 'o', filename: 'f', contentType: 'x/y', size: 8, chunkSize: 4, declaredSha256: null, metadata: { a: 'b' }, protocol: 'native', now, ttlMs: 1000 });
    await repo.create(upload);
    upload.metadata.a = 'changed';
    const found = (await repo.findById(upload.id))!;
    found.state = 'completed';
    expect(await repo.findById(upload.id)).toMatchObject({ state: 'pending', metadata: { a: 'b' } });
  });
});
