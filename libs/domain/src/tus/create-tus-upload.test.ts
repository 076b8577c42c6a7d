import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { NotFoundError, PayloadTooLargeError, UploadExpiredError, ValidationError } from '../shared/errors';
import { EMPTY_SHA256 } from '../shared/ids';
import { MAX_CHUNK_COUNT } from '../upload/upload.schemas';
import { CreateTusUpload, type CreateTusUploadInput } from './create-tus-upload.use-case';
import { tusPipeline } from './tus-pipeline.fixture';
import { TusStatus } from './tus-status.use-case';
import type { TusSettings } from './tus-settings';

const KiB = 1024;
const CHUNK = 64 * KiB;
const OWNER = 'alice';
const settings: TusSettings = {
  maxUploadBytes: 1024 * KiB,
  defaultChunkSize: CHUNK,
  uploadTtlMs: 3_600_000,
  chunkClaimLeaseMs: 60_000,
  lockLeaseMs: 30_000,
};

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
/** Length and digest: compares large buffers fast, with a readable message. */
const fingerprint = (data: Buffer) => ({ length: data.length, sha256: sha256(data) });
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** The tus pipeline over in-memory adapters, with `overrides` of the settings. */
function harness(overrides: Partial<TusSettings> = {}) {
  const pipeline = tusPipeline({ ...settings, ...overrides });
  const { repo } = pipeline;
  /** How many uploads the owner can see: proves a refused creation left nothing behind. */
  const countOf = async (ownerId = OWNER) => (await repo.list({ ownerId, limit: 100 })).items.length;
  return { ...pipeline, countOf };
}
type Harness = ReturnType<typeof harness>;

function create(h: Harness, input: Partial<CreateTusUploadInput> & Pick<CreateTusUploadInput, 'length'>) {
  return h.sut.create.execute({ ownerId: OWNER, concat: { kind: 'none' }, ...input });
}

async function send(h: Harness, uploadId: string, offset: number, data: Buffer, ownerId = OWNER) {
  return h.sut.write.execute({ ownerId, uploadId, offset, body: Readable.from([data]), contentLength: data.length });
}

/** A partial upload holding `data`, completed (stored and finalized) unless `sendOnly` bytes are sent. */
async function partial(h: Harness, data: Buffer, { sendOnly, ownerId = OWNER }: { sendOnly?: number; ownerId?: string } = {}) {
  const upload = await h.sut.create.execute({ ownerId, length: data.length, concat: { kind: 'partial' } });
  if (data.length > 0) await send(h, upload.id, 0, data.subarray(0, sendOnly ?? data.length), ownerId);
  await h.drain();
  return upload.id;
}

async function contentOf(h: Harness, uploadId: string, range: { start: number; end: number } | null = null): Promise<Buffer> {
  const content = await h.sut.read.open(await h.sut.read.find(OWNER, uploadId), range);
  return Buffer.concat(await content.body.toArray());
}

describe(CreateTusUpload.name, () => {
  it('names the file from filename and filetype, and keeps every text value and the header as sent', async () => {
    const h = harness();
    const header = `filename ${b64('report.pdf')},filetype ${b64('application/pdf')},project ${b64('apollo')}`;
    const upload = await create(h, { length: 10, metadataHeader: header });
    expect(upload).toMatchObject({
      filename: 'report.pdf',
      contentType: 'application/pdf',
      metadata: { filename: 'report.pdf', filetype: 'application/pdf', project: 'apollo' },
      protocol: 'tus',
      state: 'pending',
      size: 10,
    });
    expect(await h.tus.find(upload.id)).toEqual({ uploadId: upload.id, concat: 'none', parts: [], metadataHeader: header });
  });

  it('falls back to name and type when filename and filetype are absent', async () => {
    const h = harness();
    const upload = await create(h, { length: 10, metadataHeader: `name ${b64('photo.jpg')},type ${b64('image/jpeg')}` });
    expect(upload).toMatchObject({ filename: 'photo.jpg', contentType: 'image/jpeg' });
  });

  it('prefers filename and filetype over name and type', async () => {
    const h = harness();
    const header = `name ${b64('other.txt')},filename ${b64('chosen.csv')},type ${b64('text/plain')},filetype ${b64('text/csv')}`;
    expect(await create(h, { length: 10, metadataHeader: header })).toMatchObject({ filename: 'chosen.csv', contentType: 'text/csv' });
  });

  it('uses neutral defaults without metadata, and records no header', async () => {
    const h = harness();
    const upload = await create(h, { length: 10 });
    expect(upload).toMatchObject({ filename: 'untitled', contentType: 'application/octet-stream', metadata: {} });
    expect((await h.tus.find(upload.id))?.metadataHeader).toBeNull();
  });

  it('refuses malformed metadata with ValidationError and creates nothing', async () => {
    const h = harness();
    await expect(create(h, { length: 10, metadataHeader: 'filename not-base64!' })).rejects.toBeInstanceOf(ValidationError);
    expect(await h.countOf()).toBe(0);
  });

  it('completes an upload of length 0 at once, with the digest of no bytes', async () => {
    const h = harness();
    const upload = await create(h, { length: 0 });
    expect(upload).toMatchObject({ state: 'completed', size: 0, sha256: EMPTY_SHA256, completedAt: h.clock.now() });
    expect(await h.sut.status.execute(OWNER, upload.id)).toMatchObject({ offset: 0, length: 0 });
    expect(h.queue.storeJobs).toHaveLength(0);
    expect(await contentOf(h, upload.id)).toEqual(Buffer.alloc(0));
  });

  it('refuses a length above the server limit with PayloadTooLargeError and creates nothing', async () => {
    const h = harness();
    await expect(create(h, { length: settings.maxUploadBytes + 1 })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await h.countOf()).toBe(0);
    expect(await create(h, { length: settings.maxUploadBytes })).toMatchObject({ size: settings.maxUploadBytes });
  });

  it('grows the chunk size, in whole KiB, when the default would need more chunks than allowed', async () => {
    const h = harness({ maxUploadBytes: 4 * MAX_CHUNK_COUNT * CHUNK });
    const length = MAX_CHUNK_COUNT * CHUNK + 1;
    const upload = await create(h, { length });
    expect(upload.chunkSize).toBeGreaterThan(CHUNK);
    expect(upload.chunkSize % KiB).toBe(0);
    expect(upload.chunkCount).toBe(Math.ceil(length / upload.chunkSize));
    expect(upload.chunkCount).toBeLessThanOrEqual(MAX_CHUNK_COUNT);
    // The smallest such size: one KiB less would need too many chunks.
    expect(Math.ceil(length / (upload.chunkSize - KiB))).toBeGreaterThan(MAX_CHUNK_COUNT);
  });

  it('keeps the default chunk size for a deferred length', async () => {
    const h = harness();
    expect(await create(h, { length: null })).toMatchObject({ size: null, chunkCount: null, chunkSize: CHUNK, state: 'pending' });
  });
});

describe(`${CreateTusUpload.name} of a final upload`, () => {
  /** Each case lists a good partial beside the bad part, so only the bad part can be the reason. */
  const refusals: [string, (h: Harness, good: string) => Promise<string[]>][] = [
    ['an upload that is not partial', async (h, good) => [good, (await create(h, { length: 10 })).id]],
    ["another owner's partial upload", async (h, good) => [good, await partial(h, randomBytes(10), { ownerId: 'bob' })]],
    ['an unknown id', async (_h, good) => [good, '00000000-0000-7000-8000-00000000ffff']],
    ['an id that is not a UUID', async (_h, good) => [good, 'not-an-id']],
    ['no part at all', async () => []],
    ['the same partial twice', async (_h, good) => [good, good]],
    [
      'an expired partial',
      async (h, good) => {
        const { id } = await h.sut.create.execute({ ownerId: OWNER, length: 10, concat: { kind: 'partial' } });
        await h.repo.close({ uploadId: id, state: 'expired', now: h.clock.now() }, async () => undefined);
        return [good, id];
      },
    ],
  ];

  it.each(refusals)('refuses a final listing %s with ValidationError and creates nothing', async (_case, partsOf) => {
    const h = harness();
    const parts = await partsOf(h, await partial(h, randomBytes(10)));
    const before = await h.countOf();
    await expect(create(h, { length: null, concat: { kind: 'final', parts } })).rejects.toBeInstanceOf(ValidationError);
    expect(await h.countOf()).toBe(before);
    expect(h.queue.finalizeJobs.size).toBe(0);
  });

  it('refuses a final whose parts add up to more than the server limit with PayloadTooLargeError and creates nothing', async () => {
    const h = harness({ maxUploadBytes: 100 * KiB });
    const parts = [
      (await h.sut.create.execute({ ownerId: OWNER, length: 60 * KiB, concat: { kind: 'partial' } })).id,
      (await h.sut.create.execute({ ownerId: OWNER, length: 40 * KiB + 1, concat: { kind: 'partial' } })).id,
    ];
    const before = await h.countOf();
    await expect(create(h, { length: null, concat: { kind: 'final', parts } })).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await h.countOf()).toBe(before);
    expect(await create(h, { length: null, concat: { kind: 'final', parts: parts.slice(0, 1) } })).toMatchObject({ state: 'pending' });
  });

  it('assembles a final of completed partials at once: its chunks are the parts’ chunks in the listed order', async () => {
    const h = harness();
    const first = randomBytes(CHUNK + 36 * KiB);
    const second = randomBytes(30 * KiB + 3);
    const firstId = await partial(h, first);
    const secondId = await partial(h, second);
    const partChunks = [...(await h.repo.listStoredChunks(secondId)), ...(await h.repo.listStoredChunks(firstId))];

    const final = await create(h, { length: null, concat: { kind: 'final', parts: [secondId, firstId] } });
    const whole = Buffer.concat([second, first]);
    expect(final).toMatchObject({ state: 'finalizing', size: whole.length, chunkCount: 3, chunksStored: 3, bytesStored: whole.length });
    expect([...h.queue.finalizeJobs]).toEqual([final.id]);
    expect(await h.repo.listStoredChunks(final.id)).toEqual(partChunks.map((chunk, index) => ({ ...chunk, index })));
    // Each blob is referenced by its part and by the final.
    for (const chunk of partChunks) expect(h.repo.blobRefCount(chunk.sha256)).toBe(2);
    expect(h.queue.storeJobs.filter((job) => job.uploadId === final.id)).toHaveLength(0);

    await h.drain();
    expect(await h.repo.findById(final.id)).toMatchObject({ state: 'completed', sha256: sha256(whole) });
    expect(fingerprint(await contentOf(h, final.id))).toEqual(fingerprint(whole));
    const across = { start: second.length - 100, end: second.length + CHUNK + 50 };
    expect(fingerprint(await contentOf(h, final.id, across))).toEqual(fingerprint(whole.subarray(across.start, across.end + 1)));
  });

  it('completes a final of empty partials with the digest of no bytes', async () => {
    const h = harness();
    const parts = [await partial(h, Buffer.alloc(0)), await partial(h, Buffer.alloc(0))];
    const final = await create(h, { length: null, concat: { kind: 'final', parts } });
    expect(final).toMatchObject({ state: 'finalizing', size: 0 });
    await h.drain();
    expect(await h.repo.findById(final.id)).toMatchObject({ state: 'completed', sha256: EMPTY_SHA256, size: 0 });
  });

  it('keeps a final of unfinished partials pending, then assembles it when the last part completes', async () => {
    const h = harness();
    const first = randomBytes(100 * KiB);
    const second = randomBytes(30 * KiB);
    const firstId = await partial(h, first);
    const secondId = await partial(h, second, { sendOnly: 10 * KiB });

    const final = await create(h, { length: null, concat: { kind: 'final', parts: [firstId, secondId] } });
    expect(final).toMatchObject({ state: 'pending', size: null });
    expect(h.queue.finalizeJobs.size).toBe(0);
    expect(await h.sut.status.execute(OWNER, final.id)).toMatchObject({ offset: null, length: first.length + second.length });

    // A completed part other than the last changes nothing.
    await h.sut.concatenate.partCompleted((await h.repo.findById(firstId))!);
    expect(await h.repo.findById(final.id)).toMatchObject({ state: 'pending' });
    expect(await h.tus.finalsAwaiting(secondId)).toEqual([final.id]);

    await send(h, secondId, 10 * KiB, second.subarray(10 * KiB));
    await h.drain(); // stores the last chunk; completing the part assembles the final; its finalize runs
    const whole = Buffer.concat([first, second]);
    expect(await h.repo.findById(final.id)).toMatchObject({ state: 'completed', size: whole.length, sha256: sha256(whole) });
    expect(await h.tus.finalsAwaiting(secondId)).toEqual([]);
    expect(fingerprint(await contentOf(h, final.id))).toEqual(fingerprint(whole));
  });

  it('assembles a final only once when its last part completes again (a redelivered finalize job)', async () => {
    const h = harness();
    const firstId = await partial(h, randomBytes(10 * KiB));
    const secondId = await partial(h, randomBytes(20 * KiB), { sendOnly: 0 });
    const final = await create(h, { length: null, concat: { kind: 'final', parts: [firstId, secondId] } });
    await send(h, secondId, 0, randomBytes(20 * KiB));
    await h.drain();
    const assembled = await h.repo.findById(final.id);
    const chunks = await h.repo.listStoredChunks(final.id);

    expect(await h.sut.concatenate.tryAssemble(final.id)).toBe(false);
    await h.sut.concatenate.partCompleted((await h.repo.findById(secondId))!);
    expect(await h.repo.findById(final.id)).toEqual(assembled);
    expect(await h.repo.listStoredChunks(final.id)).toEqual(chunks);
    for (const chunk of chunks) expect(h.repo.blobRefCount(chunk.sha256)).toBe(2);
  });

  it('reports no length for a pending final while a part’s length is deferred', async () => {
    const h = harness();
    const done = await partial(h, randomBytes(1_000));
    const deferred = await h.sut.create.execute({ ownerId: OWNER, length: null, concat: { kind: 'partial' } });
    const final = await create(h, { length: null, concat: { kind: 'final', parts: [done, deferred.id] } });
    expect(await h.sut.status.execute(OWNER, final.id)).toMatchObject({ offset: null, length: null });
  });
});

describe(TusStatus.name, () => {
  it('reports the durable offset of a receiving upload and its length, null while deferred', async () => {
    const h = harness();
    const data = randomBytes(100 * KiB);
    const known = await create(h, { length: 200 * KiB });
    const deferred = await create(h, { length: null });
    await send(h, known.id, 0, data);
    await send(h, deferred.id, 0, data);
    expect(await h.sut.status.execute(OWNER, known.id)).toMatchObject({ offset: data.length, length: 200 * KiB });
    expect(await h.sut.status.execute(OWNER, deferred.id)).toMatchObject({ offset: data.length, length: null });
  });

  it('reports a completed upload’s length as its offset', async () => {
    const h = harness();
    const id = await partial(h, randomBytes(70 * KiB));
    expect(await h.sut.status.execute(OWNER, id)).toMatchObject({ offset: 70 * KiB, length: 70 * KiB, upload: { state: 'completed' } });
  });

  it('answers UploadExpiredError once an unfinished upload is past its expiry, swept or not', async () => {
    const h = harness();
    const upload = await create(h, { length: 10 });
    h.clock.advance(settings.uploadTtlMs - 1);
    await expect(h.sut.status.execute(OWNER, upload.id)).resolves.toMatchObject({ offset: 0 });
    h.clock.advance(1);
    await expect(h.sut.status.execute(OWNER, upload.id)).rejects.toBeInstanceOf(UploadExpiredError);
    await h.repo.close({ uploadId: upload.id, state: 'expired', now: h.clock.now() }, async () => undefined);
    await expect(h.sut.status.execute(OWNER, upload.id)).rejects.toBeInstanceOf(UploadExpiredError);
  });

  it("answers NotFoundError for another owner's upload", async () => {
    const h = harness();
    const upload = await create(h, { length: 10 });
    await expect(h.sut.status.execute('mallory', upload.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});
