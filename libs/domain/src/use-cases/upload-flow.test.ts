import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { FixedClock, InMemoryBlobStore, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '../testing';
import { EMPTY_SHA256 } from '../shared/ids';
import { AbortUpload } from './abort-upload.use-case';
import { AcceptChunk } from './accept-chunk.use-case';
import { ChunkIntake } from './chunk-intake';
import { CreateUpload } from './create-upload.use-case';
import { FinalizeUpload } from './finalize-upload.use-case';
import { GetUpload } from './query-uploads.use-case';
import { ReadContent } from './read-content.use-case';
import { ReceiveFileStream } from './receive-file-stream.use-case';
import { StagingLostError, StoreChunk } from './store-chunk.use-case';
import type { UploadSettings } from './upload-settings';

const KiB = 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const settings: UploadSettings = { maxUploadBytes: 1024 * KiB, defaultChunkSize: 64 * KiB, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000 };

function harness() {
  const repo = new InMemoryUploadRepository();
  const blobs = new InMemoryBlobStore();
  const queue = new RecordingChunkQueue();
  const publisher = new RecordingPublisher();
  const clock = new FixedClock();
  const ids = new SequentialIds();
  const intake = new ChunkIntake(repo, blobs, queue, ids, clock, settings);
  const abort = new AbortUpload(repo, blobs, publisher, clock);
  const finalize = new FinalizeUpload(repo, blobs, publisher, clock);
  const sut = {
    create: new CreateUpload(repo, ids, clock, settings),
    accept: new AcceptChunk(repo, intake, clock),
    store: new StoreChunk(repo, blobs, queue, publisher, clock, finalize),
    finalize,
    get: new GetUpload(repo),
    abort,
    read: new ReadContent(repo, blobs),
    receive: new ReceiveFileStream(repo, intake, queue, abort, ids, clock, settings),
  };
  /** Runs every queued store job once, as the worker would. */
  const drain = async () => {
    for (const job of queue.storeJobs.splice(0)) await sut.store.execute(job, { finalAttempt: false });
    for (const id of [...queue.finalizeJobs]) await sut.finalize.execute(id);
    queue.finalizeJobs.clear();
  };
  return { repo, blobs, queue, publisher, clock, sut, drain };
}

async function createWith(h: ReturnType<typeof harness>, data: Buffer, chunkSize = 64 * KiB, owner = 'alice') {
  return h.sut.create.execute(owner, { filename: 'f.bin', size: data.length, chunkSize, sha256: sha256(data) });
}

async function send(h: ReturnType<typeof harness>, uploadId: string, data: Buffer, index: number, chunkSize = 64 * KiB, extra: { expectedSha256?: string } = {}) {
  const chunk = data.subarray(index * chunkSize, (index + 1) * chunkSize);
  return h.sut.accept.execute({ ownerId: 'alice', uploadId, index, contentLength: chunk.length, body: Readable.from([chunk]), ...extra });
}

describe(CreateUpload.name, () => {
  it('fixes the chunk count from size and chunk size', async () => {
    const h = harness();
    const view = await h.sut.create.execute('alice', { filename: 'a', size: 150 * KiB, chunkSize: 64 * KiB });
    expect(view).toMatchObject({ state: 'pending', chunkCount: 3, missing: [0, 1, 2], chunkSize: 64 * KiB });
    expect((await h.sut.get.execute('alice', view.id)).missing).toEqual([0, 1, 2]);
  });

  it('refuses a size above the limit', async () => {
    await expect(harness().sut.create.execute('alice', { filename: 'a', size: settings.maxUploadBytes + 1 })).rejects.toMatchObject({ code: 'payload-too-large' });
  });

  it('completes an empty upload at once, or fails it when the declared digest is wrong', async () => {
    const h = harness();
    expect(await h.sut.create.execute('alice', { filename: 'a', size: 0 })).toMatchObject({ state: 'completed', sha256: EMPTY_SHA256, chunkCount: 0 });
    expect(await h.sut.create.execute('alice', { filename: 'a', size: 0, sha256: 'a'.repeat(64) })).toMatchObject({ state: 'failed' });
  });
});

describe(AcceptChunk.name, () => {
  it('stages the bytes, queues one job and counts the bytes received', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    expect(await send(h, id, data, 1)).toEqual({ index: 1, size: 36 * KiB, state: 'received' });
    expect(h.queue.storeJobs).toEqual([expect.objectContaining({ uploadId: id, index: 1, size: 36 * KiB })]);
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ state: 'receiving', bytesReceived: 36 * KiB, missing: [0] });
  });

  it('refuses a wrong length, an index out of range and a stranger before reading the body', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    const body = Readable.from([Buffer.alloc(10)]);
    await expect(h.sut.accept.execute({ ownerId: 'alice', uploadId: id, index: 0, contentLength: 10, body })).rejects.toMatchObject({ code: 'chunk-length-mismatch' });
    await expect(h.sut.accept.execute({ ownerId: 'alice', uploadId: id, index: 2, contentLength: 10, body })).rejects.toMatchObject({ code: 'chunk-index-out-of-range' });
    await expect(h.sut.accept.execute({ ownerId: 'bob', uploadId: id, index: 0, contentLength: 64 * KiB, body })).rejects.toMatchObject({ code: 'not-found' });
    expect(h.queue.storeJobs).toHaveLength(0);
    expect(h.blobs.stagedKeys()).toHaveLength(0);
  });

  it('answers a second copy of a received chunk with chunk-already-received', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0);
    await expect(send(h, id, data, 0)).rejects.toMatchObject({ code: 'chunk-already-received' });
  });

  it('releases the index and the staged bytes when the job cannot be queued, so a retry succeeds', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    h.queue.failNext = new Error('redis down');
    await expect(send(h, id, data, 0)).rejects.toThrow('redis down');
    expect(h.blobs.stagedKeys()).toHaveLength(0);
    expect(await send(h, id, data, 0)).toMatchObject({ state: 'received' });
  });

  it('keeps nothing of a body shorter than declared', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    const short = Readable.from([data.subarray(0, 1000)]);
    await expect(h.sut.accept.execute({ ownerId: 'alice', uploadId: id, index: 0, contentLength: 64 * KiB, body: short })).rejects.toMatchObject({ code: 'chunk-incomplete' });
    expect(h.blobs.stagedKeys()).toHaveLength(0);
    expect((await h.sut.get.execute('alice', id)).missing).toEqual([0, 1]);
  });
});

describe(StoreChunk.name, () => {
  it('stores each chunk once, announces it with increasing seq, and finalizes after the last', async () => {
    const h = harness();
    const data = randomBytes(150 * KiB);
    const { id } = await createWith(h, data);
    for (const index of [2, 0, 1]) await send(h, id, data, index);
    const [job] = h.queue.storeJobs;
    await h.drain();
    // The same job again, as after a worker crash: nothing changes.
    expect(await h.sut.store.execute(job!, { finalAttempt: false })).toBe('skipped');

    const view = await h.sut.get.execute('alice', id);
    expect(view).toMatchObject({ state: 'completed', sha256: sha256(data), chunksStored: 3, bytesStored: data.length, bytesReceived: data.length, missing: [] });
    const seqs = h.publisher.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(h.publisher.ofType('chunk.stored').map((e) => e.index)).toEqual([2, 0, 1]);
    expect(h.publisher.ofType('upload.progress').map((e) => e.percent)).toEqual([14, 57, 100]);
    expect(h.publisher.ofType('upload.completed')).toEqual([expect.objectContaining({ sha256: sha256(data), size: data.length, seq: view.seq })]);
    expect(h.blobs.stagedKeys()).toHaveLength(0);
  });

  it('treats a redelivered job of a stored chunk as a duplicate', async () => {
    const h = harness();
    const data = randomBytes(150 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0);
    const job = h.queue.storeJobs[0]!;
    await h.drain();
    expect(await h.sut.store.execute(job, { finalAttempt: false })).toBe('duplicate');
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ chunksStored: 1, bytesStored: 64 * KiB });
  });

  it('rejects a chunk whose bytes do not match the client digest; the index can be sent again', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0, 64 * KiB, { expectedSha256: 'f'.repeat(64) });
    await h.drain();
    expect(h.publisher.ofType('chunk.rejected')).toEqual([expect.objectContaining({ index: 0, reason: 'digest-mismatch' })]);
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ missing: [0, 1], bytesReceived: 0, chunksStored: 0 });
    expect(await send(h, id, data, 0)).toMatchObject({ state: 'received' });
  });

  it('retries lost staging bytes, and rejects the chunk on the final attempt', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0);
    const job = h.queue.storeJobs[0]!;
    await h.blobs.deleteStagingOf(id);
    await expect(h.sut.store.execute(job, { finalAttempt: false })).rejects.toBeInstanceOf(StagingLostError);
    expect(await h.sut.store.execute(job, { finalAttempt: true })).toBe('rejected');
    expect(h.publisher.ofType('chunk.rejected')).toEqual([expect.objectContaining({ reason: 'staging-lost' })]);
  });

  it('treats a staged file shorter than received as lost, and stores nothing of it', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0);
    const job = h.queue.storeJobs[0]!;
    const key = { uploadId: id, index: 0, token: job.stagingToken };
    await h.blobs.deleteStaged(key);
    await h.blobs.stage(key, Readable.from([data.subarray(0, 1000)]), { expectedBytes: 1000 });
    await expect(h.sut.store.execute(job, { finalAttempt: false })).rejects.toThrow('1000 bytes staged, 65536 received');
    expect(await h.sut.store.execute(job, { finalAttempt: true })).toBe('rejected');
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ chunksStored: 0, bytesStored: 0, missing: [0, 1] });
  });
});

describe(`${StoreChunk.name} on its last attempt`, () => {
  it('rejects a chunk it cannot store for any reason, so the client sends it again', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0);
    const job = h.queue.storeJobs[0]!;
    jest.spyOn(h.blobs, 'commitStaged').mockRejectedValue(new Error('disk full'));
    await expect(h.sut.store.execute(job, { finalAttempt: false })).rejects.toThrow('disk full');
    expect(await h.sut.store.execute(job, { finalAttempt: true })).toBe('rejected');
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ missing: [0, 1], chunksStored: 0, bytesReceived: 0 });
    expect(h.blobs.stagedKeys()).toHaveLength(0);
  });
});

describe(FinalizeUpload.name, () => {
  it('fails an upload whose bytes do not hash to the declared digest', async () => {
    const h = harness();
    const data = randomBytes(70 * KiB);
    const { id } = await h.sut.create.execute('alice', { filename: 'f', size: data.length, chunkSize: 64 * KiB, sha256: '0'.repeat(64) });
    await send(h, id, data, 0);
    await send(h, id, data, 1);
    await h.drain();
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ state: 'failed', sha256: sha256(data) });
    expect(h.publisher.ofType('upload.failed')).toEqual([expect.objectContaining({ reason: 'sha256-mismatch' })]);
  });
});

describe(`${StoreChunk.name} storing the last chunk`, () => {
  it('settles a one-chunk upload itself, with no finalize job', async () => {
    const h = harness();
    const data = randomBytes(10 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0);
    expect(await h.sut.store.execute(h.queue.storeJobs[0]!, { finalAttempt: false })).toBe('stored');
    expect(h.queue.finalizeJobs.size).toBe(0);
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
    expect(h.publisher.ofType('upload.completed')).toHaveLength(1);
  });

  it('leaves finalize queued when it fails after recording the chunk on its final attempt', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createWith(h, data);
    await send(h, id, data, 0);
    await send(h, id, data, 1);
    const [first, last] = h.queue.storeJobs.splice(0);
    await h.sut.store.execute(first!, { finalAttempt: false });
    jest.spyOn(h.publisher, 'publish').mockRejectedValueOnce(new Error('Redis is down'));
    expect(await h.sut.store.execute(last!, { finalAttempt: true })).toBe('skipped');
    expect([...h.queue.finalizeJobs]).toEqual([id]);
    await h.drain();
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });
});

describe(`${FinalizeUpload.name} of a one-chunk upload`, () => {
  it.each([
    ['completes it with the digest taken at staging', (data: Buffer) => sha256(data), 'completed'],
    ['fails it when that digest is not the declared one', () => '0'.repeat(64), 'failed'],
  ])('%s', async (_title, declared, state) => {
    const h = harness();
    const data = randomBytes(10 * KiB);
    const { id } = await h.sut.create.execute('alice', { filename: 'f', size: data.length, chunkSize: 64 * KiB, sha256: declared(data) });
    await send(h, id, data, 0);
    await h.drain();
    expect(await h.sut.get.execute('alice', id)).toMatchObject({ state, sha256: sha256(data), bytesStored: data.length });
  });
});

describe(AbortUpload.name, () => {
  it('hides the upload and frees blobs that no other upload references', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const first = await createWith(h, data);
    const second = await createWith(h, data);
    for (const id of [first.id, second.id]) {
      await send(h, id, data, 0);
      await send(h, id, data, 1);
    }
    await h.drain();
    expect(h.blobs.blobHashes()).toHaveLength(2);

    await h.sut.abort.execute('alice', first.id);
    await expect(h.sut.get.execute('alice', first.id)).rejects.toMatchObject({ code: 'not-found' });
    expect(h.blobs.blobHashes()).toHaveLength(2);
    const content = await h.sut.read.open(await h.sut.read.find('alice', second.id), null);
    expect(Buffer.concat(await content.body.toArray())).toEqual(data);

    await h.sut.abort.execute('alice', second.id);
    expect(h.blobs.blobHashes()).toHaveLength(0);
    expect(h.publisher.ofType('upload.aborted')).toHaveLength(2);
  });

  it('is refused for a stranger', async () => {
    const h = harness();
    const { id } = await h.sut.create.execute('alice', { filename: 'a', size: 10 });
    await expect(h.sut.abort.execute('bob', id)).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe(ReadContent.name, () => {
  it('serves a range that spans chunks', async () => {
    const h = harness();
    const data = randomBytes(200 * KiB);
    const { id } = await createWith(h, data);
    for (const index of [0, 1, 2, 3]) await send(h, id, data, index);
    await h.drain();
    const upload = await h.sut.read.find('alice', id);
    const content = await h.sut.read.open(upload, { start: 60 * KiB, end: 130 * KiB });
    expect(Buffer.concat(await content.body.toArray())).toEqual(data.subarray(60 * KiB, 130 * KiB + 1));
  });

  it('refuses content before completion', async () => {
    const h = harness();
    const { id } = await h.sut.create.execute('alice', { filename: 'a', size: 10 });
    await expect(h.sut.read.find('alice', id)).rejects.toMatchObject({ code: 'upload-not-completed' });
  });
});

describe(ReceiveFileStream.name, () => {
  it('cuts a stream of unknown length into chunks and completes it', async () => {
    const h = harness();
    const data = randomBytes(200 * KiB + 7);
    const pieces = [data.subarray(0, 1000), data.subarray(1000, 150 * KiB), data.subarray(150 * KiB)];
    const view = await h.sut.receive.execute({ ownerId: 'alice', filename: 'f', contentType: 'text/plain', source: Readable.from(pieces) });
    expect(view).toMatchObject({ size: data.length, chunkCount: 4, protocol: 'form' });
    expect(h.queue.storeJobs.map((j) => j.size)).toEqual([64 * KiB, 64 * KiB, 64 * KiB, 8 * KiB + 7]);
    await h.drain();
    expect(await h.sut.get.execute('alice', view.id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });

  it('completes an empty stream', async () => {
    const h = harness();
    const view = await h.sut.receive.execute({ ownerId: 'alice', filename: 'f', contentType: 'text/plain', source: Readable.from([]) });
    expect(view).toMatchObject({ size: 0, chunkCount: 0, state: 'finalizing' });
    await h.drain();
    expect(await h.sut.get.execute('alice', view.id)).toMatchObject({ state: 'completed', sha256: EMPTY_SHA256 });
  });

  it('aborts the upload and keeps nothing when the stream fails half-way', async () => {
    const h = harness();
    const source = new Readable({ read() {} });
    source.push(randomBytes(100 * KiB));
    setImmediate(() => source.destroy(new Error('client went away')));
    await expect(h.sut.receive.execute({ ownerId: 'alice', filename: 'f', contentType: 'text/plain', source })).rejects.toThrow('client went away');
    expect(h.blobs.stagedKeys()).toHaveLength(0);
  });
});
