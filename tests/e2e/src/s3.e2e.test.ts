import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3BlobStore } from '@tessera/adapters';
import { freePort, startStack, type Stack } from './support/stack';

// The whole pipeline once with BLOB_STORE=s3: the gateway and the worker keep every byte in
// a bucket of s3rver, an S3 server running inside this test process.

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const BUCKET = 'tessera-e2e';
const PREFIX = 'e2e/';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
// s3rver ships no types; it is a test-only dependency of the workspace.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverServer;

interface UploadView {
  id: string;
  state: string;
  size: number;
  chunkCount: number;
  sha256?: string;
  missing: number[];
}

describe('the pipeline with BLOB_STORE=s3 (s3rver in process)', () => {
  let s3: S3rverServer;
  let s3Dir: string;
  let stack: Stack;
  let token: string;
  /** The test's own view of the bucket, through the adapter (same prefix as the services). */
  let bucket: S3BlobStore;

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

  async function completed(id: string): Promise<UploadView> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const upload = (await (await api(`/v1/uploads/${id}`)).json()) as UploadView;
      if (upload.state === 'completed' || upload.state === 'failed' || Date.now() > deadline) return upload;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function blobsInBucket(): Promise<string[]> {
    const found: string[] = [];
    for await (const blob of bucket.blobsChangedBefore(new Date(Date.now() + 3_600_000))) found.push(blob);
    return found;
  }

  /** Downloads it whole and by a range across a chunk boundary, and checks both against `file`. */
  async function expectDownload(id: string, file: Buffer): Promise<void> {
    const whole = await api(`/v1/uploads/${id}/content`);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(file)).toBe(true);
    const ranged = await api(`/v1/uploads/${id}/content`, { headers: { range: `bytes=${MiB - 5}-${MiB + 4}` } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(file.subarray(MiB - 5, MiB + 5))).toBe(true);
  }

  /** DELETE answers 204, then none of `chunkShas` is left in the bucket and nothing is staged for the upload. */
  async function expectDeleted(id: string, chunkShas: string[]): Promise<void> {
    expect((await api(`/v1/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
    const left = await blobsInBucket();
    expect(chunkShas.filter((sha) => left.includes(sha))).toEqual([]);
    expect(await bucket.stagingUploadIds()).not.toContain(id);
  }

  beforeAll(async () => {
    s3Dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-s3-'));
    s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3Dir, configureBuckets: [{ name: BUCKET }] });
    const { port } = await s3.run();
    const s3Env = {
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: BUCKET,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
      S3_PREFIX: PREFIX,
    };
    stack = await startStack(
      { BLOB_STORE: 's3', ...s3Env, DEFAULT_CHUNK_SIZE: String(MiB) },
      { services: { 'chunk-worker': { HTTP_PORT: String(await freePort()) } } },
    );
    token = await stack.token('s3-owner');
    bucket = new S3BlobStore({
      bucket: BUCKET,
      endpoint: s3Env.S3_ENDPOINT,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      prefix: PREFIX,
    });
  });

  afterAll(async () => {
    bucket?.close();
    await stack?.stop();
    await s3?.close();
    if (s3Dir) rmSync(s3Dir, { recursive: true, force: true });
  });

  it('stores a native upload of 6 chunks in the bucket, serves it back byte for byte, and a DELETE removes its blobs', async () => {
    const file = randomBytes(5 * MiB + 4321);
    const created = await api('/v1/uploads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'native.bin', size: file.length, chunkSize: MiB, sha256: sha256(file) }),
    });
    expect(created.status).toBe(201);
    const { id, chunkCount } = (await created.json()) as UploadView;
    expect(chunkCount).toBe(6);

    const chunks = Array.from({ length: chunkCount }, (_, index) => file.subarray(index * MiB, (index + 1) * MiB));
    await Promise.all(
      chunks.map(async (chunk, index) => {
        const res = await api(`/v1/uploads/${id}/chunks/${index}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: chunk });
        expect(res.status).toBe(202);
      }),
    );

    expect(await completed(id)).toMatchObject({ state: 'completed', sha256: sha256(file), missing: [] });
    await expectDownload(id, file);

    const chunkShas = chunks.map(sha256);
    expect(await blobsInBucket()).toEqual(expect.arrayContaining(chunkShas));
    // The filesystem store was never used.
    expect(readdirSync(stack.blobDir)).toEqual([]);

    await expectDeleted(id, chunkShas);
  });

  it('stores a one-shot form upload (chunks of unknown length until they end) and serves it back', async () => {
    const file = randomBytes(MiB + 99_999);
    const form = new FormData();
    form.append('file', new Blob([file]), 'form.bin');
    const res = await api('/upload', { method: 'POST', body: form });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as UploadView;
    expect(await completed(id)).toMatchObject({ state: 'completed', sha256: sha256(file), chunkCount: 2 });
    await expectDownload(id, file);
    await expectDeleted(id, [sha256(file.subarray(0, MiB)), sha256(file.subarray(MiB))]);
  });

  it('stores a tus upload sent in PATCHes that cut across chunks, serves it back byte for byte, and a DELETE removes its blobs', async () => {
    const file = randomBytes(2 * MiB + 777);
    const created = await api('/files/', {
      method: 'POST',
      headers: {
        'tus-resumable': '1.0.0',
        'upload-length': String(file.length),
        'upload-metadata': `filename ${Buffer.from('tus.bin').toString('base64')}`,
      },
    });
    expect(created.status).toBe(201);
    const id = new URL(created.headers.get('location')!).pathname.split('/').pop()!;

    // 700,001-byte PATCHes: every chunk is filled by two or three requests, so by partial segments.
    const patchBytes = 700_001;
    for (let offset = 0; offset < file.length; offset += patchBytes) {
      const body = file.subarray(offset, offset + patchBytes);
      const res = await api(`/files/${id}`, {
        method: 'PATCH',
        headers: { 'tus-resumable': '1.0.0', 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
        body,
      });
      expect({ status: res.status, offset: res.headers.get('upload-offset') }).toEqual({ status: 204, offset: String(offset + body.length) });
    }

    expect(await completed(id)).toMatchObject({ state: 'completed', sha256: sha256(file), chunkCount: 3, missing: [] });
    await expectDownload(id, file);

    const chunkShas = [0, 1, 2].map((index) => sha256(file.subarray(index * MiB, (index + 1) * MiB)));
    expect(await blobsInBucket()).toEqual(expect.arrayContaining(chunkShas));

    await expectDeleted(id, chunkShas);
  });
});
