import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { BodyTimeoutError, ChunkIncompleteError } from '../../shared/errors';
import { EMPTY_SHA256 } from '../../shared/ids';
import type { BlobStore, PartialKey, StagingKey } from '../../ports';

const MiB = 1024 * 1024;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of stream) pieces.push(Buffer.from(piece as Buffer));
  return Buffer.concat(pieces);
}

/** A source that yields `content` in pieces of `pieceSize`, so stores see a real stream. */
function sourceOf(content: Buffer, pieceSize = 64 * 1024): Readable {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += pieceSize) pieces.push(content.subarray(offset, offset + pieceSize));
  return Readable.from(pieces);
}

/** A source that sends `content`, then fails with `error` instead of ending. */
function failingSource(content: Buffer, error: Error): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(content);
      } else {
        setImmediate(() => this.destroy(error));
      }
    },
  });
}

const sha256Of = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

/**
 * The behaviour every BlobStore adapter must share. Call it from an adapter's test file;
 * `setup` runs before each test and gives a fresh, empty store.
 */
export function describeBlobStoreContract(name: string, setup: () => Promise<{ store: BlobStore; teardown: () => Promise<void> }>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let teardown: () => Promise<void>;

    beforeEach(async () => {
      ({ store, teardown } = await setup());
    });

    afterEach(async () => {
      await teardown();
    });

    const newKey = (overrides: Partial<StagingKey> = {}): StagingKey => ({
      uploadId: randomUUID(),
      index: 0,
      token: randomBytes(12).toString('base64url'),
      ...overrides,
    });

    async function staged(content: Buffer, key = newKey()): Promise<StagingKey> {
      await store.stage(key, sourceOf(content), { expectedBytes: content.length });
      return key;
    }

    describe('stage and readStaged', () => {
      it('round-trips the bytes of a multi-piece stream and reports their count, SHA-256 and staged size', async () => {
        const content = randomBytes(2 * MiB + 12_345);
        const key = newKey({ index: 7 });
        await expect(store.stage(key, sourceOf(content), { expectedBytes: content.length })).resolves.toEqual({
          bytes: content.length,
          sha256: sha256Of(content),
        });
        expect((await bytesOf((await store.readStaged(key))!)).equals(content)).toBe(true);
        await expect(store.stagedSize(key)).resolves.toBe(content.length);
      });

      it('stages an empty chunk', async () => {
        const key = newKey();
        await expect(store.stage(key, sourceOf(Buffer.alloc(0)), { expectedBytes: 0 })).resolves.toEqual({ bytes: 0, sha256: EMPTY_SHA256 });
        expect((await bytesOf((await store.readStaged(key))!)).length).toBe(0);
        await expect(store.stagedSize(key)).resolves.toBe(0);
      });

      it('accepts a stream of unknown length up to maxBytes', async () => {
        const content = randomBytes(1000);
        const key = newKey();
        await expect(store.stage(key, sourceOf(content, 100), { maxBytes: 1000 })).resolves.toEqual({ bytes: 1000, sha256: sha256Of(content) });
        expect((await bytesOf((await store.readStaged(key))!)).equals(content)).toBe(true);
      });

      it('reports no staged size for a key never staged or deleted', async () => {
        await expect(store.stagedSize(newKey())).resolves.toBeNull();
        const key = await staged(Buffer.from('gone'));
        await store.deleteStaged(key);
        await expect(store.stagedSize(key)).resolves.toBeNull();
      });

      it.each([
        ['fewer bytes than expectedBytes', 999, { expectedBytes: 1000 }],
        ['more bytes than expectedBytes', 1001, { expectedBytes: 1000 }],
        ['more bytes than maxBytes', 1001, { maxBytes: 1000 }],
      ])('rejects %s with ChunkIncompleteError and keeps nothing', async (_case, length, options) => {
        const key = newKey();
        await expect(store.stage(key, sourceOf(randomBytes(length), 100), options)).rejects.toBeInstanceOf(ChunkIncompleteError);
        expect(await store.readStaged(key)).toBeNull();
      });

      it('rejects when the signal is already aborted and keeps nothing', async () => {
        const key = newKey();
        const controller = new AbortController();
        controller.abort(new Error('client went away'));
        await expect(store.stage(key, sourceOf(randomBytes(100)), { expectedBytes: 100, signal: controller.signal })).rejects.toThrow();
        expect(await store.readStaged(key)).toBeNull();
      });

      it('rejects when the signal aborts a stalled stream and keeps nothing', async () => {
        const key = newKey();
        const controller = new AbortController();
        const source = new PassThrough();
        source.write(randomBytes(100));
        const staging = store.stage(key, source, { expectedBytes: 1000, signal: controller.signal });
        setTimeout(() => controller.abort(new Error('client went away')), 20);
        await expect(staging).rejects.toThrow();
        expect(await store.readStaged(key)).toBeNull();
      });

      it('gives up a source that goes silent with BodyTimeoutError and keeps nothing, but waits for a slow one', async () => {
        const silent = new PassThrough();
        silent.write(randomBytes(100));
        const key = newKey();
        await expect(store.stage(key, silent, { expectedBytes: 1000, idleTimeoutMs: 50 })).rejects.toBeInstanceOf(BodyTimeoutError);
        expect(await store.readStaged(key)).toBeNull();

        // 4 pieces 30 ms apart: slower in total than the idle limit, never silent for that long
        const slow = new PassThrough();
        const content = randomBytes(400);
        const staging = store.stage(newKey(), slow, { expectedBytes: 400, idleTimeoutMs: 50 });
        for (let i = 0; i < 4; i++) {
          slow.write(content.subarray(i * 100, (i + 1) * 100));
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
        slow.end();
        await expect(staging).resolves.toMatchObject({ bytes: 400 });
      });

      it('rejects with the source error when the source fails, and keeps nothing', async () => {
        const key = newKey();
        const failure = new Error('connection reset');
        await expect(store.stage(key, failingSource(randomBytes(500), failure), { expectedBytes: 1000 })).rejects.toBe(failure);
        expect(await store.readStaged(key)).toBeNull();
      });

      it('answers null for a key that was never staged', async () => {
        expect(await store.readStaged(newKey())).toBeNull();
      });

      it('keeps attempts of the same index apart', async () => {
        const uploadId = randomUUID();
        const first = await staged(Buffer.from('first'), newKey({ uploadId, token: 'a' }));
        const second = await staged(Buffer.from('second'), newKey({ uploadId, token: 'b' }));
        await store.deleteStaged(first);
        expect(await store.readStaged(first)).toBeNull();
        expect((await bytesOf((await store.readStaged(second))!)).toString()).toBe('second');
      });

      it.each([
        ['an upload id that is not a UUID', { uploadId: '../../etc' }],
        ['a token with a path separator', { token: 'a/b' }],
        ['a token with a dot', { token: '..' }],
        ['a negative index', { index: -1 }],
        ['a fractional index', { index: 1.5 }],
      ])('refuses a key with %s', async (_case, overrides) => {
        const key = newKey(overrides);
        await expect(store.stage(key, sourceOf(Buffer.from('x')), { expectedBytes: 1 })).rejects.toThrow();
        await expect(store.readStaged(key)).rejects.toThrow();
      });
    });

    describe('commitStaged and readBlob', () => {
      it('makes the staged bytes readable as the blob and leaves the staged copy', async () => {
        const content = randomBytes(MiB + 77);
        const key = await staged(content);
        await store.commitStaged(key, sha256Of(content));
        expect((await bytesOf(await store.readBlob(sha256Of(content)))).equals(content)).toBe(true);
        expect((await bytesOf((await store.readStaged(key))!)).equals(content)).toBe(true);
      });

      it('treats a second commit of the same content as a no-op', async () => {
        const content = randomBytes(4096);
        const sha256 = sha256Of(content);
        const first = await staged(content);
        const second = await staged(content);
        await store.commitStaged(first, sha256);
        await store.commitStaged(second, sha256);
        await store.commitStaged(first, sha256);
        await store.deleteStaged(first);
        await store.deleteStaged(second);
        expect((await bytesOf(await store.readBlob(sha256))).equals(content)).toBe(true);
      });

      it('commits an empty chunk', async () => {
        const empty = Buffer.alloc(0);
        const key = await staged(empty);
        await store.commitStaged(key, sha256Of(empty));
        expect((await bytesOf(await store.readBlob(sha256Of(empty)))).length).toBe(0);
      });

      it('rejects a commit when nothing is staged and the blob does not exist', async () => {
        await expect(store.commitStaged(newKey(), sha256Of(randomBytes(8)))).rejects.toThrow();
      });

      it('reads an inclusive byte range', async () => {
        const content = randomBytes(2 * MiB);
        const key = await staged(content);
        const sha256 = sha256Of(content);
        await store.commitStaged(key, sha256);
        for (const [start, end] of [[0, 0], [10, 19], [MiB - 5, MiB + 5], [2 * MiB - 1, 2 * MiB - 1], [0, 2 * MiB - 1]] as const) {
          const slice = await bytesOf(await store.readBlob(sha256, { start, end }));
          expect(slice.equals(content.subarray(start, end + 1))).toBe(true);
        }
      });

      it('refuses an inverted range', async () => {
        const content = randomBytes(100);
        const key = await staged(content);
        await store.commitStaged(key, sha256Of(content));
        await expect(store.readBlob(sha256Of(content), { start: 10, end: 9 })).rejects.toThrow(RangeError);
      });

      it('rejects reading a blob that does not exist', async () => {
        await expect(store.readBlob(sha256Of(randomBytes(8)))).rejects.toThrow();
      });

      it('refuses a blob name that is not a hex SHA-256', async () => {
        const key = await staged(Buffer.from('x'));
        await expect(store.commitStaged(key, '../../../etc/passwd')).rejects.toThrow();
        await expect(store.readBlob('A'.repeat(64))).rejects.toThrow();
        await expect(store.deleteBlob('..')).rejects.toThrow();
      });
    });

    describe('listing for the sweep', () => {
      it('names the uploads that have staging, and no longer one whose staging was deleted', async () => {
        const kept = await staged(Buffer.from('a'));
        const gone = await staged(Buffer.from('b'));
        await store.deleteStagingOf(gone.uploadId);
        const ids = await store.stagingUploadIds();
        expect(ids).toContain(kept.uploadId);
        expect(ids).not.toContain(gone.uploadId);
      });

      it('lists a committed blob once it is older than the cutoff, and never a deleted one', async () => {
        const content = randomBytes(100);
        const key = await staged(content);
        await store.commitStaged(key, sha256Of(content));
        const listed = async (cutoff: Date) => {
          const found: string[] = [];
          for await (const sha256 of store.blobsChangedBefore(cutoff)) found.push(sha256);
          return found;
        };
        expect(await listed(new Date(Date.now() - 60_000))).not.toContain(sha256Of(content));
        expect(await listed(new Date(Date.now() + 60_000))).toContain(sha256Of(content));
        await store.deleteBlob(sha256Of(content));
        expect(await listed(new Date(Date.now() + 60_000))).not.toContain(sha256Of(content));
      });
    });

    describe('deletion', () => {
      it('deletes a staged attempt, and ignores a missing one', async () => {
        const key = await staged(Buffer.from('bytes'));
        await store.deleteStaged(key);
        expect(await store.readStaged(key)).toBeNull();
        await expect(store.deleteStaged(key)).resolves.toBeUndefined();
        await expect(store.deleteStaged(newKey())).resolves.toBeUndefined();
      });

      it('deletes a blob, and ignores a missing one', async () => {
        const content = randomBytes(64);
        const sha256 = sha256Of(content);
        await store.commitStaged(await staged(content), sha256);
        await store.deleteBlob(sha256);
        await expect(store.readBlob(sha256)).rejects.toThrow();
        await expect(store.deleteBlob(sha256)).resolves.toBeUndefined();
      });

      it('deleteStagingOf removes every attempt of that upload and nothing else', async () => {
        const doomed = randomUUID();
        const kept = randomUUID();
        const doomedKeys = [
          await staged(Buffer.from('a'), newKey({ uploadId: doomed, index: 0 })),
          await staged(Buffer.from('b'), newKey({ uploadId: doomed, index: 0 })),
          await staged(Buffer.from('c'), newKey({ uploadId: doomed, index: 3 })),
        ];
        const keptKey = await staged(Buffer.from('d'), newKey({ uploadId: kept, index: 0 }));
        await store.deleteStagingOf(doomed);
        for (const key of doomedKeys) expect(await store.readStaged(key)).toBeNull();
        expect((await bytesOf((await store.readStaged(keptKey))!)).toString()).toBe('d');
        await expect(store.deleteStagingOf(doomed)).resolves.toBeUndefined();
        await expect(store.deleteStagingOf(randomUUID())).resolves.toBeUndefined();
      });

      it('keeps a committed blob when its staged copy is deleted', async () => {
        const content = randomBytes(256);
        const key = await staged(content);
        await store.commitStaged(key, sha256Of(content));
        await store.deleteStagingOf(key.uploadId);
        expect((await bytesOf(await store.readBlob(sha256Of(content)))).equals(content)).toBe(true);
      });
    });

    describe('partial chunks (bytes that arrive over several requests)', () => {
      async function write(key: PartialKey, at: number, content: Buffer): Promise<number> {
        const partial = await store.openPartial(key, at);
        if (!partial) throw new Error(`partial ${key.index} holds fewer than ${at} bytes`);
        for (let offset = 0; offset < content.length; offset += 1000) await partial.write(content.subarray(offset, offset + 1000));
        await partial.sync();
        const length = partial.length;
        await partial.close();
        return length;
      }

      it('appends across openings, and stages the whole as an attempt with its size and SHA-256', async () => {
        const key = { uploadId: randomUUID(), index: 2 };
        const first = randomBytes(3000);
        const second = randomBytes(2500);
        expect(await write(key, 0, first)).toBe(3000);
        expect(await write(key, 3000, second)).toBe(5500);
        const partial = (await store.openPartial(key, 5500))!;
        const target = newKey({ uploadId: key.uploadId, index: 2 });
        const whole = Buffer.concat([first, second]);
        expect(await partial.stageAs(target)).toEqual({ bytes: whole.length, sha256: sha256Of(whole) });
        await partial.close();
        expect((await bytesOf((await store.readStaged(target))!)).equals(whole)).toBe(true);
        expect(await store.stagedSize(target)).toBe(whole.length);
      });

      it('hashes a partial written in one opening the same as one written in several', async () => {
        const key = { uploadId: randomUUID(), index: 0 };
        const content = randomBytes(4096);
        const partial = (await store.openPartial(key, 0))!;
        await partial.write(content);
        await partial.sync();
        expect((await partial.stageAs(newKey({ uploadId: key.uploadId }))).sha256).toBe(sha256Of(content));
        await partial.close();
      });

      it('cuts bytes past the recorded length when reopened, and answers null when bytes are missing', async () => {
        const key = { uploadId: randomUUID(), index: 0 };
        const content = randomBytes(2000);
        await write(key, 0, content);
        expect(await store.openPartial(key, 2001)).toBeNull();
        const reopened = (await store.openPartial(key, 1200))!;
        expect(reopened.length).toBe(1200);
        await reopened.write(Buffer.from('tail'));
        await reopened.sync();
        const expected = Buffer.concat([content.subarray(0, 1200), Buffer.from('tail')]);
        expect((await reopened.stageAs(newKey({ uploadId: key.uploadId }))).sha256).toBe(sha256Of(expected));
        await reopened.close();
        expect(await store.openPartial({ uploadId: randomUUID(), index: 0 }, 1)).toBeNull();
      });

      it('keeps the staged attempt when the partial is deleted, and deleteStagingOf removes partials too', async () => {
        const key = { uploadId: randomUUID(), index: 1 };
        await write(key, 0, Buffer.from('abc'));
        const partial = (await store.openPartial(key, 3))!;
        const target = newKey({ uploadId: key.uploadId, index: 1 });
        await partial.stageAs(target);
        await partial.close();
        await store.deletePartial(key);
        await expect(store.deletePartial(key)).resolves.toBeUndefined();
        expect(await store.openPartial(key, 1)).toBeNull();
        expect((await bytesOf((await store.readStaged(target))!)).toString()).toBe('abc');
        await write(key, 0, Buffer.from('xyz'));
        expect(await store.stagingUploadIds()).toContain(key.uploadId);
        await store.deleteStagingOf(key.uploadId);
        expect(await store.openPartial(key, 1)).toBeNull();
      });
    });

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
