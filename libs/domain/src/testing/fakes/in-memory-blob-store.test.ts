import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { describeBlobStoreContract } from '../contracts/blob-store.contract';
import { InMemoryBlobStore } from './in-memory-blob-store';

describeBlobStoreContract('InMemoryBlobStore', async () => ({ store: new InMemoryBlobStore(), teardown: async () => {} }));

describe('InMemoryBlobStore helpers', () => {
  it('lists staged keys and blob hashes', async () => {
    const store = new InMemoryBlobStore();
    const key = { uploadId: randomUUID(), index: 2, token: 'tok' };
    await store.stage(key, Readable.from([Buffer.from('abc')]), { expectedBytes: 3 });
    const sha256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    await store.commitStaged(key, sha256);
    expect(store.stagedKeys()).toEqual([`${key.uploadId}/2-tok`]);
    expect(store.blobHashes()).toEqual([sha256]);
  });
});
