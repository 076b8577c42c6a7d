import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { TooManyUploadsError, UploadExpiredError } from '../shared/errors';
import { FixedClock, InMemoryBlobStore, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '../testing';
import { AcceptChunk } from './accept-chunk.use-case';
import { ChunkIntake } from './chunk-intake';
import { CreateUpload } from './create-upload.use-case';
import { FinalizeUpload } from './finalize-upload.use-case';
import { StoreChunk } from './store-chunk.use-case';
import { SweepUploads } from './sweep-uploads.use-case';
import type { UploadSettings } from './upload-settings';

const KiB = 1024;
const HOUR = 3_600_000;
const settings: UploadSettings = { maxUploadBytes: 1024 * KiB, defaultChunkSize: 64 * KiB, uploadTtlMs: HOUR, chunkClaimLeaseMs: 60_000 };
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function harness() {
  const clock = new FixedClock();
  const repo = new InMemoryUploadRepository();
  const blobs = new InMemoryBlobStore(clock);
  const queue = new RecordingChunkQueue();
  const publisher = new RecordingPublisher();
  const intake = new ChunkIntake(repo, blobs, queue, new SequentialIds(), clock, settings);
  const finalize = new FinalizeUpload(repo, blobs, publisher, clock);
  const create = new CreateUpload(repo, new SequentialIds(), clock, settings);
  const accept = new AcceptChunk(repo, intake, clock);
  const store = new StoreChunk(repo, blobs, queue, publisher, clock, finalize);
  const sweep = new SweepUploads(repo, blobs, publisher, clock, { batchSize: 2, unrecordedBlobGraceMs: HOUR });
  const send = (uploadId: string, data: Buffer, index: number) => {
    const chunk = data.subarray(index * 64 * KiB, (index + 1) * 64 * KiB);
    return accept.execute({ ownerId: 'alice', uploadId, index, contentLength: chunk.length, body: Readable.from([chunk]) });
  };
  const storeAll = async () => {
    for (const job of queue.storeJobs.splice(0)) await store.execute(job, { finalAttempt: false });
  };
  const start = async (data: Buffer, owner = 'alice') => (await create.execute(owner, { filename: 'f.bin', size: data.length, chunkSize: 64 * KiB })).id;
  return { clock, repo, blobs, queue, publisher, sweep, send, storeAll, start };
}

describe(SweepUploads.name, () => {
  it('expires unfinished uploads past their time to live, frees what only they held, and refuses their later chunks', async () => {
    const h = harness();
    const shared = randomBytes(64 * KiB);
    const data = Buffer.concat([shared, randomBytes(64 * KiB), randomBytes(10 * KiB)]);
    const ids = [await h.start(data), await h.start(data), await h.start(data)];
    for (const id of ids) await h.send(id, data, 0);
    await h.send(ids[0]!, data, 1);
    const keeper = await h.start(Buffer.concat([shared, randomBytes(KiB)]));
    await h.send(keeper, Buffer.concat([shared, randomBytes(KiB)]), 0);
    await h.storeAll();
    await h.send(ids[0]!, data, 2); // staged, not stored yet

    h.clock.advance(HOUR);
    const report = await h.sweep.execute();

    // keeper was created at the same moment, so it expires too; the shared blob goes with the last holder
    expect(report.expired).toBe(4);
    for (const id of [...ids, keeper]) expect(await h.repo.findById(id)).toMatchObject({ state: 'expired' });
    expect(h.publisher.ofType('upload.expired').map((e) => e.uploadId).sort()).toEqual([...ids, keeper].sort());
    expect(h.blobs.stagedKeys()).toEqual([]);
    expect(h.blobs.blobHashes()).toEqual([]);
    await expect(h.send(ids[1]!, data, 1)).rejects.toBeInstanceOf(UploadExpiredError);
  });

  it('refuses a chunk once the time to live is over, even before a sweep has run', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const id = await h.start(data);
    await h.send(id, data, 0);
    h.clock.advance(HOUR);
    await expect(h.send(id, data, 1)).rejects.toBeInstanceOf(UploadExpiredError);
    expect(await h.repo.findById(id)).toMatchObject({ state: 'receiving' });
  });

  it('keeps uploads that are still in time, finalizing or finished, and a blob another upload still references', async () => {
    const h = harness();
    const data = randomBytes(10 * KiB);
    const finished = await h.start(data);
    await h.send(finished, data, 0);
    await h.storeAll();
    h.clock.advance(HOUR / 2);
    const young = await h.start(data);
    await h.send(young, data, 0);
    h.clock.advance(HOUR / 2);

    expect(await h.sweep.execute()).toEqual({ expired: 0, stagingFoldersRemoved: 0, unrecordedBlobsRemoved: 0 });
    expect(await h.repo.findById(finished)).toMatchObject({ state: 'completed', sha256: sha256(data) });
    expect(await h.repo.findById(young)).toMatchObject({ state: 'receiving' });
    expect(h.blobs.stagedKeys()).toHaveLength(1);
    expect(h.blobs.blobHashes()).toEqual([sha256(data)]);
  });

  it('removes staging left for uploads that are finished or unknown, and keeps that of receiving ones', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const finished = await h.start(Buffer.from('x'));
    await h.send(finished, Buffer.from('x'), 0);
    await h.storeAll();
    const receiving = await h.start(data);
    await h.send(receiving, data, 0);
    // what a gateway that died between staging and queueing leaves behind
    const orphanKey = { uploadId: finished, index: 0, token: 'lost-attempt' };
    await h.blobs.stage(orphanKey, Readable.from([Buffer.from('x')]), { expectedBytes: 1 });
    await h.blobs.stage({ uploadId: randomUUID(), index: 3, token: 'unknown' }, Readable.from([Buffer.from('y')]), { expectedBytes: 1 });

    expect(await h.sweep.execute()).toMatchObject({ stagingFoldersRemoved: 2 });
    expect(h.blobs.stagedKeys()).toEqual([expect.stringMatching(new RegExp(`^${receiving}/0-`))]);
  });

  it('counts only unfinished uploads against an owner limit, so a finished or expired one frees a place', async () => {
    const h = harness();
    const limited = new CreateUpload(h.repo, new SequentialIds(), h.clock, { ...settings, maxUnfinishedPerOwner: 1 });
    await limited.execute('alice', { filename: 'a', size: 10 * KiB });
    await expect(limited.execute('alice', { filename: 'b', size: 10 * KiB })).rejects.toBeInstanceOf(TooManyUploadsError);
    await expect(limited.execute('bob', { filename: 'c', size: 10 * KiB })).resolves.toMatchObject({ state: 'pending' });
    h.clock.advance(HOUR);
    await h.sweep.execute();
    await expect(limited.execute('alice', { filename: 'd', size: 10 * KiB })).resolves.toMatchObject({ state: 'pending' });
  });

  it('deletes blob bytes that no row records, once they are older than the grace period', async () => {
    const h = harness();
    const lost = Buffer.from('bytes committed by a worker that died before recording them');
    const key = { uploadId: randomUUID(), index: 0, token: 'dead-worker' };
    await h.blobs.stage(key, Readable.from([lost]), { expectedBytes: lost.length });
    await h.blobs.commitStaged(key, sha256(lost));
    await h.blobs.deleteStaged(key);

    expect(await h.sweep.execute()).toMatchObject({ unrecordedBlobsRemoved: 0 });
    expect(h.blobs.blobHashes()).toEqual([sha256(lost)]);
    h.clock.advance(HOUR + 1);
    expect(await h.sweep.execute()).toMatchObject({ unrecordedBlobsRemoved: 1 });
    expect(h.blobs.blobHashes()).toEqual([]);
  });
});
