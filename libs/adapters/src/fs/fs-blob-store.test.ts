import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describeBlobStoreContract } from '@tessera/domain/testing';
import { FsBlobStore } from './fs-blob-store';

async function freshStore(): Promise<{ store: FsBlobStore; root: string; teardown: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-fs-blob-'));
  const store = new FsBlobStore(root);
  await store.init();
  return { store, root, teardown: () => rm(root, { recursive: true, force: true }) };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describeBlobStoreContract('FsBlobStore', freshStore);

describe('FsBlobStore on disk', () => {
  let fixture: Awaited<ReturnType<typeof freshStore>>;
  beforeEach(async () => {
    fixture = await freshStore();
  });
  afterEach(() => fixture.teardown());

  const content = randomBytes(300_000);
  const sha256 = createHash('sha256').update(content).digest('hex');
  const blobFile = () => join(fixture.root, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);

  it('never changes a staged or committed copy when a partial left behind by a crash is reopened', async () => {
    const uploadId = randomUUID();
    const partial = (await fixture.store.openPartial({ uploadId, index: 0 }, 0))!;
    await partial.write(content);
    await partial.sync();
    const key = { uploadId, index: 0, token: 'staged' };
    await partial.stageAs(key);
    await partial.close();
    await fixture.store.commitStaged(key, sha256);
    // The partial was not deleted (a crash): the next request reopens it shorter, then empty.
    await (await fixture.store.openPartial({ uploadId, index: 0 }, 400))!.close();
    await (await fixture.store.openPartial({ uploadId, index: 0 }, 0))!.close();
    expect((await readFile(blobFile())).equals(content)).toBe(true);
    expect(await fixture.store.stagedSize(key)).toBe(content.length);
  });

  it('lays staged attempts out as staging/<uploadId>/<index>-<token>', async () => {
    const key = { uploadId: randomUUID(), index: 4, token: 'abc_DEF-1' };
    await fixture.store.stage(key, Readable.from([content]), { expectedBytes: content.length });
    expect(await filesUnder(join(fixture.root, 'staging'))).toEqual([join(fixture.root, 'staging', key.uploadId, '4-abc_DEF-1')]);
  });

  it('commits by hard link: the blob shares the staged inode and is never re-written', async () => {
    const first = { uploadId: randomUUID(), index: 0, token: 'first' };
    const second = { uploadId: randomUUID(), index: 0, token: 'second' };
    await fixture.store.stage(first, Readable.from([content]), { expectedBytes: content.length });
    await fixture.store.stage(second, Readable.from([content]), { expectedBytes: content.length });
    const stagedFirst = join(fixture.root, 'staging', first.uploadId, '0-first');

    await fixture.store.commitStaged(first, sha256);
    const blob = await stat(blobFile());
    expect(blob.ino).toBe((await stat(stagedFirst)).ino);
    expect(blob.nlink).toBe(2);

    await fixture.store.commitStaged(second, sha256);
    const again = await stat(blobFile());
    expect(again.ino).toBe(blob.ino);
    expect(again.mtimeMs).toBe(blob.mtimeMs);

    await fixture.store.deleteStaged(first);
    expect((await stat(blobFile())).nlink).toBe(1);
  });

  it.each([
    ['a length mismatch', () => Readable.from([content.subarray(0, 1000)])],
    ['a failing source', () => new Readable({ read() { this.push(content.subarray(0, 1000)); this.destroy(new Error('reset')); } })],
  ])('leaves no .part file behind after %s', async (_case, source) => {
    const key = { uploadId: randomUUID(), index: 1, token: 'tok' };
    await expect(fixture.store.stage(key, source(), { expectedBytes: content.length })).rejects.toThrow();
    expect(await filesUnder(join(fixture.root, 'staging'))).toEqual([]);
  });

  it('leaves the source undestroyed when it refuses it, so the caller can still answer', async () => {
    const source = new PassThrough();
    source.write(content);
    await expect(fixture.store.stage({ uploadId: randomUUID(), index: 0, token: 't' }, source, { maxBytes: 10 })).rejects.toThrow();
    expect(source.destroyed).toBe(false);
    source.end();
    source.resume();
  });

  it('ping leaves no probe file', async () => {
    await fixture.store.ping();
    expect(await readdir(fixture.root)).toEqual(expect.arrayContaining(['staging', 'blobs']));
    expect(await readdir(fixture.root)).toHaveLength(2);
  });

  it('ping fails when the folder is gone', async () => {
    await rm(fixture.root, { recursive: true, force: true });
    await expect(fixture.store.ping()).rejects.toThrow(/ENOENT/);
  });
});
