import { randomBytes, randomUUID } from 'node:crypto';
import { newUpload, type StoredChunk, type TusConcat, type UploadProps } from '@tessera/domain';
import { dropDatabase, initOrm, migrateDatabase, MikroOrmTusRepository, MikroOrmUploadRepository, type TesseraOrm } from './index';

// Each test file gets a database of its own, so suites run in parallel and leave nothing behind.
const serverUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
serverUrl.pathname = `/tessera_test_${process.pid}_${randomBytes(4).toString('hex')}`;
const databaseUrl = serverUrl.href;

let orm: TesseraOrm;

beforeAll(async () => {
  await migrateDatabase(databaseUrl);
  orm = await initOrm({ databaseUrl, poolMax: 20 });
}, 60_000);

afterAll(async () => {
  await orm?.close(true);
  await dropDatabase(databaseUrl);
}, 60_000);

const KiB = 1024;
const CHUNK = 4 * KiB;
const LEASE = 30_000;
const T0 = new Date('2026-03-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const randomSha = () => randomBytes(32).toString('hex');
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

let repo: MikroOrmUploadRepository;
let tus: MikroOrmTusRepository;

beforeEach(() => {
  repo = new MikroOrmUploadRepository(orm);
  tus = new MikroOrmTusRepository(orm);
});

function aTusUpload(size: number | null, owner = `owner-${randomUUID()}`): UploadProps {
  return newUpload({
    id: randomUUID(),
    ownerId: owner,
    filename: 'f.bin',
    contentType: 'application/octet-stream',
    size,
    chunkSize: CHUNK,
    declaredSha256: null,
    metadata: {},
    protocol: 'tus',
    now: T0,
    ttlMs: 3_600_000,
  });
}

/** An upload row and its tus record. */
async function createTus(size: number | null, concat: TusConcat = 'none', parts: string[] = []): Promise<string> {
  const upload = aTusUpload(size);
  await repo.create(upload);
  await tus.create({ uploadId: upload.id, concat, parts, metadataHeader: null });
  return upload.id;
}

const store = (uploadId: string, index: number, size: number, sha256 = randomSha()) =>
  repo.recordChunkStored({ uploadId, index, size, sha256, now: at(1_000 + index) }, async () => undefined);

/** A chunk the gateway staged and queued (`received`), not stored yet. */
async function receive(uploadId: string, index: number, size = CHUNK): Promise<string> {
  const token = `g${randomBytes(6).toString('hex')}`;
  expect(await repo.claimChunk({ uploadId, index, token, now: at(500), leaseMs: 60_000 })).toBe('claimed');
  expect(await repo.markChunkReceived({ uploadId, index, token, size, now: at(600) })).toBe(true);
  return token;
}

/** A partial upload whose chunks (of these sizes and contents) are stored and which is completed. */
async function completedPart(sizes: number[], shas: string[] = sizes.map(() => randomSha())): Promise<string> {
  const id = await createTus(sum(sizes), 'partial');
  for (const [index, size] of sizes.entries()) await store(id, index, size, shas[index]);
  expect((await repo.complete({ uploadId: id, sha256: randomSha(), now: at(5_000) })).changed).toBe(true);
  return id;
}

async function refCount(sha256: string): Promise<number> {
  const [row] = await orm.em.fork().execute<{ ref_count: number }[]>('select ref_count from blobs where sha256 = ?', [sha256]);
  return row?.ref_count ?? 0;
}

async function refCounts(shas: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const sha of new Set(shas)) counts.set(sha, await refCount(sha));
  return counts;
}

async function chunkRowCount(uploadId: string): Promise<number> {
  const [row] = await orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from chunks where upload_id = ?', [uploadId]);
  return row?.n ?? 0;
}

describe('MikroOrmTusRepository on PostgreSQL', () => {
  describe('records', () => {
    it('keeps a record as created: its role, its parts in order and the metadata header', async () => {
      const upload = aTusUpload(null);
      await repo.create(upload);
      const parts = [randomUUID(), randomUUID(), randomUUID()];
      const record = { uploadId: upload.id, concat: 'final' as const, parts, metadataHeader: 'filename YS50eHQ=,empty' };
      await tus.create(record);
      expect(await tus.find(upload.id)).toEqual(record);
    });

    it('answers null for an upload without a tus record and for an id that is not a UUID', async () => {
      const native = aTusUpload(10);
      await repo.create(native);
      expect(await tus.find(native.id)).toBeNull();
      expect(await tus.find('not-a-uuid')).toBeNull();
    });

    it('refuses a concatenation role outside the CHECK constraint', async () => {
      const upload = aTusUpload(10);
      await repo.create(upload);
      await expect(tus.create({ uploadId: upload.id, concat: 'bogus' as TusConcat, parts: [], metadataHeader: null })).rejects.toThrow(/check constraint/);
      expect(await tus.find(upload.id)).toBeNull();
    });

    it('goes with its upload row', async () => {
      const id = await createTus(10);
      await orm.em.fork().execute('delete from uploads where id = ?', [id]);
      expect(await tus.find(id)).toBeNull();
    });
  });

  describe('progress', () => {
    it('starts at chunk 0 with no bytes, also for an upload without a record', async () => {
      expect(await tus.progress(await createTus(10 * CHUNK))).toEqual({ nextIndex: 0, partialBytes: 0 });
      expect(await tus.progress(randomUUID())).toEqual({ nextIndex: 0, partialBytes: 0 });
    });

    it('counts received and stored chunks from 0 up to the first that is neither', async () => {
      const id = await createTus(10 * CHUNK);
      await store(id, 0, CHUNK);
      await receive(id, 1);
      await repo.claimChunk({ uploadId: id, index: 2, token: 'still-receiving', now: at(700), leaseMs: 60_000 });
      await store(id, 3, CHUNK);
      expect(await tus.progress(id)).toEqual({ nextIndex: 2, partialBytes: 0 });
    });

    it('stops at the hole a rejected chunk leaves, and moves on once it is stored again', async () => {
      const id = await createTus(10 * CHUNK);
      await store(id, 0, CHUNK);
      const token = await receive(id, 1);
      await store(id, 2, CHUNK);
      expect(await tus.progress(id)).toEqual({ nextIndex: 3, partialBytes: 0 });

      expect((await repo.recordChunkRejected({ uploadId: id, index: 1, token, reason: 'staging-lost', now: at(800) })).rejected).toBe(true);
      expect(await tus.progress(id)).toEqual({ nextIndex: 1, partialBytes: 0 });
      await store(id, 1, CHUNK);
      expect(await tus.progress(id)).toEqual({ nextIndex: 3, partialBytes: 0 });
    });

    it('adds the bytes recorded for the chunk at nextIndex, and reads a partial of any other index as 0 bytes', async () => {
      const id = await createTus(10 * CHUNK);
      await store(id, 0, CHUNK);
      await store(id, 1, CHUNK);
      expect(await tus.lock({ uploadId: id, token: 'w', now: T0, leaseMs: LEASE })).toBe(true);

      expect(await tus.recordPartial({ uploadId: id, token: 'w', index: 2, bytes: 1_234 })).toBe(true);
      expect(await tus.progress(id)).toEqual({ nextIndex: 2, partialBytes: 1_234 });
      expect(await tus.recordPartial({ uploadId: id, token: 'w', index: 1, bytes: 2_000 })).toBe(true);
      expect(await tus.progress(id)).toEqual({ nextIndex: 2, partialBytes: 0 });
      expect(await tus.recordPartial({ uploadId: id, token: 'w', index: 3, bytes: 2_000 })).toBe(true);
      expect(await tus.progress(id)).toEqual({ nextIndex: 2, partialBytes: 0 });
    });

    it('reads a recorded partial as 0 bytes once its chunk was received (promoted just before a crash)', async () => {
      const id = await createTus(10 * CHUNK);
      await tus.lock({ uploadId: id, token: 'w', now: T0, leaseMs: LEASE });
      await tus.recordPartial({ uploadId: id, token: 'w', index: 0, bytes: 3_000 });
      expect(await tus.progress(id)).toEqual({ nextIndex: 0, partialBytes: 3_000 });
      await receive(id, 0);
      expect(await tus.progress(id)).toEqual({ nextIndex: 1, partialBytes: 0 });
    });
  });

  describe('the write lock', () => {
    it('belongs to one token at a time until its holder releases it', async () => {
      const id = await createTus(CHUNK);
      expect(await tus.lock({ uploadId: id, token: 'a', now: T0, leaseMs: LEASE })).toBe(true);
      expect(await tus.lock({ uploadId: id, token: 'b', now: at(1), leaseMs: LEASE })).toBe(false);
      expect(await tus.lock({ uploadId: id, token: 'a', now: at(1), leaseMs: LEASE })).toBe(false);
      await tus.unlock({ uploadId: id, token: 'b' });
      expect(await tus.lock({ uploadId: id, token: 'c', now: at(2), leaseMs: LEASE })).toBe(false);
      await tus.unlock({ uploadId: id, token: 'a' });
      expect(await tus.lock({ uploadId: id, token: 'b', now: at(3), leaseMs: LEASE })).toBe(true);
    });

    it('goes to another token once its holder has not renewed it for longer than the lease', async () => {
      const id = await createTus(CHUNK);
      expect(await tus.lock({ uploadId: id, token: 'a', now: T0, leaseMs: LEASE })).toBe(true);
      expect(await tus.lock({ uploadId: id, token: 'b', now: at(LEASE), leaseMs: LEASE })).toBe(false);
      expect(await tus.lock({ uploadId: id, token: 'b', now: at(LEASE + 1), leaseMs: LEASE })).toBe(true);
      // The old holder has lost it: it can neither renew, record nor release it.
      expect(await tus.renew({ uploadId: id, token: 'a', now: at(LEASE + 2) })).toBe(false);
      expect(await tus.recordPartial({ uploadId: id, token: 'a', index: 0, bytes: 99 })).toBe(false);
      await tus.unlock({ uploadId: id, token: 'a' });
      expect(await tus.lock({ uploadId: id, token: 'c', now: at(LEASE + 3), leaseMs: LEASE })).toBe(false);
      expect(await tus.progress(id)).toEqual({ nextIndex: 0, partialBytes: 0 });
    });

    it('stays with a holder that renews it within the lease', async () => {
      const id = await createTus(CHUNK);
      await tus.lock({ uploadId: id, token: 'a', now: T0, leaseMs: LEASE });
      expect(await tus.renew({ uploadId: id, token: 'a', now: at(20_000) })).toBe(true);
      expect(await tus.lock({ uploadId: id, token: 'b', now: at(LEASE + 1), leaseMs: LEASE })).toBe(false);
      expect(await tus.lock({ uploadId: id, token: 'b', now: at(20_000 + LEASE + 1), leaseMs: LEASE })).toBe(true);
    });

    it('is taken by exactly one of many simultaneous writers', async () => {
      const id = await createTus(CHUNK);
      const taken = await Promise.all(Array.from({ length: 12 }, (_, i) => tus.lock({ uploadId: id, token: `w${i}`, now: T0, leaseMs: LEASE })));
      expect(taken.filter(Boolean)).toHaveLength(1);
    });

    it('cannot be taken for an upload without a tus record', async () => {
      const native = aTusUpload(10);
      await repo.create(native);
      expect(await tus.lock({ uploadId: native.id, token: 'a', now: T0, leaseMs: LEASE })).toBe(false);
    });
  });

  describe('recordPartial', () => {
    it('records the partial length only for the holder of the lock', async () => {
      const id = await createTus(10 * CHUNK);
      expect(await tus.recordPartial({ uploadId: id, token: 'a', index: 0, bytes: 100 })).toBe(false);
      expect(await tus.progress(id)).toEqual({ nextIndex: 0, partialBytes: 0 });

      await tus.lock({ uploadId: id, token: 'a', now: T0, leaseMs: LEASE });
      expect(await tus.recordPartial({ uploadId: id, token: 'b', index: 0, bytes: 200 })).toBe(false);
      expect(await tus.recordPartial({ uploadId: id, token: 'a', index: 0, bytes: 300 })).toBe(true);
      expect(await tus.progress(id)).toEqual({ nextIndex: 0, partialBytes: 300 });

      await tus.unlock({ uploadId: id, token: 'a' });
      expect(await tus.recordPartial({ uploadId: id, token: 'a', index: 0, bytes: 400 })).toBe(false);
      expect(await tus.progress(id)).toEqual({ nextIndex: 0, partialBytes: 300 });
    });
  });

  describe('finalsAwaiting', () => {
    it('lists the pending finals that name the part, in id order, and no assembled one', async () => {
      const a = await completedPart([CHUNK]);
      const b = await createTus(CHUNK, 'partial');
      const c = await createTus(CHUNK, 'partial');
      const bothFinals = [await createTus(null, 'final', [a, b]), await createTus(null, 'final', [c, b])];
      const assembled = await createTus(null, 'final', [a]);
      expect(await tus.assembleFinal({ uploadId: assembled, now: at(6_000) })).not.toBeNull();

      expect(await tus.finalsAwaiting(a)).toEqual([bothFinals[0]]);
      expect(await tus.finalsAwaiting(b)).toEqual([...bothFinals].sort());
      expect(await tus.finalsAwaiting(c)).toEqual([bothFinals[1]]);
      expect(await tus.finalsAwaiting(randomUUID())).toEqual([]);
      expect(await tus.finalsAwaiting('not-a-uuid')).toEqual([]);
    });
  });

  describe('assembleFinal', () => {
    /** Two completed parts that share one blob (the same content in both), and a final listing them in reverse. */
    async function twoParts() {
      const shared = randomSha();
      const first = await completedPart([CHUNK, CHUNK, KiB], [randomSha(), shared, randomSha()]);
      const second = await completedPart([CHUNK, 2 * KiB], [shared, randomSha()]);
      const final = await createTus(null, 'final', [second, first]);
      const partChunks = [...(await repo.listStoredChunks(second)), ...(await repo.listStoredChunks(first))];
      return { first, second, final, partChunks, shas: partChunks.map((chunk) => chunk.sha256) };
    }

    /** Ref counts expected once `final` references every chunk of `chunks` once more. */
    function plusOneReferencePerRow(before: Map<string, number>, chunks: StoredChunk[]): Map<string, number> {
      const after = new Map(before);
      for (const chunk of chunks) after.set(chunk.sha256, (after.get(chunk.sha256) ?? 0) + 1);
      return after;
    }

    it('makes the final the parts’ chunks in part order, re-numbered, counts each new reference once and moves it to finalizing', async () => {
      const { final, partChunks, shas } = await twoParts();
      const before = await refCounts(shas);
      const pending = (await repo.findById(final))!;

      const assembled = await tus.assembleFinal({ uploadId: final, now: at(9_000) });
      const size = sum(partChunks.map((chunk) => chunk.size));
      expect(assembled).toEqual({
        ...pending,
        size,
        chunkCount: partChunks.length,
        chunksStored: partChunks.length,
        bytesStored: size,
        bytesReceived: size,
        state: 'finalizing',
        seq: pending.seq + 1,
        updatedAt: at(9_000),
      });
      expect(await repo.findById(final)).toEqual(assembled);
      expect(await repo.listStoredChunks(final)).toEqual(partChunks.map((chunk, index) => ({ ...chunk, index })));
      expect(await chunkRowCount(final)).toBe(partChunks.length);
      expect(await refCounts(shas)).toEqual(plusOneReferencePerRow(before, partChunks));
      expect(await repo.findSnapshot(final)).toMatchObject({ missing: [] });
    });

    it('is a no-op the second time: null, and no row or count changes', async () => {
      const { final, shas } = await twoParts();
      const assembled = await tus.assembleFinal({ uploadId: final, now: at(9_000) });
      const counts = await refCounts(shas);
      const chunks = await repo.listStoredChunks(final);

      expect(await tus.assembleFinal({ uploadId: final, now: at(10_000) })).toBeNull();
      expect(await repo.findById(final)).toEqual(assembled);
      expect(await repo.listStoredChunks(final)).toEqual(chunks);
      expect(await refCounts(shas)).toEqual(counts);
    });

    it('assembles once when two workers try at the same time', async () => {
      const { final, partChunks, shas } = await twoParts();
      const before = await refCounts(shas);
      const outcomes = await Promise.all([tus.assembleFinal({ uploadId: final, now: at(9_000) }), tus.assembleFinal({ uploadId: final, now: at(9_000) })]);
      expect(outcomes.filter((outcome) => outcome !== null)).toHaveLength(1);
      expect(await chunkRowCount(final)).toBe(partChunks.length);
      expect(await refCounts(shas)).toEqual(plusOneReferencePerRow(before, partChunks));
    });

    it('leaves the final pending and untouched while a part is unfinished, and assembles it once the part completes', async () => {
      const done = await completedPart([CHUNK]);
      const unfinished = await createTus(CHUNK + 10, 'partial');
      const firstSha = randomSha();
      await store(unfinished, 0, CHUNK, firstSha);
      const final = await createTus(null, 'final', [done, unfinished]);
      const pending = await repo.findById(final);
      const before = await refCount(firstSha);

      expect(await tus.assembleFinal({ uploadId: final, now: at(9_000) })).toBeNull();
      expect(await repo.findById(final)).toEqual(pending);
      expect(await chunkRowCount(final)).toBe(0);
      expect(await refCount(firstSha)).toBe(before);

      await store(unfinished, 1, 10);
      expect((await repo.complete({ uploadId: unfinished, sha256: randomSha(), now: at(9_500) })).changed).toBe(true);
      expect(await tus.assembleFinal({ uploadId: final, now: at(10_000) })).toMatchObject({ state: 'finalizing', size: 2 * CHUNK + 10, chunkCount: 3 });
    });

    it('does not assemble a final whose part was aborted', async () => {
      const part = await completedPart([CHUNK]);
      const other = await completedPart([CHUNK]);
      const final = await createTus(null, 'final', [part, other]);
      await repo.close({ uploadId: part, state: 'aborted', now: at(6_000) }, async () => undefined);
      expect(await tus.assembleFinal({ uploadId: final, now: at(9_000) })).toBeNull();
      expect(await repo.findById(final)).toMatchObject({ state: 'pending', size: null });
    });

    it('answers null for an upload that is not a final, and for an id that is not a UUID', async () => {
      const part = await completedPart([CHUNK]);
      expect(await tus.assembleFinal({ uploadId: part, now: at(9_000) })).toBeNull();
      expect(await repo.findById(part)).toMatchObject({ state: 'completed', chunkCount: 1 });
      expect(await tus.assembleFinal({ uploadId: 'not-a-uuid', now: at(9_000) })).toBeNull();
    });

    it('keeps the final’s blobs when a part is deleted after assembly, and frees each once nothing references it', async () => {
      const { first, second, final, partChunks, shas } = await twoParts();
      await tus.assembleFinal({ uploadId: final, now: at(9_000) });
      const finalChunks = await repo.listStoredChunks(final);
      const deleted: string[] = [];
      const deleteBlob = async (sha256: string) => {
        deleted.push(sha256);
      };

      await repo.close({ uploadId: first, state: 'aborted', now: at(10_000) }, deleteBlob);
      expect(deleted).toEqual([]);
      expect(await repo.listStoredChunks(final)).toEqual(finalChunks);
      const secondShas = (await repo.listStoredChunks(second)).map((chunk) => chunk.sha256);
      for (const sha of new Set(shas)) {
        const references = partChunks.filter((chunk) => chunk.sha256 === sha).length + secondShas.filter((s) => s === sha).length;
        expect(await refCount(sha)).toBe(references);
      }

      await repo.close({ uploadId: final, state: 'aborted', now: at(11_000) }, deleteBlob);
      expect(deleted.sort()).toEqual([...new Set(shas.filter((sha) => !secondShas.includes(sha)))].sort());
      await repo.close({ uploadId: second, state: 'aborted', now: at(12_000) }, deleteBlob);
      expect(deleted.sort()).toEqual([...new Set(shas)].sort());
      for (const sha of shas) expect(await refCount(sha)).toBe(0);
    });
  });
});
