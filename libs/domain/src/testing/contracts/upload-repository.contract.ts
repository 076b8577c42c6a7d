import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ValidationError } from '../../shared/errors';
import { newUpload, type NewUpload } from '../../upload/upload.entity';
import type { UploadProps } from '../../upload/upload.types';
import type { ChunkStoredOutcome, UploadRepository } from '../../ports';

const KiB = 1024;
const GiB = 1024 * 1024 * 1024;
const LEASE_MS = 60_000;
const T0 = new Date('2026-03-01T12:00:00.000Z');

/** A moment `ms` after the start of every test's timeline. */
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const randomSha = (): string => randomBytes(32).toString('hex');
const shaOf = (text: string): string => createHash('sha256').update(text).digest('hex');
const newToken = (): string => randomBytes(12).toString('base64url');
const noBlobWork = async (): Promise<void> => {};

/**
 * A pending upload of 10 KiB in 4 KiB chunks (3 chunks: 4096, 4096, 2048) owned by a fresh
 * owner, so tests never see each other's rows. `patch` overrides fields after construction.
 */
function anUpload(input: Partial<NewUpload> = {}, patch: Partial<UploadProps> = {}): UploadProps {
  return {
    ...newUpload({
      id: randomUUID(),
      ownerId: `owner-${randomUUID()}`,
      filename: 'movie.mp4',
      contentType: 'video/mp4',
      size: 10 * KiB,
      chunkSize: 4 * KiB,
      declaredSha256: null,
      metadata: {},
      protocol: 'native',
      now: T0,
      ttlMs: 86_400_000,
      ...input,
    }),
    ...patch,
  };
}

/** Records every call of the blob callbacks, optionally failing them. */
function blobSpy() {
  const ensured: number[] = [];
  const deleted: string[] = [];
  return {
    ensured,
    deleted,
    ensure: (failWith?: Error) => async () => {
      ensured.push(ensured.length);
      if (failWith) throw failWith;
    },
    delete: (failWith?: Error) => async (sha256: string) => {
      deleted.push(sha256);
      if (failWith) throw failWith;
    },
  };
}

/**
 * The behaviour every UploadRepository adapter must share. Call it from an adapter's test
 * file; `setup` runs before each test and gives a repository (it may hold rows of earlier
 * tests: every test here uses fresh ids, owners and digests).
 */
export function describeUploadRepositoryContract(name: string, setup: () => Promise<{ repo: UploadRepository; teardown: () => Promise<void> }>): void {
  describe(`UploadRepository contract: ${name}`, () => {
    let repo: UploadRepository;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ repo, teardown } = await setup());
    });

    afterEach(async () => {
      await teardown();
    });

    async function created(input: Partial<NewUpload> = {}, patch: Partial<UploadProps> = {}): Promise<UploadProps> {
      const upload = anUpload(input, patch);
      await repo.create(upload);
      return upload;
    }

    async function claim(uploadId: string, index: number, token = newToken(), now = at(1_000)) {
      return repo.claimChunk({ uploadId, index, token, now, leaseMs: LEASE_MS });
    }

    /** Claims and marks an index received, as the gateway does; returns the token. */
    async function received(uploadId: string, index: number, size: number, now = at(1_000)): Promise<string> {
      const token = newToken();
      expect(await claim(uploadId, index, token, now)).toBe('claimed');
      expect(await repo.markChunkReceived({ uploadId, index, token, size, now })).toBe(true);
      return token;
    }

    async function stored(uploadId: string, index: number, size: number, sha256 = randomSha(), now = at(2_000)): Promise<ChunkStoredOutcome> {
      return repo.recordChunkStored({ uploadId, index, size, sha256, now }, noBlobWork);
    }

    /** Receives and stores every chunk of a 10 KiB upload: it ends up finalizing at seq 6. */
    async function fullyStored(input: Partial<NewUpload> = {}): Promise<UploadProps> {
      const upload = await created(input);
      const sizes = [4 * KiB, 4 * KiB, 2 * KiB];
      for (const [index, size] of sizes.entries()) {
        await received(upload.id, index, size);
        await stored(upload.id, index, size, shaOf(`${upload.id}/${index}`));
      }
      const after = (await repo.findById(upload.id))!;
      expect(after).toMatchObject({ state: 'finalizing', seq: 6, chunksStored: 3 });
      return after;
    }

    describe('create, findById, findChunk', () => {
      it('round-trips every field of a fresh upload', async () => {
        const upload = await created({ metadata: { source: 'camera', album: 'été' }, declaredSha256: randomSha(), protocol: 'tus' });
        expect(await repo.findById(upload.id)).toEqual(upload);
      });

      it('round-trips a deferred length, byte counts beyond 32 bits and a settled upload', async () => {
        const deferred = await created({ size: null, protocol: 'form' });
        expect(await repo.findById(deferred.id)).toEqual({ ...deferred, size: null, chunkCount: null });

        const big = await created(
          { size: 100 * GiB, chunkSize: 64 * 1024 * KiB },
          { state: 'completed', bytesReceived: 100 * GiB, bytesStored: 100 * GiB, chunksStored: 1600, sha256: randomSha(), seq: 3201, completedAt: at(9_000), updatedAt: at(9_000) },
        );
        expect(big.chunkCount).toBe(1600);
        expect(await repo.findById(big.id)).toEqual(big);
      });

      it('answers null for an unknown upload and for an index never claimed', async () => {
        const upload = await created();
        expect(await repo.findById(randomUUID())).toBeNull();
        expect(await repo.findChunk(upload.id, 0)).toBeNull();
        expect(await repo.findChunk(randomUUID(), 0)).toBeNull();
      });

      it('treats an id that is not a UUID as unknown', async () => {
        expect(await repo.findById('not-a-uuid')).toBeNull();
        expect(await repo.findSnapshot('not-a-uuid')).toBeNull();
        expect(await repo.findChunk('not-a-uuid', 0)).toBeNull();
        expect(await repo.listStoredChunks('not-a-uuid')).toEqual([]);
        expect(await claim('not-a-uuid', 0)).toBe('not-receiving');
        expect(await repo.close({ uploadId: 'not-a-uuid', state: 'aborted', now: at(1) }, noBlobWork)).toBeNull();
      });

      it('refuses a second upload with the same id', async () => {
        const upload = await created();
        await expect(repo.create({ ...upload, filename: 'other' })).rejects.toThrow();
        expect((await repo.findById(upload.id))?.filename).toBe('movie.mp4');
      });
    });

    describe('claimChunk', () => {
      it('claims a fresh index and leaves the upload row as it was, even a pending one', async () => {
        const upload = await created();
        const token = newToken();
        expect(await claim(upload.id, 1, token, at(500))).toBe('claimed');
        expect(await repo.findChunk(upload.id, 1)).toEqual({ state: 'receiving', token });
        expect(await repo.findById(upload.id)).toEqual(upload);
        // a claim released after a failed request leaves no trace at all
        await repo.releaseChunkClaim({ uploadId: upload.id, index: 1, token });
        expect(await repo.findSnapshot(upload.id)).toEqual({ upload, missing: [0, 1, 2] });
      });

      it('leaves a receiving upload untouched when claiming another index', async () => {
        const upload = await created();
        await claim(upload.id, 0, newToken(), at(500));
        const before = await repo.findById(upload.id);
        expect(await claim(upload.id, 1, newToken(), at(700))).toBe('claimed');
        expect(await repo.findById(upload.id)).toEqual(before);
      });

      it('answers taken for an index being received within its lease, and keeps the first claim', async () => {
        const upload = await created();
        const first = newToken();
        await claim(upload.id, 0, first, at(1_000));
        expect(await claim(upload.id, 0, newToken(), at(1_000))).toBe('taken');
        expect(await claim(upload.id, 0, newToken(), at(1_000 + LEASE_MS))).toBe('taken');
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'receiving', token: first });
      });

      it('takes over a claim older than the lease', async () => {
        const upload = await created();
        await claim(upload.id, 0, newToken(), at(1_000));
        const second = newToken();
        expect(await claim(upload.id, 0, second, at(1_000 + LEASE_MS + 1))).toBe('claimed');
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'receiving', token: second });
      });

      it('answers taken for a received or stored index, however old', async () => {
        const upload = await created();
        await received(upload.id, 0, 4 * KiB, at(1_000));
        await received(upload.id, 1, 4 * KiB, at(1_000));
        await stored(upload.id, 1, 4 * KiB);
        expect(await claim(upload.id, 0, newToken(), at(10 * LEASE_MS))).toBe('taken');
        expect(await claim(upload.id, 1, newToken(), at(10 * LEASE_MS))).toBe('taken');
        expect((await repo.findChunk(upload.id, 0))?.state).toBe('received');
        expect((await repo.findChunk(upload.id, 1))?.state).toBe('stored');
      });

      it('claims a rejected index again', async () => {
        const upload = await created();
        const token = await received(upload.id, 0, 4 * KiB);
        await repo.recordChunkRejected({ uploadId: upload.id, index: 0, token, reason: 'digest-mismatch', now: at(1_500) });
        const retry = newToken();
        expect(await claim(upload.id, 0, retry, at(1_600))).toBe('claimed');
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'receiving', token: retry });
      });

      it('answers not-receiving for an unknown upload and for every state but pending and receiving', async () => {
        expect(await claim(randomUUID(), 0)).toBe('not-receiving');
        for (const state of ['finalizing', 'completed', 'failed', 'aborted', 'expired'] as const) {
          const upload = await created({}, { state });
          expect(await claim(upload.id, 0)).toBe('not-receiving');
          expect(await repo.findChunk(upload.id, 0)).toBeNull();
          expect(await repo.findById(upload.id)).toEqual(upload);
        }
      });

      it('lets exactly one of many simultaneous claims of one index win', async () => {
        const upload = await created();
        const tokens = Array.from({ length: 8 }, newToken);
        const outcomes = await Promise.all(tokens.map((token) => claim(upload.id, 2, token)));
        expect(outcomes.filter((o) => o === 'claimed')).toHaveLength(1);
        expect(outcomes.filter((o) => o === 'taken')).toHaveLength(7);
        const winner = tokens[outcomes.indexOf('claimed')];
        expect(await repo.findChunk(upload.id, 2)).toEqual({ state: 'receiving', token: winner });
        expect((await repo.findById(upload.id))?.state).toBe('pending');
      });
    });

    describe('markChunkReceived', () => {
      it('marks the claim received and counts its bytes once', async () => {
        const upload = await created();
        const token = newToken();
        await claim(upload.id, 0, token, at(1_000));
        expect(await repo.markChunkReceived({ uploadId: upload.id, index: 0, token, size: 4 * KiB, now: at(1_200) })).toBe(true);
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'received', token });
        expect(await repo.findById(upload.id)).toEqual({ ...upload, state: 'receiving', bytesReceived: 4 * KiB, updatedAt: at(1_200) });

        expect(await repo.markChunkReceived({ uploadId: upload.id, index: 0, token, size: 4 * KiB, now: at(1_300) })).toBe(false);
        expect((await repo.findById(upload.id))?.bytesReceived).toBe(4 * KiB);
        expect((await repo.findById(upload.id))?.updatedAt).toEqual(at(1_200));
      });

      it('answers false and changes nothing for another token, an unclaimed index or an unknown upload', async () => {
        const upload = await created();
        const token = newToken();
        await claim(upload.id, 0, token, at(1_000));
        const before = await repo.findById(upload.id);
        expect(await repo.markChunkReceived({ uploadId: upload.id, index: 0, token: newToken(), size: 4 * KiB, now: at(1_100) })).toBe(false);
        expect(await repo.markChunkReceived({ uploadId: upload.id, index: 1, token, size: 4 * KiB, now: at(1_100) })).toBe(false);
        expect(await repo.markChunkReceived({ uploadId: randomUUID(), index: 0, token, size: 4 * KiB, now: at(1_100) })).toBe(false);
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'receiving', token });
        expect(await repo.findChunk(upload.id, 1)).toBeNull();
        expect(await repo.findById(upload.id)).toEqual(before);
      });

      it('answers false when the worker stored the chunk first, without counting it twice', async () => {
        const upload = await created();
        const token = newToken();
        await claim(upload.id, 0, token);
        await stored(upload.id, 0, 4 * KiB);
        expect(await repo.markChunkReceived({ uploadId: upload.id, index: 0, token, size: 4 * KiB, now: at(3_000) })).toBe(false);
        expect(await repo.findById(upload.id)).toMatchObject({ bytesReceived: 4 * KiB, bytesStored: 4 * KiB, chunksStored: 1 });
      });
    });

    describe('releaseChunkClaim', () => {
      it('drops the claim so the index is missing and can be claimed again at once', async () => {
        const upload = await created();
        const token = newToken();
        await claim(upload.id, 1, token);
        const before = await repo.findById(upload.id);
        await repo.releaseChunkClaim({ uploadId: upload.id, index: 1, token });
        expect(await repo.findChunk(upload.id, 1)).toBeNull();
        expect(await repo.findById(upload.id)).toEqual(before);
        expect((await repo.findSnapshot(upload.id))?.missing).toEqual([0, 1, 2]);
        expect(await claim(upload.id, 1)).toBe('claimed');
      });

      it('leaves another attempt, a received chunk and a stored chunk alone', async () => {
        const upload = await created();
        const holder = newToken();
        await claim(upload.id, 0, holder);
        await repo.releaseChunkClaim({ uploadId: upload.id, index: 0, token: newToken() });
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'receiving', token: holder });

        const receivedToken = await received(upload.id, 1, 4 * KiB);
        await repo.releaseChunkClaim({ uploadId: upload.id, index: 1, token: receivedToken });
        expect(await repo.findChunk(upload.id, 1)).toEqual({ state: 'received', token: receivedToken });

        const storedToken = await received(upload.id, 2, 2 * KiB);
        await stored(upload.id, 2, 2 * KiB);
        await repo.releaseChunkClaim({ uploadId: upload.id, index: 2, token: storedToken });
        expect((await repo.findChunk(upload.id, 2))?.state).toBe('stored');

        await expect(repo.releaseChunkClaim({ uploadId: randomUUID(), index: 0, token: holder })).resolves.toBeUndefined();
      });
    });

    describe('recordChunkStored', () => {
      it('stores a received chunk: counters move, bytes are not counted twice, seq advances by 2', async () => {
        const upload = await created();
        const token = await received(upload.id, 0, 4 * KiB, at(1_000));
        const spy = blobSpy();
        const sha256 = randomSha();
        const outcome = await repo.recordChunkStored({ uploadId: upload.id, index: 0, size: 4 * KiB, sha256, now: at(2_000) }, spy.ensure());
        const expected = { ...upload, state: 'receiving', bytesReceived: 4 * KiB, bytesStored: 4 * KiB, chunksStored: 1, seq: 2, updatedAt: at(2_000) };
        expect(outcome).toEqual({ status: 'stored', upload: expected });
        expect(await repo.findById(upload.id)).toEqual(expected);
        expect(spy.ensured).toHaveLength(1);
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'stored', token });
        expect(await repo.listStoredChunks(upload.id)).toEqual([{ index: 0, size: 4 * KiB, sha256 }]);
      });

      it('counts the bytes of a chunk stored before the gateway marked it received', async () => {
        const upload = await created();
        await claim(upload.id, 1);
        const outcome = await stored(upload.id, 1, 4 * KiB);
        expect(outcome.upload).toMatchObject({ bytesReceived: 4 * KiB, bytesStored: 4 * KiB, chunksStored: 1, seq: 2 });
      });

      it('stores a chunk whose row is gone (its claim was released after the job was queued)', async () => {
        const upload = await created();
        const outcome = await stored(upload.id, 2, 2 * KiB);
        expect(outcome.status).toBe('stored');
        expect(outcome.upload).toMatchObject({ state: 'receiving', bytesReceived: 2 * KiB, bytesStored: 2 * KiB, chunksStored: 1, seq: 2 });
        expect(await repo.findChunk(upload.id, 2)).toEqual({ state: 'stored', token: null });
      });

      it('answers duplicate for a chunk already stored and changes nothing, however often it is redelivered', async () => {
        const upload = await created();
        await received(upload.id, 0, 4 * KiB);
        const first = await stored(upload.id, 0, 4 * KiB);
        const spy = blobSpy();
        for (let i = 0; i < 3; i += 1) {
          const again = await repo.recordChunkStored({ uploadId: upload.id, index: 0, size: 4 * KiB, sha256: randomSha(), now: at(5_000 + i) }, spy.ensure());
          expect(again).toEqual({ status: 'duplicate', upload: first.upload });
        }
        expect(spy.ensured).toHaveLength(0);
        expect(await repo.findById(upload.id)).toEqual(first.upload);
        expect(await repo.listStoredChunks(upload.id)).toHaveLength(1);
      });

      it('moves the upload to finalizing with the last chunk, and seq counts two per chunk', async () => {
        const upload = await created();
        const outcomes: ChunkStoredOutcome[] = [];
        for (const [index, size] of [4 * KiB, 4 * KiB, 2 * KiB].entries()) {
          await received(upload.id, index, size);
          outcomes.push(await stored(upload.id, index, size, randomSha(), at(2_000 + index)));
        }
        expect(outcomes.map((o) => [o.status, o.upload?.state, o.upload?.seq])).toEqual([
          ['stored', 'receiving', 2],
          ['stored', 'receiving', 4],
          ['stored', 'finalizing', 6],
        ]);
        expect(await repo.findSnapshot(upload.id)).toEqual({
          upload: { ...upload, state: 'finalizing', bytesReceived: 10 * KiB, bytesStored: 10 * KiB, chunksStored: 3, seq: 6, updatedAt: at(2_002) },
          missing: [],
        });
      });

      it('never finalizes while the length is deferred', async () => {
        const upload = await created({ size: null });
        for (let index = 0; index < 3; index += 1) await stored(upload.id, index, 4 * KiB);
        expect(await repo.findById(upload.id)).toMatchObject({ state: 'receiving', chunksStored: 3, bytesStored: 12 * KiB, chunkCount: null, seq: 6 });
      });

      it('answers upload-closed without calling ensureBlob for an unknown or closed upload', async () => {
        const spy = blobSpy();
        expect(await repo.recordChunkStored({ uploadId: randomUUID(), index: 0, size: 1, sha256: randomSha(), now: at(2_000) }, spy.ensure())).toEqual({
          status: 'upload-closed',
          upload: null,
        });
        for (const state of ['finalizing', 'completed', 'failed', 'aborted', 'expired'] as const) {
          const upload = await created({}, { state });
          const outcome = await repo.recordChunkStored({ uploadId: upload.id, index: 0, size: 4 * KiB, sha256: randomSha(), now: at(2_000) }, spy.ensure());
          expect(outcome).toEqual({ status: 'upload-closed', upload });
          expect(await repo.findChunk(upload.id, 0)).toBeNull();
        }
        expect(spy.ensured).toHaveLength(0);
      });

      it('rolls everything back when ensureBlob fails, and propagates its error', async () => {
        const upload = await created();
        const token = await received(upload.id, 0, 4 * KiB);
        const before = await repo.findById(upload.id);
        const sha256 = randomSha();
        const failure = new Error('blob store unreachable');
        await expect(
          repo.recordChunkStored({ uploadId: upload.id, index: 0, size: 4 * KiB, sha256, now: at(2_000) }, blobSpy().ensure(failure)),
        ).rejects.toBe(failure);
        expect(await repo.findById(upload.id)).toEqual(before);
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'received', token });
        expect(await repo.listStoredChunks(upload.id)).toEqual([]);

        // The failed attempt took no blob reference: one successful store, one close, one delete.
        await stored(upload.id, 0, 4 * KiB, sha256);
        const spy = blobSpy();
        await repo.close({ uploadId: upload.id, state: 'aborted', now: at(3_000) }, spy.delete());
        expect(spy.deleted).toEqual([sha256]);
      });
    });

    describe('recordChunkRejected', () => {
      it('rejects a received attempt: its bytes leave bytesReceived, seq += 1, the index is missing again', async () => {
        const upload = await created();
        const token = await received(upload.id, 1, 4 * KiB, at(1_000));
        const result = await repo.recordChunkRejected({ uploadId: upload.id, index: 1, token, reason: 'digest-mismatch', now: at(1_500) });
        const expected = { ...upload, state: 'receiving', bytesReceived: 0, seq: 1, updatedAt: at(1_500) };
        expect(result).toEqual({ rejected: true, upload: expected });
        expect(await repo.findChunk(upload.id, 1)).toEqual({ state: 'rejected', token });
        expect(await repo.findSnapshot(upload.id)).toEqual({ upload: expected, missing: [0, 1, 2] });

        const again = await repo.recordChunkRejected({ uploadId: upload.id, index: 1, token, reason: 'digest-mismatch', now: at(1_600) });
        expect(again).toEqual({ rejected: false, upload: expected });
      });

      it('rejects an attempt still receiving without touching bytesReceived', async () => {
        const upload = await created();
        await received(upload.id, 0, 4 * KiB);
        const token = newToken();
        await claim(upload.id, 1, token);
        const result = await repo.recordChunkRejected({ uploadId: upload.id, index: 1, token, reason: 'staging-lost', now: at(1_500) });
        expect(result.rejected).toBe(true);
        expect(result.upload).toMatchObject({ bytesReceived: 4 * KiB, seq: 1 });
      });

      it('leaves a newer attempt and a stored chunk alone', async () => {
        const upload = await created();
        const old = newToken();
        await claim(upload.id, 0, old, at(1_000));
        const newer = newToken();
        await claim(upload.id, 0, newer, at(1_000 + LEASE_MS + 1));
        const storedToken = await received(upload.id, 1, 4 * KiB);
        await stored(upload.id, 1, 4 * KiB);
        const before = await repo.findById(upload.id);

        expect(await repo.recordChunkRejected({ uploadId: upload.id, index: 0, token: old, reason: 'staging-lost', now: at(90_000) })).toEqual({ rejected: false, upload: before });
        expect(await repo.recordChunkRejected({ uploadId: upload.id, index: 1, token: storedToken, reason: 'staging-lost', now: at(90_000) })).toEqual({ rejected: false, upload: before });
        expect(await repo.recordChunkRejected({ uploadId: upload.id, index: 2, token: old, reason: 'staging-lost', now: at(90_000) })).toEqual({ rejected: false, upload: before });
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'receiving', token: newer });
        expect(await repo.findChunk(upload.id, 1)).toEqual({ state: 'stored', token: storedToken });
        expect(await repo.findById(upload.id)).toEqual(before);
      });

      it('answers rejected false and a null upload for an unknown upload', async () => {
        expect(await repo.recordChunkRejected({ uploadId: randomUUID(), index: 0, token: 'x', reason: 'staging-lost', now: at(1) })).toEqual({ rejected: false, upload: null });
      });
    });

    describe('findSnapshot', () => {
      it('lists absent, receiving and rejected indices as missing, in order', async () => {
        const upload = await created({ size: 6 * 4 * KiB });
        await received(upload.id, 0, 4 * KiB);
        await stored(upload.id, 0, 4 * KiB);
        await received(upload.id, 1, 4 * KiB);
        await claim(upload.id, 2);
        const rejectedToken = await received(upload.id, 3, 4 * KiB);
        await repo.recordChunkRejected({ uploadId: upload.id, index: 3, token: rejectedToken, reason: 'digest-mismatch', now: at(3_000) });
        await stored(upload.id, 5, 4 * KiB);
        const snapshot = await repo.findSnapshot(upload.id);
        expect(snapshot?.missing).toEqual([2, 3, 4]);
        expect(snapshot?.upload).toEqual(await repo.findById(upload.id));
      });

      it('lists only receiving and rejected rows while the length is deferred', async () => {
        const upload = await created({ size: null });
        await stored(upload.id, 0, 4 * KiB);
        await received(upload.id, 1, 4 * KiB);
        await claim(upload.id, 4);
        const token = await received(upload.id, 2, 4 * KiB);
        await repo.recordChunkRejected({ uploadId: upload.id, index: 2, token, reason: 'staging-lost', now: at(3_000) });
        expect((await repo.findSnapshot(upload.id))?.missing).toEqual([2, 4]);
      });

      it('handles 10,000 chunks', async () => {
        const upload = await created({ size: 10_000 * KiB - 1, chunkSize: KiB });
        expect(upload.chunkCount).toBe(10_000);
        for (const index of [0, 5_000, 9_999]) await stored(upload.id, index, index === 9_999 ? KiB - 1 : KiB);
        const missing = (await repo.findSnapshot(upload.id))!.missing;
        expect(missing).toHaveLength(9_997);
        expect(missing.slice(0, 3)).toEqual([1, 2, 3]);
        expect(missing.slice(4_997, 5_000)).toEqual([4_998, 4_999, 5_001]);
        expect(missing[missing.length - 1]).toBe(9_998);
      });

      it('returns an aborted upload too, and null for an unknown id', async () => {
        const upload = await created();
        await repo.close({ uploadId: upload.id, state: 'aborted', now: at(5_000) }, noBlobWork);
        expect((await repo.findSnapshot(upload.id))?.upload.state).toBe('aborted');
        expect(await repo.findSnapshot(randomUUID())).toBeNull();
      });

      it('has nothing missing for an empty upload', async () => {
        const upload = await created({ size: 0 }, { state: 'completed', completedAt: T0 });
        expect(await repo.findSnapshot(upload.id)).toEqual({ upload, missing: [] });
      });
    });

    describe('list', () => {
      /** Five uploads of one owner created a second apart, two of them at the same instant. */
      async function fiveUploads() {
        const ownerId = `owner-${randomUUID()}`;
        const [idLow, idHigh] = [randomUUID(), randomUUID()].sort();
        const oldest = await created({ ownerId, now: at(1_000) });
        const twinLow = await created({ ownerId, id: idLow!, now: at(2_000) });
        const twinHigh = await created({ ownerId, id: idHigh!, now: at(2_000) });
        const completed = await created({ ownerId, now: at(3_000) }, { state: 'completed', completedAt: at(3_500) });
        const newest = await created({ ownerId, now: at(4_000) });
        const aborted = await created({ ownerId, now: at(5_000) });
        await repo.close({ uploadId: aborted.id, state: 'aborted', now: at(6_000) }, noBlobWork);
        await created({ now: at(4_500) });
        return { ownerId, order: [newest, completed, twinHigh, twinLow, oldest] };
      }

      it('lists the owner’s uploads newest first (ties by id, descending), without aborted ones, with their missing indices', async () => {
        const { ownerId, order } = await fiveUploads();
        await received(order[0]!.id, 1, 4 * KiB);
        const page = await repo.list({ ownerId, limit: 100 });
        expect(page.items.map((s) => s.upload.id)).toEqual(order.map((u) => u.id));
        expect(page.nextCursor).toBeNull();
        expect(page.items[0]).toEqual(await repo.findSnapshot(order[0]!.id));
        expect(page.items[0]?.missing).toEqual([0, 2]);
        expect(page.items[1]?.missing).toEqual([0, 1, 2]);
      });

      it('pages with an opaque cursor that is null on the last page', async () => {
        const { ownerId, order } = await fiveUploads();
        const first = await repo.list({ ownerId, limit: 2 });
        expect(first.items.map((s) => s.upload.id)).toEqual([order[0]!.id, order[1]!.id]);
        expect(typeof first.nextCursor).toBe('string');
        const second = await repo.list({ ownerId, limit: 2, cursor: first.nextCursor! });
        expect(second.items.map((s) => s.upload.id)).toEqual([order[2]!.id, order[3]!.id]);
        const third = await repo.list({ ownerId, limit: 2, cursor: second.nextCursor! });
        expect(third.items.map((s) => s.upload.id)).toEqual([order[4]!.id]);
        expect(third.nextCursor).toBeNull();
      });

      it('gives no cursor when the page ends exactly at the last upload', async () => {
        const { ownerId } = await fiveUploads();
        const page = await repo.list({ ownerId, limit: 5 });
        expect(page.items).toHaveLength(5);
        expect(page.nextCursor).toBeNull();
      });

      it('filters by state, and an aborted filter finds nothing', async () => {
        const { ownerId, order } = await fiveUploads();
        expect((await repo.list({ ownerId, state: 'completed', limit: 10 })).items.map((s) => s.upload.id)).toEqual([order[1]!.id]);
        expect((await repo.list({ ownerId, state: 'pending', limit: 10 })).items).toHaveLength(4);
        expect(await repo.list({ ownerId, state: 'aborted', limit: 10 })).toEqual({ items: [], nextCursor: null });
        expect(await repo.list({ ownerId: `owner-${randomUUID()}`, limit: 10 })).toEqual({ items: [], nextCursor: null });
      });

      it.each([
        ['garbage', 'not a cursor!'],
        ['base64 of something else', Buffer.from('{"a":1}').toString('base64url')],
        ['a date that is not one', Buffer.from(JSON.stringify(['yesterday', randomUUID()])).toString('base64url')],
        ['an id that is not a UUID', Buffer.from(JSON.stringify([T0.toISOString(), 'x'])).toString('base64url')],
        ['an empty string', ''],
      ])('refuses a cursor that is %s with a ValidationError', async (_case, cursor) => {
        const attempt = repo.list({ ownerId: 'someone', limit: 10, cursor });
        await expect(attempt).rejects.toBeInstanceOf(ValidationError);
        await expect(repo.list({ ownerId: 'someone', limit: 10, cursor })).rejects.toMatchObject({ code: 'validation-failed' });
      });
    });

    describe('setLength', () => {
      it('fixes size and chunk count of a deferred upload, keeping seq', async () => {
        const upload = await created({ size: null });
        await stored(upload.id, 0, 4 * KiB);
        const after = await repo.setLength({ uploadId: upload.id, size: 9 * KiB, now: at(4_000) });
        const expected = { ...upload, size: 9 * KiB, chunkCount: 3, state: 'receiving', bytesReceived: 4 * KiB, bytesStored: 4 * KiB, chunksStored: 1, seq: 2, updatedAt: at(4_000) };
        expect(after).toEqual(expected);
        expect(await repo.findSnapshot(upload.id)).toEqual({ upload: expected, missing: [1, 2] });
      });

      it('moves the upload to finalizing when every chunk is already stored', async () => {
        const upload = await created({ size: null });
        await stored(upload.id, 0, 4 * KiB);
        await stored(upload.id, 1, KiB);
        const after = await repo.setLength({ uploadId: upload.id, size: 5 * KiB, now: at(4_000) });
        expect(after).toMatchObject({ state: 'finalizing', size: 5 * KiB, chunkCount: 2, chunksStored: 2, seq: 4 });
        expect((await repo.findSnapshot(upload.id))?.missing).toEqual([]);
      });

      it('finalizes an empty deferred upload at once', async () => {
        const upload = await created({ size: null });
        expect(await repo.setLength({ uploadId: upload.id, size: 0, now: at(4_000) })).toEqual({ ...upload, size: 0, chunkCount: 0, state: 'finalizing', updatedAt: at(4_000) });
      });

      it('accepts the same length again and refuses a different one', async () => {
        const upload = await created({ size: null });
        const first = await repo.setLength({ uploadId: upload.id, size: 9 * KiB, now: at(4_000) });
        expect(await repo.setLength({ uploadId: upload.id, size: 9 * KiB, now: at(5_000) })).toEqual(first);
        await expect(repo.setLength({ uploadId: upload.id, size: 8 * KiB, now: at(5_000) })).rejects.toBeInstanceOf(ValidationError);
        expect(await repo.findById(upload.id)).toEqual(first);
      });

      it('refuses an unknown upload', async () => {
        await expect(repo.setLength({ uploadId: randomUUID(), size: 1, now: at(1) })).rejects.toMatchObject({ code: 'not-found' });
      });
    });

    describe('listStoredChunks', () => {
      it('lists only stored chunks, in index order', async () => {
        const upload = await created({ size: 5 * 4 * KiB });
        const shas = [randomSha(), randomSha(), randomSha()];
        await stored(upload.id, 4, 4 * KiB, shas[2]);
        await received(upload.id, 1, 4 * KiB);
        await stored(upload.id, 0, 4 * KiB, shas[0]);
        await claim(upload.id, 3);
        await stored(upload.id, 2, 4 * KiB, shas[1]);
        expect(await repo.listStoredChunks(upload.id)).toEqual([
          { index: 0, size: 4 * KiB, sha256: shas[0] },
          { index: 2, size: 4 * KiB, sha256: shas[1] },
          { index: 4, size: 4 * KiB, sha256: shas[2] },
        ]);
        expect(await repo.listStoredChunks(randomUUID())).toEqual([]);
      });
    });

    describe('complete and fail', () => {
      it('completes a finalizing upload once', async () => {
        const upload = await fullyStored();
        const sha256 = randomSha();
        const expected = { ...upload, state: 'completed', sha256, completedAt: at(7_000), updatedAt: at(7_000), seq: 7 };
        expect(await repo.complete({ uploadId: upload.id, sha256, now: at(7_000) })).toEqual({ changed: true, upload: expected });
        expect(await repo.complete({ uploadId: upload.id, sha256, now: at(8_000) })).toEqual({ changed: false, upload: expected });
        expect(await repo.fail({ uploadId: upload.id, sha256, now: at(8_000) })).toEqual({ changed: false, upload: expected });
        expect(await repo.findById(upload.id)).toEqual(expected);
      });

      it('fails a finalizing upload once, with the computed digest and no completion time', async () => {
        const upload = await fullyStored();
        const sha256 = randomSha();
        const expected = { ...upload, state: 'failed', sha256, completedAt: null, updatedAt: at(7_000), seq: 7 };
        expect(await repo.fail({ uploadId: upload.id, sha256, now: at(7_000) })).toEqual({ changed: true, upload: expected });
        expect(await repo.fail({ uploadId: upload.id, sha256, now: at(8_000) })).toEqual({ changed: false, upload: expected });
        expect(await repo.complete({ uploadId: upload.id, sha256, now: at(8_000) })).toEqual({ changed: false, upload: expected });
      });

      it('changes nothing for an upload that is not finalizing, and answers null for an unknown one', async () => {
        const upload = await created();
        await claim(upload.id, 0);
        const before = await repo.findById(upload.id);
        expect(await repo.complete({ uploadId: upload.id, sha256: randomSha(), now: at(7_000) })).toEqual({ changed: false, upload: before });
        expect(await repo.fail({ uploadId: upload.id, sha256: randomSha(), now: at(7_000) })).toEqual({ changed: false, upload: before });
        expect(await repo.complete({ uploadId: randomUUID(), sha256: randomSha(), now: at(7_000) })).toEqual({ changed: false, upload: null });
        expect(await repo.fail({ uploadId: randomUUID(), sha256: randomSha(), now: at(7_000) })).toEqual({ changed: false, upload: null });
      });
    });

    describe('close', () => {
      it('aborts a receiving upload: chunk rows go, every unshared blob is deleted, seq += 1', async () => {
        const upload = await created();
        const shas = [randomSha(), randomSha()];
        await received(upload.id, 0, 4 * KiB);
        await stored(upload.id, 0, 4 * KiB, shas[0]);
        await stored(upload.id, 1, 4 * KiB, shas[1]);
        await received(upload.id, 2, 2 * KiB);
        const before = (await repo.findById(upload.id))!;
        const spy = blobSpy();
        const closed = await repo.close({ uploadId: upload.id, state: 'aborted', now: at(9_000) }, spy.delete());
        expect(closed).toEqual({ ...before, state: 'aborted', seq: before.seq + 1, updatedAt: at(9_000) });
        expect(await repo.findById(upload.id)).toEqual(closed);
        expect([...spy.deleted].sort()).toEqual([...shas].sort());
        for (const index of [0, 1, 2]) expect(await repo.findChunk(upload.id, index)).toBeNull();
        expect(await repo.listStoredChunks(upload.id)).toEqual([]);
      });

      it('answers null and deletes nothing the second time', async () => {
        const upload = await created();
        await stored(upload.id, 0, 4 * KiB);
        await repo.close({ uploadId: upload.id, state: 'aborted', now: at(9_000) }, noBlobWork);
        const after = await repo.findById(upload.id);
        const spy = blobSpy();
        expect(await repo.close({ uploadId: upload.id, state: 'aborted', now: at(9_500) }, spy.delete())).toBeNull();
        expect(await repo.close({ uploadId: upload.id, state: 'expired', now: at(9_500) }, spy.delete())).toBeNull();
        expect(spy.deleted).toEqual([]);
        expect(await repo.findById(upload.id)).toEqual(after);
      });

      it('keeps a blob another upload still references, and deletes it with the last reference', async () => {
        const shared = randomSha();
        const first = await created();
        const second = await created();
        await stored(first.id, 0, 4 * KiB, shared);
        await stored(second.id, 1, 4 * KiB, shared);
        const spy = blobSpy();
        await repo.close({ uploadId: first.id, state: 'aborted', now: at(9_000) }, spy.delete());
        expect(spy.deleted).toEqual([]);
        await repo.close({ uploadId: second.id, state: 'expired', now: at(9_000) }, spy.delete());
        expect(spy.deleted).toEqual([shared]);
      });

      it('counts a blob once per chunk that references it, within one upload', async () => {
        const zeros = randomSha();
        const first = await created();
        const second = await created();
        await stored(first.id, 0, 4 * KiB, zeros);
        await stored(first.id, 1, 4 * KiB, zeros);
        await stored(second.id, 0, 4 * KiB, zeros);
        const spy = blobSpy();
        await repo.close({ uploadId: second.id, state: 'aborted', now: at(9_000) }, spy.delete());
        expect(spy.deleted).toEqual([]);
        await repo.close({ uploadId: first.id, state: 'aborted', now: at(9_000) }, spy.delete());
        expect(spy.deleted).toEqual([zeros]);
      });

      it('a blob referenced again after its last reference went is stored afresh', async () => {
        const sha256 = randomSha();
        const first = await created();
        await stored(first.id, 0, 4 * KiB, sha256);
        await repo.close({ uploadId: first.id, state: 'aborted', now: at(9_000) }, noBlobWork);
        const second = await created();
        await stored(second.id, 0, 4 * KiB, sha256);
        const spy = blobSpy();
        await repo.close({ uploadId: second.id, state: 'aborted', now: at(9_500) }, spy.delete());
        expect(spy.deleted).toEqual([sha256]);
      });

      it('changes nothing when deleteBlob fails, and propagates its error', async () => {
        const upload = await created();
        const sha256 = randomSha();
        const token = await received(upload.id, 0, 4 * KiB);
        await stored(upload.id, 0, 4 * KiB, sha256);
        const before = await repo.findById(upload.id);
        const failure = new Error('blob store unreachable');
        await expect(repo.close({ uploadId: upload.id, state: 'aborted', now: at(9_000) }, blobSpy().delete(failure))).rejects.toBe(failure);
        expect(await repo.findById(upload.id)).toEqual(before);
        expect(await repo.findChunk(upload.id, 0)).toEqual({ state: 'stored', token });
        const spy = blobSpy();
        await repo.close({ uploadId: upload.id, state: 'aborted', now: at(9_500) }, spy.delete());
        expect(spy.deleted).toEqual([sha256]);
      });

      it.each([
        ['aborted', 'pending', true],
        ['aborted', 'receiving', true],
        ['aborted', 'finalizing', true],
        ['aborted', 'completed', true],
        ['aborted', 'failed', true],
        ['aborted', 'aborted', false],
        ['aborted', 'expired', false],
        ['expired', 'pending', true],
        ['expired', 'receiving', true],
        ['expired', 'finalizing', false],
        ['expired', 'completed', false],
        ['expired', 'failed', false],
        ['expired', 'aborted', false],
        ['expired', 'expired', false],
      ] as const)('%s from %s: %s', async (target, from, allowed) => {
        const upload = await created({}, { state: from, seq: 10 });
        const closed = await repo.close({ uploadId: upload.id, state: target, now: at(9_000) }, noBlobWork);
        if (allowed) {
          expect(closed).toEqual({ ...upload, state: target, seq: 11, updatedAt: at(9_000) });
        } else {
          expect(closed).toBeNull();
          expect(await repo.findById(upload.id)).toEqual(upload);
        }
      });

      it('answers null for an unknown upload', async () => {
        expect(await repo.close({ uploadId: randomUUID(), state: 'aborted', now: at(9_000) }, noBlobWork)).toBeNull();
      });

      it('takes no more chunks afterwards', async () => {
        const upload = await created();
        await received(upload.id, 0, 4 * KiB);
        const closed = await repo.close({ uploadId: upload.id, state: 'aborted', now: at(9_000) }, noBlobWork);
        expect(await claim(upload.id, 1)).toBe('not-receiving');
        expect(await stored(upload.id, 0, 4 * KiB)).toEqual({ status: 'upload-closed', upload: closed });
      });
    });

    describe('discard', () => {
      it('deletes a pending upload that never had a chunk, so it is as if it was never created', async () => {
        const upload = await created();
        expect(await repo.discard(upload.id)).toBe(true);
        expect(await repo.findById(upload.id)).toBeNull();
        expect(await repo.discard(upload.id)).toBe(false);
      });

      it('keeps an upload with a chunk claimed or received, and one that is no longer pending', async () => {
        const claimed = await created();
        await claim(claimed.id, 0);
        const withChunk = await created();
        await received(withChunk.id, 0, 4 * KiB);
        const finished = await created({}, { state: 'completed' });
        for (const upload of [claimed, withChunk, finished]) {
          expect(await repo.discard(upload.id)).toBe(false);
          expect(await repo.findById(upload.id)).not.toBeNull();
        }
        expect(await repo.discard('not-a-uuid')).toBe(false);
      });
    });

    describe('create within an owner limit', () => {
      it("refuses past maxUnfinishedPerOwner, counting only that owner's unfinished uploads", async () => {
        const ownerId = `owner-${randomUUID()}`;
        await created({ ownerId });
        for (const state of ['completed', 'failed', 'aborted', 'expired'] as const) await created({ ownerId }, { state });
        expect(await repo.create(anUpload({ ownerId }), { maxUnfinishedPerOwner: 2 })).toBe('created');
        const refused = anUpload({ ownerId });
        expect(await repo.create(refused, { maxUnfinishedPerOwner: 2 })).toBe('owner-limit');
        expect(await repo.findById(refused.id)).toBeNull();
        expect(await repo.create(anUpload(), { maxUnfinishedPerOwner: 2 })).toBe('created');
        expect(await repo.create(anUpload({ ownerId }))).toBe('created');
      });
    });

    describe('listExpired', () => {
      // Far before every other test's uploads, so rows of earlier tests never count here.
      const LONG_AGO = new Date('2001-01-01T00:00:00.000Z');
      const later = (ms: number) => new Date(LONG_AGO.getTime() + ms);

      it('lists pending and receiving uploads whose expiresAt has come, oldest first, up to the limit', async () => {
        const first = await created({ now: LONG_AGO, ttlMs: 1_000 });
        const second = await created({ now: LONG_AGO, ttlMs: 2_000 });
        await received(second.id, 0, 4 * KiB, later(500));
        const third = await created({ now: LONG_AGO, ttlMs: 3_000 });
        const notYet = await created({ now: LONG_AGO, ttlMs: 60_000 });
        expect(await repo.listExpired({ now: later(3_000), limit: 10 })).toEqual([first.id, second.id, third.id]);
        expect(await repo.listExpired({ now: later(3_000), limit: 2 })).toEqual([first.id, second.id]);
        expect(await repo.listExpired({ now: later(999), limit: 10 })).toEqual([]);
        expect(await repo.listExpired({ now: later(60_000), limit: 10 })).toContain(notYet.id);
      });

      it('leaves out uploads that are finalizing, finished or closed', async () => {
        // Earlier still than the test above, whose uploads must not count here either.
        const EVEN_LONGER_AGO = new Date('1991-01-01T00:00:00.000Z');
        for (const state of ['finalizing', 'completed', 'failed', 'aborted', 'expired'] as const) await created({ now: EVEN_LONGER_AGO, ttlMs: 1_000 }, { state });
        expect(await repo.listExpired({ now: new Date(EVEN_LONGER_AGO.getTime() + 5_000), limit: 10 })).toEqual([]);
      });
    });

    describe('deleteUnrecordedBlob', () => {
      it('deletes the bytes of a blob that has no row, and leaves no row behind', async () => {
        const sha256 = randomSha();
        const spy = blobSpy();
        expect(await repo.deleteUnrecordedBlob(sha256, () => spy.delete()(sha256))).toBe(true);
        expect(spy.deleted).toEqual([sha256]);
        // no placeholder row remains: the next store of the same content counts one reference
        const upload = await created();
        await stored(upload.id, 0, 4 * KiB, sha256);
        await repo.close({ uploadId: upload.id, state: 'aborted', now: at(9_000) }, spy.delete());
        expect(spy.deleted).toEqual([sha256, sha256]);
      });

      it('keeps a blob that a row records', async () => {
        const sha256 = randomSha();
        const upload = await created();
        await stored(upload.id, 0, 4 * KiB, sha256);
        const spy = blobSpy();
        expect(await repo.deleteUnrecordedBlob(sha256, () => spy.delete()(sha256))).toBe(false);
        expect(spy.deleted).toEqual([]);
      });

      it('keeps the blob row absent when deleting the bytes fails', async () => {
        const sha256 = randomSha();
        await expect(repo.deleteUnrecordedBlob(sha256, () => Promise.reject(new Error('disk gone')))).rejects.toThrow('disk gone');
        const spy = blobSpy();
        expect(await repo.deleteUnrecordedBlob(sha256, () => spy.delete()(sha256))).toBe(true);
      });
    });

    it('ping resolves', async () => {
      await expect(repo.ping()).resolves.toBeUndefined();
    });
  });
}
