import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  ChecksumAlgorithmUnsupportedError,
  ChecksumMismatchError,
  FinalUploadNotWritableError,
  NotFoundError,
  OffsetMismatchError,
  PayloadTooLargeError,
  UploadExpiredError,
  UploadLockedError,
  ValidationError,
} from '../shared/errors';
import type { TusSettings } from './tus-settings';
import { tusPipeline } from './tus-pipeline.fixture';
import { WriteTusBytes, type WriteTusBytesInput } from './write-tus-bytes.use-case';

const KiB = 1024;
const CHUNK = 64 * KiB;
const OWNER = 'alice';
const baseSettings: TusSettings = {
  maxUploadBytes: 1024 * KiB,
  defaultChunkSize: CHUNK,
  uploadTtlMs: 3_600_000,
  chunkClaimLeaseMs: 60_000,
  lockLeaseMs: 30_000,
};

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const digestOf = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest();

/** The tus pipeline over in-memory adapters, with `overrides` of the settings. */
function harness(overrides: Partial<TusSettings> = {}) {
  return tusPipeline({ ...baseSettings, ...overrides });
}
type Harness = ReturnType<typeof harness>;

async function createUpload(h: Harness, length: number | null) {
  return h.sut.create.execute({ ownerId: OWNER, length, concat: { kind: 'none' } });
}

/** A body in pieces of an odd size, so pieces straddle chunk boundaries. */
function bodyOf(data: Buffer, piece = 10_007): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += piece) pieces.push(data.subarray(at, at + piece));
  return Readable.from(pieces);
}

function patch(h: Harness, uploadId: string, offset: number, data: Buffer, extra: Partial<WriteTusBytesInput> = {}) {
  return h.sut.write.execute({ ownerId: OWNER, uploadId, offset, body: bodyOf(data), contentLength: data.length, ...extra });
}

/** What HEAD reports as Upload-Offset. */
async function offsetOf(h: Harness, uploadId: string): Promise<number | null> {
  return (await h.sut.status.execute(OWNER, uploadId)).offset;
}

/** The native chunks a file of `data` is made of: what the store jobs must carry. */
function chunksOf(data: Buffer, chunkSize = CHUNK) {
  const chunks: { index: number; size: number; sha256: string }[] = [];
  for (let index = 0; index * chunkSize < data.length; index++) {
    const slice = data.subarray(index * chunkSize, (index + 1) * chunkSize);
    chunks.push({ index, size: slice.length, sha256: sha256(slice) });
  }
  return chunks;
}

const jobsOf = (h: Harness) => h.queue.storeJobs.map(({ index, size, sha256: digest }) => ({ index, size, sha256: digest }));

/** Emits `pieces`, one per read, then fails with `error` (a client that went away mid-body). */
function failingBody(pieces: Buffer[], error: Error): Readable {
  let next = 0;
  return new Readable({
    highWaterMark: 1,
    read() {
      const piece = pieces[next++];
      if (piece) this.push(piece);
      else setImmediate(() => this.destroy(error));
    },
  });
}

/** A body the test feeds by hand; `counted.reads` tells whether anyone asked it for bytes. */
function handFedBody() {
  const counted = { reads: 0 };
  const body = new Readable({
    read() {
      counted.reads += 1;
    },
  });
  return { body, counted };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 1_000; turn++) {
    if (condition()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Settles to the value or the error, so a pending write never becomes an unhandled rejection. */
const outcome = <T>(promise: Promise<T>): Promise<T | Error> => promise.catch((error: Error) => error);

describe(`${WriteTusBytes.name} cutting bytes into chunks`, () => {
  it('turns PATCHes of odd sizes across chunk boundaries into exactly the native chunks, answering each new offset', async () => {
    const h = harness();
    const data = randomBytes(4 * CHUNK + 3_333);
    const { id } = await createUpload(h, data.length);
    const cuts = [1_000, 71_001, 71_001 + CHUNK, 200_000, 200_001, data.length];
    let offset = 0;
    for (const end of cuts) {
      const result = await patch(h, id, offset, data.subarray(offset, end));
      expect(result.offset).toBe(end);
      expect(await offsetOf(h, id)).toBe(end);
      offset = end;
    }
    expect(jobsOf(h)).toEqual(chunksOf(data));

    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data), size: data.length, chunksStored: chunksOf(data).length });
  });

  it('queues a chunk as soon as it is whole and keeps the chunk being filled out of the queue', async () => {
    const h = harness();
    const data = randomBytes(3 * CHUNK);
    const { id } = await createUpload(h, data.length);
    await patch(h, id, 0, data.subarray(0, CHUNK + 5));
    expect(jobsOf(h)).toEqual(chunksOf(data).slice(0, 1));
    expect(await offsetOf(h, id)).toBe(CHUNK + 5);
  });
});

describe(`${WriteTusBytes.name} offsets`, () => {
  it.each([
    ['behind', -1_000],
    ['ahead of', 1_000],
  ])('refuses a PATCH whose offset is %s the durable offset with OffsetMismatchError, and changes nothing', async (_where, delta) => {
    const h = harness();
    const data = randomBytes(2 * CHUNK + 10);
    const { id } = await createUpload(h, data.length);
    await patch(h, id, 0, data.subarray(0, 100 * KiB));
    const jobsBefore = jobsOf(h);

    const wrong = 100 * KiB + delta;
    const error = await outcome(patch(h, id, wrong, data.subarray(wrong)));
    expect(error).toBeInstanceOf(OffsetMismatchError);
    expect(error).toMatchObject({ details: { expected: 100 * KiB, actual: wrong } });
    expect(jobsOf(h)).toEqual(jobsBefore);
    expect(await offsetOf(h, id)).toBe(100 * KiB);
    // The lock was released: the right offset is accepted at once.
    expect((await patch(h, id, 100 * KiB, data.subarray(100 * KiB))).offset).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
  });

  it('keeps the bytes that arrived before a body failed half-way, and a PATCH from there completes the file', async () => {
    const h = harness();
    const data = randomBytes(3 * CHUNK + 77);
    const { id } = await createUpload(h, data.length);
    const sent = 100 * KiB + 13; // ends inside chunk 1
    const body = failingBody([data.subarray(0, 40_000), data.subarray(40_000, sent)], new Error('client went away'));

    await expect(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body })).rejects.toThrow('client went away');
    expect(await offsetOf(h, id)).toBe(sent);
    expect(jobsOf(h)).toEqual(chunksOf(data).slice(0, 1));

    expect((await patch(h, id, sent, data.subarray(sent))).offset).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });

  it('resumes from a recorded partial chunk across several PATCHes that never fill a chunk alone', async () => {
    const h = harness();
    const data = randomBytes(CHUNK + 100);
    const { id } = await createUpload(h, data.length);
    const cuts = [20_000, 40_000, 60_000, CHUNK + 1, data.length];
    let offset = 0;
    for (const end of cuts) {
      expect((await patch(h, id, offset, data.subarray(offset, end))).offset).toBe(end);
      offset = end;
    }
    expect(jobsOf(h)).toEqual(chunksOf(data));
  });

  it('keeps a whole chunk that could not be queued as durable bytes, and the next PATCH queues it first', async () => {
    const h = harness();
    const data = randomBytes(2 * CHUNK + 500);
    const { id } = await createUpload(h, data.length);
    await patch(h, id, 0, data.subarray(0, 100 * KiB));
    h.queue.failNext = new Error('redis down');
    await expect(patch(h, id, 100 * KiB, data.subarray(100 * KiB))).rejects.toThrow('redis down');
    // Chunk 1 is whole on disk and recorded, though not queued: the offset counts it.
    expect(await offsetOf(h, id)).toBe(2 * CHUNK);
    expect(jobsOf(h)).toEqual(chunksOf(data).slice(0, 1));

    expect((await patch(h, id, 2 * CHUNK, data.subarray(2 * CHUNK))).offset).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });

  it('moves the offset back to the start of a chunk the worker rejected, even with later bytes recorded, and a resend completes the file', async () => {
    const h = harness();
    const data = randomBytes(2 * CHUNK + 500);
    const { id } = await createUpload(h, data.length);
    await patch(h, id, 0, data.subarray(0, 100 * KiB)); // chunk 0 queued, 36 KiB of chunk 1 recorded
    const [job] = h.queue.storeJobs;
    await h.blobs.deleteStaged({ uploadId: id, index: 0, token: job!.stagingToken });
    expect(await h.runJob(job!, true)).toBe('rejected');

    expect(await offsetOf(h, id)).toBe(0);
    expect((await patch(h, id, 0, data)).offset).toBe(data.length);
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });

  it('reports the start of a rejected chunk as the offset when that chunk was completed from a recorded partial', async () => {
    // PATCH 1 records 36 KiB of chunk 1; PATCH 2 fills chunk 1 exactly and ends on the boundary.
    // When the worker then rejects chunk 1, its partial file is gone: HEAD must not count the
    // 36 KiB once recorded for index 1.
    const h = harness();
    const data = randomBytes(3 * CHUNK);
    const { id } = await createUpload(h, data.length);
    await patch(h, id, 0, data.subarray(0, 100 * KiB));
    await patch(h, id, 100 * KiB, data.subarray(100 * KiB, 2 * CHUNK));
    const job = h.queue.storeJobs.find((j) => j.index === 1)!;
    await h.blobs.deleteStaged({ uploadId: id, index: 1, token: job.stagingToken });
    expect(await h.runJob(job, true)).toBe('rejected');

    const offset = await offsetOf(h, id);
    expect(offset).toBe(CHUNK);
    // Resuming from the offset HEAD reports must complete the file.
    expect((await patch(h, id, offset!, data.subarray(offset!))).offset).toBe(data.length);
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });
});

describe(`${WriteTusBytes.name} checksums`, () => {
  it.each(['sha1', 'sha256'])('accepts a PATCH whose %s checksum matches its bytes', async (algorithm) => {
    const h = harness();
    const data = randomBytes(2 * CHUNK + 10);
    const { id } = await createUpload(h, data.length);
    const body = data.subarray(0, 100 * KiB);
    const result = await patch(h, id, 0, body, { checksum: { algorithm, digest: digestOf(algorithm, body) } });
    expect(result.offset).toBe(body.length);
    expect(await offsetOf(h, id)).toBe(body.length);
    expect(jobsOf(h)).toEqual(chunksOf(data).slice(0, 1));
  });

  it.each([
    ['within one chunk', 1_000, 20_000],
    ['spanning several whole chunks', 10_000, 200_000],
  ])('refuses a PATCH %s whose checksum does not match with ChecksumMismatchError, queuing nothing and keeping the offset', async (_case, start, length) => {
    const h = harness();
    const data = randomBytes(4 * CHUNK);
    const { id } = await createUpload(h, data.length);
    await patch(h, id, 0, data.subarray(0, start));
    const body = data.subarray(start, start + length);
    const wrong = digestOf('sha256', Buffer.concat([body, Buffer.from('!')]));

    await expect(patch(h, id, start, body, { checksum: { algorithm: 'sha256', digest: wrong } })).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(h.queue.storeJobs).toHaveLength(0);
    expect(await h.repo.findChunk(id, 0)).toBeNull();
    expect(await offsetOf(h, id)).toBe(start);

    // The same bytes with their real checksum go through from the same offset.
    const result = await patch(h, id, start, body, { checksum: { algorithm: 'sha256', digest: digestOf('sha256', body) } });
    expect(result.offset).toBe(start + length);
    expect(jobsOf(h)).toEqual(chunksOf(data).slice(0, Math.floor((start + length) / CHUNK)));
    expect((await patch(h, id, start + length, data.subarray(start + length))).offset).toBe(data.length);
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });

  it('keeps nothing of a checksummed PATCH whose body failed half-way, though whole chunks had arrived', async () => {
    const h = harness();
    const data = randomBytes(3 * CHUNK);
    const { id } = await createUpload(h, data.length);
    const body = failingBody([data.subarray(0, 70_000), data.subarray(70_000, 150_000)], new Error('client went away'));
    await expect(
      h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body, checksum: { algorithm: 'sha1', digest: digestOf('sha1', data) } }),
    ).rejects.toThrow('client went away');
    expect(h.queue.storeJobs).toHaveLength(0);
    expect(await offsetOf(h, id)).toBe(0);
  });

  it('refuses an unsupported checksum algorithm with ChecksumAlgorithmUnsupportedError before reading the body', async () => {
    const h = harness();
    const data = randomBytes(1_000);
    const { id } = await createUpload(h, data.length);
    const { body, counted } = handFedBody();
    body.push(data);
    await expect(
      h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body, contentLength: data.length, checksum: { algorithm: 'md5', digest: digestOf('md5', data) } }),
    ).rejects.toBeInstanceOf(ChecksumAlgorithmUnsupportedError);
    expect(counted.reads).toBe(0);
    expect(body.readableLength).toBe(data.length);
    expect(await offsetOf(h, id)).toBe(0);
  });
});

describe(`${WriteTusBytes.name} locking`, () => {
  it('refuses a second writer with UploadLockedError while the first holds the lock', async () => {
    const h = harness();
    const data = randomBytes(CHUNK + 10);
    const { id } = await createUpload(h, data.length);
    const { body } = handFedBody();
    const first = outcome(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body }));
    body.push(data.subarray(0, 10_000));
    await until(() => body.readableLength === 0, 'the first writer reads its body');

    await expect(patch(h, id, 0, data)).rejects.toBeInstanceOf(UploadLockedError);

    body.push(data.subarray(10_000));
    body.push(null);
    expect(await first).toMatchObject({ offset: data.length });
    expect(jobsOf(h)).toEqual(chunksOf(data));
  });

  it('lets a writer take over a lock whose holder stopped renewing it for longer than the lease', async () => {
    const h = harness();
    const data = randomBytes(2 * CHUNK + 100);
    const { id } = await createUpload(h, data.length);
    const { body: stalled } = handFedBody();
    // A declared length: its whole chunks are queued as they fill (an undeclared body holds them to its end).
    const first = outcome(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body: stalled, contentLength: data.length }));
    stalled.push(data.subarray(0, 100 * KiB));
    await until(() => stalled.readableLength === 0 && h.queue.storeJobs.length === 1, 'the stalled writer queues chunk 0');

    h.clock.advance(h.settings.lockLeaseMs);
    await expect(patch(h, id, CHUNK, data.subarray(CHUNK))).rejects.toBeInstanceOf(UploadLockedError);
    h.clock.advance(1);
    // The stalled writer never recorded the bytes of chunk 1: only chunk 0 is durable.
    expect(await offsetOf(h, id)).toBe(CHUNK);
    expect((await patch(h, id, CHUNK, data.subarray(CHUNK))).offset).toBe(data.length);

    stalled.destroy(new Error('client went away'));
    expect(await first).toBeInstanceOf(Error);
    expect(await offsetOf(h, id)).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });

  it('writes no further byte once a writer could not confirm its lock for most of a lease, keeping the bytes before', async () => {
    const h = harness();
    const data = randomBytes(CHUNK + 100);
    const { id } = await createUpload(h, data.length);
    const { body } = handFedBody();
    const writer = outcome(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body }));
    body.push(data.subarray(0, 10_000));
    await until(() => body.readableLength === 0, 'the writer reads its body');

    h.clock.advance(h.settings.lockLeaseMs); // no renewal ran meanwhile (a stalled event loop, say)
    body.push(data.subarray(10_000, 20_000));
    expect(await writer).toBeInstanceOf(UploadLockedError);
    expect(await offsetOf(h, id)).toBe(10_000);
    expect((await patch(h, id, 10_000, data.subarray(10_000))).offset).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
  });

  it('cuts off a writer with UploadLockedError at its next renewal once another writer took its lapsed lock', async () => {
    const h = harness({ lockLeaseMs: 750 }); // renewals every 250 ms
    const data = randomBytes(CHUNK + 100);
    const { id } = await createUpload(h, data.length);
    const { body: stalled } = handFedBody();
    // A declared length: its whole chunks are queued as they fill (an undeclared body holds them to its end).
    const first = outcome(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body: stalled, contentLength: data.length }));
    stalled.push(data.subarray(0, 10_000));
    await until(() => stalled.readableLength === 0, 'the first writer reads its body');
    h.clock.advance(751);

    const { body } = handFedBody();
    const second = outcome(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body }));
    body.push(data.subarray(0, 20_000));
    await until(() => body.readableLength === 0, 'the second writer reads its body');

    expect(await first).toBeInstanceOf(UploadLockedError);
    body.push(data.subarray(20_000));
    body.push(null);
    expect(await second).toMatchObject({ offset: data.length });
    expect(jobsOf(h)).toEqual(chunksOf(data));
  });
});

describe(`${WriteTusBytes.name} with a deferred length`, () => {
  it('takes PATCHes of unknown total, then completes with the PATCH carrying the length, queuing the short last chunk', async () => {
    const h = harness();
    const data = randomBytes(2 * CHUNK + 5_555);
    const upload = await createUpload(h, null);
    expect(upload).toMatchObject({ size: null, chunkCount: null });

    expect((await patch(h, upload.id, 0, data.subarray(0, 100 * KiB))).offset).toBe(100 * KiB);
    expect(await h.sut.status.execute(OWNER, upload.id)).toMatchObject({ offset: 100 * KiB, length: null });
    expect(jobsOf(h)).toEqual(chunksOf(data).slice(0, 1));

    const result = await patch(h, upload.id, 100 * KiB, data.subarray(100 * KiB), { length: data.length });
    expect(result).toMatchObject({ offset: data.length, upload: { size: data.length, chunkCount: 3 } });
    expect(jobsOf(h)).toEqual(chunksOf(data));
    await h.drain();
    expect(await h.repo.findById(upload.id)).toMatchObject({ state: 'completed', sha256: sha256(data), size: data.length });
  });

  it('completes when the length comes alone, with an empty body, after the bytes', async () => {
    const h = harness();
    const data = randomBytes(CHUNK + 9_999);
    const { id } = await createUpload(h, null);
    await patch(h, id, 0, data);
    expect(jobsOf(h)).toEqual(chunksOf(data).slice(0, 1));

    expect((await patch(h, id, data.length, Buffer.alloc(0), { length: data.length })).offset).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data) });
  });

  it('queues finalize when the length falls on a chunk boundary after every chunk is already stored', async () => {
    const h = harness();
    const data = randomBytes(2 * CHUNK);
    const { id } = await createUpload(h, null);
    await patch(h, id, 0, data);
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'receiving', chunksStored: 2 });

    await patch(h, id, data.length, Buffer.alloc(0), { length: data.length });
    expect([...h.queue.finalizeJobs]).toEqual([id]);
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', sha256: sha256(data), size: data.length });
  });

  it('keeps a length sent with a PATCH that fails (checksum mismatch) deferred', async () => {
    const h = harness();
    const data = randomBytes(CHUNK + 100);
    const { id } = await createUpload(h, null);
    const wrong = digestOf('sha1', Buffer.from('something else'));
    await expect(patch(h, id, 0, data, { length: data.length, checksum: { algorithm: 'sha1', digest: wrong } })).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(await h.repo.findById(id)).toMatchObject({ size: null, chunkCount: null });
    expect(await h.sut.status.execute(OWNER, id)).toMatchObject({ offset: 0, length: null });

    expect((await patch(h, id, 0, data, { length: data.length })).offset).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
  });

  it.each([
    ['the body fails after its last byte', (rest: Buffer) => failingBody([rest], new Error('client went away')), 'client went away'],
    ['bytes follow past the length', (rest: Buffer) => bodyOf(Buffer.concat([rest, randomBytes(10)])), 'payload-too-large'],
  ])('lets a deferred upload finish when the PATCH carrying its length fails after its last (short) chunk was queued: %s', async (_case, bodyFor, failure) => {
    const h = harness();
    const data = randomBytes(2 * CHUNK + 5_555);
    const { id } = await createUpload(h, null);
    await patch(h, id, 0, data.subarray(0, 100 * KiB));
    const rest = data.subarray(100 * KiB);
    const error = await outcome(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 100 * KiB, body: bodyFor(rest), length: data.length }));
    expect(error).toMatchObject(failure === 'payload-too-large' ? { code: failure } : { message: failure });

    // HEAD must not report more bytes than the file has, and resuming from what it reports must finish the upload.
    const { offset } = await h.sut.status.execute(OWNER, id);
    expect(offset).toBeLessThanOrEqual(data.length);
    await patch(h, id, offset!, data.subarray(offset!), { length: data.length });
    await h.drain();
    expect(await h.repo.findById(id)).toMatchObject({ state: 'completed', size: data.length, sha256: sha256(data) });
  });

  it('refuses a length below the bytes already received with ValidationError, leaving it deferred', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createUpload(h, null);
    await patch(h, id, 0, data);
    await expect(patch(h, id, data.length, Buffer.alloc(0), { length: data.length - 1 })).rejects.toBeInstanceOf(ValidationError);
    expect(await h.repo.findById(id)).toMatchObject({ size: null });
    expect(await offsetOf(h, id)).toBe(data.length);
  });

  it('refuses a length above the server limit with PayloadTooLargeError', async () => {
    const h = harness();
    const { id } = await createUpload(h, null);
    await expect(patch(h, id, 0, Buffer.alloc(0), { length: h.settings.maxUploadBytes + 1 })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await h.repo.findById(id)).toMatchObject({ size: null });
  });

  it('refuses to change a length that is already known with ValidationError', async () => {
    const h = harness();
    const { id } = await createUpload(h, 1_000);
    await expect(patch(h, id, 0, Buffer.alloc(0), { length: 2_000 })).rejects.toBeInstanceOf(ValidationError);
    expect(await h.repo.findById(id)).toMatchObject({ size: 1_000 });
  });

  it('refuses bytes beyond the server limit of a deferred upload with PayloadTooLargeError', async () => {
    const h = harness({ maxUploadBytes: 2 * CHUNK });
    const data = randomBytes(2 * CHUNK + 1);
    const { id } = await createUpload(h, null);
    await expect(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body: bodyOf(data) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await offsetOf(h, id)).toBeLessThanOrEqual(h.settings.maxUploadBytes);
  });
});

describe(`${WriteTusBytes.name} refusals`, () => {
  it('refuses a declared body that would pass the length with PayloadTooLargeError before reading it', async () => {
    const h = harness();
    const { id } = await createUpload(h, 1_000);
    const { body, counted } = handFedBody();
    body.push(Buffer.alloc(1_001));
    await expect(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 0, body, contentLength: 1_001 })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(counted.reads).toBe(0);
    expect(await offsetOf(h, id)).toBe(0);
  });

  it('refuses an undeclared body that runs past the length with PayloadTooLargeError, keeping none of it', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const { id } = await createUpload(h, data.length);
    await patch(h, id, 0, data.subarray(0, 1000));
    const tooLong = Buffer.concat([data.subarray(1000), randomBytes(20 * KiB)]);
    await expect(h.sut.write.execute({ ownerId: OWNER, uploadId: id, offset: 1000, body: bodyOf(tooLong) })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await offsetOf(h, id)).toBe(1000);
    expect(h.queue.storeJobs).toEqual([]);
    // The same bytes without the excess go through from where the refused request started.
    expect((await patch(h, id, 1000, data.subarray(1000))).offset).toBe(data.length);
    expect(jobsOf(h)).toEqual(chunksOf(data));
  });

  it('refuses a PATCH to a final upload with FinalUploadNotWritableError', async () => {
    const h = harness();
    const part = await h.sut.create.execute({ ownerId: OWNER, length: 10, concat: { kind: 'partial' } });
    const final = await h.sut.create.execute({ ownerId: OWNER, length: null, concat: { kind: 'final', parts: [part.id] } });
    await expect(patch(h, final.id, 0, Buffer.alloc(10))).rejects.toBeInstanceOf(FinalUploadNotWritableError);
    expect(h.queue.storeJobs).toHaveLength(0);
  });

  it('refuses a PATCH to an upload past its expiry with UploadExpiredError', async () => {
    const h = harness();
    const data = randomBytes(100);
    const { id } = await createUpload(h, data.length);
    h.clock.advance(h.settings.uploadTtlMs);
    await expect(patch(h, id, 0, data)).rejects.toBeInstanceOf(UploadExpiredError);
    await expect(h.sut.status.execute(OWNER, id)).rejects.toBeInstanceOf(UploadExpiredError);
    expect(h.queue.storeJobs).toHaveLength(0);
  });

  it("answers another owner's PATCH with NotFoundError", async () => {
    const h = harness();
    const { id } = await createUpload(h, 100);
    await expect(h.sut.write.execute({ ownerId: 'mallory', uploadId: id, offset: 0, body: bodyOf(Buffer.alloc(100)), contentLength: 100 })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it.each(['finalizing', 'completed'])(
    'answers an empty PATCH at the length of a %s upload with that offset, and refuses more bytes or another offset',
    async (state) => {
      const h = harness();
      const data = randomBytes(CHUNK + 1_000);
      const { id } = await createUpload(h, data.length);
      await patch(h, id, 0, data);
      if (state === 'completed') await h.drain();
      else for (const job of [...h.queue.storeJobs]) await h.runJob(job, false);
      expect(await h.repo.findById(id)).toMatchObject({ state });

      expect((await patch(h, id, data.length, Buffer.alloc(0))).offset).toBe(data.length);
      await expect(patch(h, id, data.length, Buffer.alloc(1))).rejects.toBeInstanceOf(PayloadTooLargeError);
      await expect(patch(h, id, data.length - 1, Buffer.alloc(0))).rejects.toMatchObject({ code: 'offset-mismatch', details: { expected: data.length } });
      expect(h.queue.storeJobs).toHaveLength(chunksOf(data).length);
    },
  );
});
