import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TesseraClient, TesseraError, type UploadTask } from '@tessera/client';
import { downloadToFile, fileSource, streamSource } from '@tessera/client/node';
import { startStack, type Stack } from '../../e2e/src/support/stack';

const KiB = 1024;
const MiB = 1024 * KiB;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('@tessera/client against the real stack', () => {
  let stack: Stack;
  let token: string;
  let client: TesseraClient;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-client-'));

  beforeAll(async () => {
    stack = await startStack({ DEFAULT_CHUNK_SIZE: String(256 * KiB) });
    token = await stack.token('client-tests');
    client = new TesseraClient({ baseUrl: stack.gatewayUrl, notifierUrl: stack.notifierUrl, token });
  }, 120_000);

  afterAll(async () => {
    client?.close();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every 'sent' and 'stored' event of a task, in order. */
  function record(task: UploadTask) {
    const sent: number[] = [];
    const stored: number[] = [];
    task.on('sent', (p) => sent.push(p.bytesSent));
    task.on('stored', (p) => stored.push(p.bytesStored));
    return { sent, stored };
  }

  it('uploads a buffer in parallel chunks, reports bytes sent and stored, and completes with the SHA-256 of the bytes', async () => {
    const data = randomBytes(3 * MiB + 123);
    const task = client.upload(data, { filename: 'buffer.bin', chunkSize: 256 * KiB, parallel: 4 });
    const seen = record(task);
    const upload = await task.done;
    expect(upload).toMatchObject({ state: 'completed', size: data.length, sha256: sha256(data), filename: 'buffer.bin' });
    expect(seen.sent.at(-1)).toBe(data.length);
    expect(seen.sent).toEqual([...seen.sent].sort((a, b) => a - b));
    expect(seen.stored.at(-1)).toBe(data.length);
    expect(await client.get(upload.id)).toMatchObject({ state: 'completed', sha256: sha256(data), chunkCount: 13 });
  });

  it('uploads a Blob and a file from disk, and downloads each verified (in memory and to a file)', async () => {
    const data = randomBytes(700 * KiB);
    const blobUpload = await client.upload(new Blob([data], { type: 'application/x-test' }), { filename: 'blob.bin' }).done;
    expect(blobUpload).toMatchObject({ contentType: 'application/x-test', sha256: sha256(data) });
    expect(sha256(await client.downloadVerified(blobUpload.id))).toBe(sha256(data));

    const path = join(dir, 'on-disk.bin');
    writeFileSync(path, data);
    const fileUpload = await client.upload(await fileSource(path), { chunkSize: 64 * KiB }).done;
    expect(fileUpload).toMatchObject({ filename: 'on-disk.bin', chunkCount: 11, sha256: sha256(data) });
    const target = join(dir, 'downloaded.bin');
    expect(await downloadToFile(client, fileUpload.id, target)).toEqual({ sha256: sha256(data), size: data.length });
    expect(readFileSync(target).equals(data)).toBe(true);
    await expect(downloadToFile(client, fileUpload.id, target)).rejects.toMatchObject({ type: 'file-exists' });
    expect(readFileSync(target).equals(data)).toBe(true);
  });

  it('uploads a stream of known length read once, in order', async () => {
    const data = randomBytes(600 * KiB + 5);
    const source = streamSource(Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), data.length, 'stream.bin');
    const upload = await client.upload(source, { chunkSize: 128 * KiB, parallel: 1 }).done;
    expect(upload).toMatchObject({ filename: 'stream.bin', sha256: sha256(data) });
  });

  it('pauses without failing, and resume sends only what the server is missing', async () => {
    const data = randomBytes(4 * MiB);
    const task = client.upload(data, { chunkSize: 128 * KiB, parallel: 2 });
    const seen = record(task);
    await new Promise<void>((resolve) => task.on('sent', (p) => p.bytesSent >= MiB && resolve()));
    task.pause();
    expect(task.state).toBe('paused');
    const paused = await client.get(task.uploadId!);
    expect(paused.missing.length).toBeGreaterThan(0);
    const sentBeforeResume = seen.sent.length;
    task.resume();
    const upload = await task.done;
    expect(upload).toMatchObject({ state: 'completed', sha256: sha256(data) });
    // The chunks sent after resuming are at most the ones the server was missing.
    expect(seen.sent.length - sentBeforeResume).toBeLessThanOrEqual(paused.missing.length);
  });

  it('survives pause and resume in quick succession (a double resume runs one upload), and an already aborted signal starts paused', async () => {
    const data = randomBytes(2 * MiB);
    const task = client.upload(data, { chunkSize: 128 * KiB, parallel: 2 });
    await new Promise<void>((resolve) => task.on('sent', () => resolve()));
    task.pause();
    task.resume();
    task.resume();
    task.pause();
    task.resume();
    expect(await task.done).toMatchObject({ state: 'completed', sha256: sha256(data) });

    const controller = new AbortController();
    controller.abort();
    const paused = client.upload(randomBytes(64 * KiB), { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(paused.state).toBe('paused');
    paused.resume();
    expect((await paused.done).state).toBe('completed');
  });

  it('an AbortSignal pauses, and a new task with uploadId resumes the same upload from its missing chunks', async () => {
    const data = randomBytes(3 * MiB);
    const controller = new AbortController();
    const first = client.upload(data, { chunkSize: 128 * KiB, parallel: 2, signal: controller.signal });
    await new Promise<void>((resolve) => first.on('sent', (p) => p.bytesSent >= MiB && resolve()));
    controller.abort();
    expect(first.state).toBe('paused');
    const id = first.uploadId!;
    const missing = (await client.get(id)).missing;

    const second = client.upload(data, { uploadId: id, parallel: 4 });
    const seen = record(second);
    const upload = await second.done;
    expect(upload).toMatchObject({ id, state: 'completed', sha256: sha256(data) });
    expect(seen.sent.length).toBeLessThanOrEqual(missing.length);
    await expect(client.upload(randomBytes(10), { uploadId: id }).done).rejects.toMatchObject({ type: 'source-mismatch' });
  });

  it('retries chunks after network errors and 503s with backoff, reporting each retry, and still completes', async () => {
    let failures = 0;
    const flaky: typeof fetch = async (input, init) => {
      const url = String(input);
      if (init?.method === 'PUT' && failures < 4) {
        failures += 1;
        if (failures % 2 === 1) throw new TypeError('fetch failed (simulated)');
        return new Response(JSON.stringify({ type: 'service-unavailable', status: 503, detail: 'simulated' }), { status: 503, headers: { 'retry-after': '0' } });
      }
      return fetch(url, init);
    };
    const flakyClient = new TesseraClient({ baseUrl: stack.gatewayUrl, notifierUrl: stack.notifierUrl, token, fetch: flaky, retry: { minDelayMs: 10 } });
    try {
      const data = randomBytes(512 * KiB);
      const task = flakyClient.upload(data, { chunkSize: 128 * KiB, parallel: 1 });
      const retries: string[] = [];
      task.on('retry', (r) => retries.push(r.error.type));
      const upload = await task.done;
      expect(upload.sha256).toBe(sha256(data));
      expect(retries).toEqual(['network', 'service-unavailable', 'network', 'service-unavailable']);
    } finally {
      flakyClient.close();
    }
  });

  it('does not retry a refusal: an upload above the server limit fails at once with the problem type', async () => {
    const huge = { size: 200 * 1024 ** 4, read: async () => new Uint8Array(0) };
    const failure = (await client.upload(huge, { filename: 'huge.bin' }).done.catch((e: unknown) => e)) as TesseraError;
    expect(failure).toBeInstanceOf(TesseraError);
    expect(failure).toMatchObject({ status: 413, type: 'payload-too-large' });
  });

  it('cancel deletes the upload on the server and rejects done', async () => {
    const task = client.upload(randomBytes(2 * MiB), { chunkSize: 64 * KiB, parallel: 1 });
    await new Promise<void>((resolve) => task.on('sent', () => resolve()));
    const id = task.uploadId!;
    await task.cancel();
    await expect(task.done).rejects.toMatchObject({ type: 'canceled' });
    await expect(client.get(id)).rejects.toMatchObject({ status: 404, type: 'not-found' });
  });

  it('lists the owner’s uploads newest first, with paging, and another owner sees none of them', async () => {
    const page = await client.list({ limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    const next = await client.list({ limit: 2, cursor: page.nextCursor! });
    expect(next.items[0]!.id).not.toBe(page.items[0]!.id);
    const stranger = new TesseraClient({ baseUrl: stack.gatewayUrl, token: await stack.token('someone-else') });
    expect((await stranger.list()).items).toEqual([]);
    await expect(stranger.get(page.items[0]!.id)).rejects.toMatchObject({ status: 404 });
  });
});
