import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ListObjectsV2Command, S3Client, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { describeBlobStoreContract } from '@tessera/domain/testing';
import { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store';

jest.setTimeout(30_000);

const MiB = 1024 * 1024;
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const sha256Of = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

let server: S3rver;
let directory: string;
let endpoint: string;
const connection = () => ({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
const admin = () => new S3Client({ ...connection(), requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });

/**
 * S3 never stores an interrupted PutObject; s3rver does (it opens the object file before the
 * body arrives, and keeps it when the client goes away), so a test could see a 0-byte ghost
 * of an upload the adapter aborted and deleted. Here a PUT body is first received whole into a
 * scratch file, and only a complete one reaches s3rver's store.
 */
function storeOnlyCompletePuts(s3: S3rver, scratch: string): void {
  const store = (s3 as unknown as { store: { putObject(object: { content: unknown }): Promise<unknown> } }).store;
  const putObject = store.putObject.bind(store);
  store.putObject = async (object) => {
    const request = object.content;
    if (!(request instanceof IncomingMessage)) return putObject(object);
    const file = join(scratch, randomUUID());
    try {
      await pipeline(request, createWriteStream(file));
      if (!request.complete) throw new Error('The upload was interrupted; nothing is stored.');
      object.content = createReadStream(file);
      return await putObject(object);
    } finally {
      await rm(file, { force: true });
    }
  };
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tessera-s3rver-'));
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(directory, 'buckets') });
  storeOnlyCompletePuts(server, await mkdtemp(join(directory, 'scratch-')));
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

/** A store on a bucket of its own, so every test starts empty. */
async function freshStore(options: Partial<S3BlobStoreOptions> = {}): Promise<{ store: S3BlobStore; bucket: string; teardown: () => Promise<void> }> {
  const bucket = `t-${randomBytes(6).toString('hex')}`;
  const client = admin();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  const store = new S3BlobStore({ ...connection(), bucket, ...options });
  return { store, bucket, teardown: async () => store.close() };
}

async function keysOf(bucket: string): Promise<string[]> {
  const client = admin();
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ...(token ? { ContinuationToken: token } : {}) }));
      for (const object of page.Contents ?? []) keys.push(object.Key!);
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  } finally {
    client.destroy();
  }
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of stream) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}

describeBlobStoreContract('S3BlobStore on s3rver', () => freshStore());
// The same contract with tiny parts and segments, so multipart stages and multi-segment partials run too.
describeBlobStoreContract('S3BlobStore on s3rver, 1 KiB parts and segments', () => freshStore({ partBytes: 1024, segmentBytes: 1024, smallBodyBytes: 0 }));

describe('S3BlobStore on s3rver', () => {
  let fixture: Awaited<ReturnType<typeof freshStore>>;
  afterEach(() => fixture?.teardown());

  const content = randomBytes(300_000);
  const sha256 = sha256Of(content);

  it('lays keys out under the prefix: staging/<uploadId>/<index>-<token>, <index>.partial/<offset>, blobs/sha256/<aa>/<bb>/<hash>', async () => {
    fixture = await freshStore({ prefix: 'tenant-a/tessera', segmentBytes: 100_000 });
    const key = { uploadId: randomUUID(), index: 4, token: 'abc_DEF-1' };
    await fixture.store.stage(key, Readable.from([content]), { expectedBytes: content.length });
    await fixture.store.commitStaged(key, sha256);
    const partial = (await fixture.store.openPartial({ uploadId: key.uploadId, index: 5 }, 0))!;
    await partial.write(content.subarray(0, 250_000));
    await partial.sync();
    await partial.close();
    expect(await keysOf(fixture.bucket)).toEqual(
      [
        `tenant-a/tessera/blobs/sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`,
        `tenant-a/tessera/staging/${key.uploadId}/4-abc_DEF-1`,
        // a full segment is written out before more is taken, the rest at sync
        `tenant-a/tessera/staging/${key.uploadId}/5.partial/0`,
        `tenant-a/tessera/staging/${key.uploadId}/5.partial/100000`,
        `tenant-a/tessera/staging/${key.uploadId}/5.partial/200000`,
      ].sort(),
    );
    expect(await fixture.store.stagingUploadIds()).toEqual([key.uploadId]);
  });

  it('does not copy a blob that already exists: the second commit leaves the object untouched', async () => {
    fixture = await freshStore();
    const first = { uploadId: randomUUID(), index: 0, token: 'first' };
    const second = { uploadId: randomUUID(), index: 0, token: 'second' };
    await fixture.store.stage(first, Readable.from([content]), { expectedBytes: content.length });
    await fixture.store.stage(second, Readable.from([content]), { expectedBytes: content.length });
    const sent = jest.spyOn(fixture.store.bucket.client, 'send');
    await fixture.store.commitStaged(first, sha256);
    await fixture.store.commitStaged(second, sha256);
    const commands = sent.mock.calls.map(([command]) => command.constructor.name);
    expect(commands).toEqual(['HeadObjectCommand', 'CopyObjectCommand', 'HeadObjectCommand']);
    sent.mockRestore();
  });

  it('reads a range with a Range request: only the bytes asked for come back', async () => {
    fixture = await freshStore();
    const key = { uploadId: randomUUID(), index: 0, token: 'r' };
    await fixture.store.stage(key, Readable.from([content]), { expectedBytes: content.length });
    await fixture.store.commitStaged(key, sha256);
    const sent = jest.spyOn(fixture.store.bucket.client, 'send');
    const slice = await bytesOf(await fixture.store.readBlob(sha256, { start: 1000, end: 70_999 }));
    expect(slice.equals(content.subarray(1000, 71_000))).toBe(true);
    const get = sent.mock.calls.map(([command]) => command).find((command) => command.constructor.name === 'GetObjectCommand');
    expect((get!.input as { Range?: string }).Range).toBe('bytes=1000-70999');
    sent.mockRestore();
    // A one-byte range at the start (s3rver answers `bytes=0-0` with everything; the adapter cuts it back).
    expect((await bytesOf(await fixture.store.readBlob(sha256, { start: 0, end: 0 }))).equals(content.subarray(0, 1))).toBe(true);
  });

  it('stages a body of unknown length as a multipart upload of parts, and the bytes read back whole', async () => {
    fixture = await freshStore({ partBytes: 64 * 1024 });
    const key = { uploadId: randomUUID(), index: 1, token: 'mp' };
    const sent = jest.spyOn(fixture.store.bucket.client, 'send');
    await expect(fixture.store.stage(key, Readable.from([content]), { maxBytes: MiB })).resolves.toEqual({ bytes: content.length, sha256 });
    const commands = sent.mock.calls.map(([command]) => command.constructor.name);
    expect(commands.filter((name) => name === 'UploadPartCommand')).toHaveLength(Math.ceil(content.length / (64 * 1024)));
    expect(commands).toContain('CompleteMultipartUploadCommand');
    sent.mockRestore();
    expect((await bytesOf((await fixture.store.readStaged(key))!)).equals(content)).toBe(true);
  });

  it('reopens a partial of several segments part-way: cuts the straddling segment, drops the later ones, hashes by reading back', async () => {
    fixture = await freshStore({ segmentBytes: 1000 });
    const key = { uploadId: randomUUID(), index: 3 };
    const data = randomBytes(3500);
    const first = (await fixture.store.openPartial(key, 0))!;
    await first.write(data);
    await first.sync();
    await first.close();
    const prefix = `staging/${key.uploadId}/3.partial/`;
    expect(await keysOf(fixture.bucket)).toEqual(['0', '1000', '2000', '3000'].map((o) => prefix + o));

    const reopened = (await fixture.store.openPartial(key, 1500))!;
    expect(await keysOf(fixture.bucket)).toEqual(['0', '1000'].map((o) => prefix + o));
    expect(reopened.length).toBe(1500);
    await reopened.write(Buffer.from('tail'));
    await reopened.sync();
    const target = { uploadId: key.uploadId, index: 3, token: 'whole' };
    const expected = Buffer.concat([data.subarray(0, 1500), Buffer.from('tail')]);
    expect(await reopened.stageAs(target)).toEqual({ bytes: expected.length, sha256: sha256Of(expected) });
    await reopened.close();
    expect((await bytesOf((await fixture.store.readStaged(target))!)).equals(expected)).toBe(true);
    await fixture.store.deletePartial(key);
    expect(await keysOf(fixture.bucket)).toEqual([`staging/${key.uploadId}/3-whole`]);
  });

  it('answers null for a partial whose segments have a gap, and touches nothing', async () => {
    fixture = await freshStore();
    const key = { uploadId: randomUUID(), index: 0 };
    const client = admin();
    for (const offset of [0, 200]) await client.send(new PutObjectCommand({ Bucket: fixture.bucket, Key: `staging/${key.uploadId}/0.partial/${offset}`, Body: randomBytes(100) }));
    client.destroy();
    expect(await fixture.store.openPartial(key, 300)).toBeNull();
    expect(await keysOf(fixture.bucket)).toHaveLength(2);
  });

  it('stages a partial of one segment by a server-side copy, with the running hash', async () => {
    fixture = await freshStore();
    const key = { uploadId: randomUUID(), index: 0 };
    const partial = (await fixture.store.openPartial(key, 0))!;
    await partial.write(content);
    await partial.sync();
    const sent = jest.spyOn(fixture.store.bucket.client, 'send');
    await expect(partial.stageAs({ uploadId: key.uploadId, index: 0, token: 'c' })).resolves.toEqual({ bytes: content.length, sha256 });
    expect(sent.mock.calls.map(([command]) => command.constructor.name)).toEqual(['CopyObjectCommand']);
    sent.mockRestore();
    await partial.close();
  });

  it('keeps nothing when the source fails midway through a streamed stage (the request is aborted, the key deleted)', async () => {
    fixture = await freshStore();
    const source = new PassThrough();
    const key = { uploadId: randomUUID(), index: 0, token: 'cut' };
    const staging = fixture.store.stage(key, source, { expectedBytes: 4 * MiB });
    source.write(randomBytes(MiB));
    setTimeout(() => source.destroy(new Error('client went away')), 50);
    await expect(staging).rejects.toThrow('client went away');
    expect(await fixture.store.stagedSize(key)).toBeNull();
  });

  it.each([
    ['a known length (streamed PutObject)', { expectedBytes: 64 * MiB }],
    ['an unknown length (multipart, 5 MiB parts)', { maxBytes: 64 * MiB }],
  ])('stages a 64 MiB stream of %s without holding much more than a part in memory', async (_case, options) => {
    fixture = await freshStore();
    const piece = randomBytes(64 * 1024);
    const expected = createHash('sha256');
    for (let i = 0; i < 1024; i++) expected.update(piece);
    const sha256 = expected.digest('hex');
    // Live memory, not garbage the collector has yet to reclaim: collect, then measure.
    const used = () => {
      collectGarbage();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    const before = used();
    let peak = before;
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent === 64 * MiB) return void this.push(null);
        // Measured every 4 MiB on the way (a store that kept the bytes would grow steadily).
        if (sent % (4 * MiB) === 0) peak = Math.max(peak, used());
        sent += piece.length;
        this.push(piece);
      },
    });
    const key = { uploadId: randomUUID(), index: 0, token: 'big' };
    await expect(fixture.store.stage(key, source, options)).resolves.toEqual({ bytes: 64 * MiB, sha256 });
    expect(await fixture.store.stagedSize(key)).toBe(64 * MiB);
    // Loose (a part is 5 MiB; the SDK and s3rver in this same process hold some too), but far below 64 MiB.
    expect(peak - before).toBeLessThan(16 * MiB);
  });

  it('ping fails fast for a bucket that does not exist', async () => {
    fixture = await freshStore();
    const missing = new S3BlobStore({ ...connection(), bucket: 'no-such-bucket' });
    await expect(missing.ping()).rejects.toThrow();
    missing.close();
  });

  it('gives up on a store that accepts connections but never answers, with ETIMEDOUT (a dependency away, not a bug)', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const store = new S3BlobStore({ ...connection(), endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, bucket: 'b', operationTimeoutMs: 300, pingTimeoutMs: 300 });
    const key = { uploadId: randomUUID(), index: 0, token: 't' };
    try {
      const started = Date.now();
      await expect(store.stagedSize(key)).rejects.toMatchObject({ code: 'ETIMEDOUT', message: expect.stringMatching(/did not answer HeadObject/) });
      await expect(store.stage(key, Readable.from([Buffer.from('abc')]), { expectedBytes: 3 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      await expect(store.ping()).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses an invalid key prefix', () => {
    expect(() => new S3BlobStore({ ...connection(), bucket: 'b', prefix: '../x' })).toThrow(/prefix/);
    expect(() => new S3BlobStore({ ...connection(), bucket: 'b', prefix: '/abs' })).toThrow(/prefix/);
  });
});
