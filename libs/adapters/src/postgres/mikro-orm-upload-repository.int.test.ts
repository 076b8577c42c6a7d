import { randomBytes, randomUUID } from 'node:crypto';
import { newUpload, type UploadProps } from '@tessera/domain';
import { describeUploadRepositoryContract } from '@tessera/domain/testing';
import { dropDatabase, initOrm, migrateDatabase, MikroOrmUploadRepository, type TesseraOrm } from './index';

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

describeUploadRepositoryContract('MikroOrmUploadRepository', async () => ({ repo: new MikroOrmUploadRepository(orm), teardown: async () => {} }));

const KiB = 1024;
const T0 = new Date('2026-03-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const randomSha = () => randomBytes(32).toString('hex');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise the test resolves by hand, to hold a callback inside a transaction. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Waits until `signal`, failing fast if `work` settles first (the callback was never reached). */
async function reached(signal: Promise<void>, work: Promise<unknown>, failure: string): Promise<void> {
  const settledFirst = await Promise.race([signal.then(() => false), work.then(() => true, () => true)]);
  if (settledFirst) throw new Error(failure);
}

function anUpload(size: number, chunkSize: number): UploadProps {
  return newUpload({
    id: randomUUID(),
    ownerId: `owner-${randomUUID()}`,
    filename: 'f.bin',
    contentType: 'application/octet-stream',
    size,
    chunkSize,
    declaredSha256: null,
    metadata: {},
    protocol: 'native',
    now: T0,
    ttlMs: 3_600_000,
  });
}

describe('MikroOrmUploadRepository on PostgreSQL', () => {
  let repo: MikroOrmUploadRepository;

  beforeEach(() => {
    repo = new MikroOrmUploadRepository(orm);
  });

  describe('schema', () => {
    it('matches the entity metadata exactly after migrating', async () => {
      expect((await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()).toBe('');
    });

    it('migrates again as a no-op', async () => {
      const lines: string[] = [];
      await migrateDatabase(databaseUrl, (line) => lines.push(line));
      expect(lines).toContain('Schema is up to date: no pending migrations');
      expect(lines.some((line) => line.startsWith('Applying'))).toBe(false);
    });

    it('refuses a state outside the CHECK constraint', async () => {
      const upload = anUpload(10, 5);
      await expect(repo.create({ ...upload, state: 'bogus' as UploadProps['state'] })).rejects.toThrow(/check constraint/);
      expect(await repo.findById(upload.id)).toBeNull();
    });
  });

  describe('concurrency', () => {
    it('stores one chunk once when two workers record it at the same time', async () => {
      const upload = anUpload(8 * KiB, 4 * KiB);
      await repo.create(upload);
      let ensured = 0;
      const ensureBlob = async () => {
        ensured += 1;
        await sleep(50);
      };
      const input = { uploadId: upload.id, index: 0, size: 4 * KiB, sha256: randomSha(), now: at(1_000) };
      const outcomes = await Promise.all([repo.recordChunkStored(input, ensureBlob), repo.recordChunkStored(input, ensureBlob)]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['duplicate', 'stored']);
      expect(ensured).toBe(1);
      expect(await repo.findById(upload.id)).toMatchObject({ chunksStored: 1, bytesStored: 4 * KiB, bytesReceived: 4 * KiB, seq: 2, state: 'receiving' });
      expect(await repo.listStoredChunks(upload.id)).toEqual([{ index: 0, size: 4 * KiB, sha256: input.sha256 }]);
    });

    it('keeps exact counters and distinct seq values when every chunk of an upload is stored at once', async () => {
      const count = 24;
      const upload = anUpload(count * 4 * KiB - 100, 4 * KiB);
      await repo.create(upload);
      const sizeOf = (index: number) => (index === count - 1 ? 4 * KiB - 100 : 4 * KiB);
      const outcomes = await Promise.all(
        Array.from({ length: count }, (_, index) =>
          repo.recordChunkStored({ uploadId: upload.id, index, size: sizeOf(index), sha256: randomSha(), now: at(1_000 + index) }, () => sleep(Math.random() * 10)),
        ),
      );
      expect(outcomes.every((o) => o.status === 'stored')).toBe(true);
      expect(outcomes.map((o) => o.upload!.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => 2 * (i + 1)));
      expect(outcomes.filter((o) => o.upload!.state === 'finalizing')).toHaveLength(1);
      expect(await repo.findSnapshot(upload.id)).toMatchObject({
        upload: { chunksStored: count, bytesStored: upload.size, bytesReceived: upload.size, seq: 2 * count, state: 'finalizing' },
        missing: [],
      });
    });

    it('counts every byte once when gateways claim and mark chunks while workers store them', async () => {
      // As in a real upload: claims of later indices (KEY SHARE on the upload), marks and
      // stores of earlier ones all at once, in both orders. A lock-order mistake shows up as
      // a deadlock error; several rounds, because one round rarely hits it.
      const count = 32;
      for (let round = 0; round < 8; round++) {
        const upload = anUpload(count * KiB, KiB);
        await repo.create(upload);
        const tokens = Array.from({ length: count }, () => randomBytes(8).toString('hex'));
        const claim = (index: number) => repo.claimChunk({ uploadId: upload.id, index, token: tokens[index]!, now: at(500), leaseMs: 60_000 });
        const receiveAndStore = (index: number) => [
          repo.markChunkReceived({ uploadId: upload.id, index, token: tokens[index]!, size: KiB, now: at(1_000) }),
          repo.recordChunkStored({ uploadId: upload.id, index, size: KiB, sha256: randomSha(), now: at(1_000) }, () => sleep(Math.random() * 3)),
        ];
        const half = count / 2;
        await Promise.all(Array.from({ length: half }, (_, index) => claim(index)));
        await Promise.all([
          ...Array.from({ length: half }, (_, index) => claim(half + index)),
          ...Array.from({ length: half }, (_, index) => receiveAndStore(index)).flat(),
        ]);
        await Promise.all(Array.from({ length: half }, (_, index) => receiveAndStore(half + index)).flat());
        expect(await repo.findById(upload.id)).toMatchObject({ bytesReceived: count * KiB, bytesStored: count * KiB, chunksStored: count, state: 'finalizing', seq: 2 * count });
      }
    });

    it('leaves no chunk row behind when claims race an abort', async () => {
      const upload = anUpload(32 * KiB, KiB);
      await repo.create(upload);
      const claims = Array.from({ length: 32 }, (_, index) =>
        repo.claimChunk({ uploadId: upload.id, index, token: `t${index}`, now: at(1_000), leaseMs: 60_000 }),
      );
      const closing = repo.close({ uploadId: upload.id, state: 'aborted', now: at(1_000) }, async () => {});
      const [outcomes, closed] = await Promise.all([Promise.all(claims), closing]);
      expect(closed?.state).toBe('aborted');
      expect(outcomes.every((o) => o === 'claimed' || o === 'not-receiving')).toBe(true);
      const [leftover] = await orm.em.fork().execute<{ n: number }[]>('select count(*)::int as n from chunks where upload_id = ?', [upload.id]);
      expect(leftover?.n).toBe(0);
    });
  });

  describe('blob references between recordChunkStored and close', () => {
    it('keeps a blob that another upload references while the close runs', async () => {
      const sha256 = randomSha();
      // Two chunks each, so storing one leaves them receiving (and so expirable).
      const first = anUpload(8 * KiB, 4 * KiB);
      const second = anUpload(8 * KiB, 4 * KiB);
      await repo.create(first);
      await repo.create(second);
      await repo.recordChunkStored({ uploadId: first.id, index: 0, size: 4 * KiB, sha256, now: at(1_000) }, async () => {});

      // The second upload's worker is inside ensureBlob, holding the blob row, when the first is aborted.
      const hold = gate();
      const inEnsure = gate();
      const storing = repo.recordChunkStored({ uploadId: second.id, index: 0, size: 4 * KiB, sha256, now: at(2_000) }, async () => {
        inEnsure.open();
        await hold.opened;
      });
      await reached(inEnsure.opened, storing, 'store finished without calling ensureBlob');
      const deleted: string[] = [];
      let closeDone = false;
      const closing = repo
        .close({ uploadId: first.id, state: 'aborted', now: at(2_000) }, async (sha) => {
          deleted.push(sha);
        })
        .then((result) => {
          closeDone = true;
          return result;
        });
      await sleep(200);
      expect(closeDone).toBe(false);
      hold.open();
      expect((await storing).status).toBe('stored');
      expect((await closing)?.state).toBe('aborted');
      expect(deleted).toEqual([]);

      await repo.close({ uploadId: second.id, state: 'aborted', now: at(3_000) }, async (sha) => {
        deleted.push(sha);
      });
      expect(deleted).toEqual([sha256]);
    });

    it('makes a store of the same content wait until a close has deleted the blob, then store it afresh', async () => {
      const sha256 = randomSha();
      // Two chunks each, so storing one leaves them receiving (and so expirable).
      const first = anUpload(8 * KiB, 4 * KiB);
      const second = anUpload(8 * KiB, 4 * KiB);
      await repo.create(first);
      await repo.create(second);
      await repo.recordChunkStored({ uploadId: first.id, index: 0, size: 4 * KiB, sha256, now: at(1_000) }, async () => {});

      const events: string[] = [];
      const hold = gate();
      const inDelete = gate();
      const closing = repo.close({ uploadId: first.id, state: 'expired', now: at(2_000) }, async () => {
        events.push('delete started');
        inDelete.open();
        await hold.opened;
        events.push('delete finished');
      });
      await reached(inDelete.opened, closing, 'close finished without deleting the blob');
      const storing = repo.recordChunkStored({ uploadId: second.id, index: 0, size: 4 * KiB, sha256, now: at(2_000) }, async () => {
        events.push('ensure');
      });
      await sleep(200);
      expect(events).toEqual(['delete started']);
      hold.open();
      expect((await closing)?.state).toBe('expired');
      expect((await storing).status).toBe('stored');
      expect(events).toEqual(['delete started', 'delete finished', 'ensure']);

      const deleted: string[] = [];
      await repo.close({ uploadId: second.id, state: 'aborted', now: at(3_000) }, async (sha) => {
        deleted.push(sha);
      });
      expect(deleted).toEqual([sha256]);
    });
  });
});
