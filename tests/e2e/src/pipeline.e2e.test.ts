import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, type Stack } from './support/stack';
import { EventRecorder } from './support/events';

jest.setTimeout(180_000);

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const digestHeader = (data: Buffer) => `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('the whole pipeline: gateway → BullMQ → chunk-worker → PostgreSQL → notifier', () => {
  let stack: Stack;
  let token: string;
  let strangerToken: string;

  const api = (path: string, init: RequestInit & { as?: string } = {}) =>
    fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { authorization: `Bearer ${init.as ?? token}`, ...(init.headers ?? {}) } });

  beforeAll(async () => {
    stack = await startStack({ DEFAULT_CHUNK_SIZE: String(MiB) });
    token = await stack.token('alice');
    strangerToken = await stack.token('mallory');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('stores a 64 MiB file sent in 1 MiB chunks in random order, four at a time, and serves it back byte for byte', async () => {
    const file = randomBytes(64 * MiB);
    const fileSha = sha256(file);
    const started = process.hrtime.bigint();

    const created = await api('/v1/uploads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'random.bin', size: file.length, chunkSize: MiB, sha256: fileSha }),
    });
    expect(created.status).toBe(201);
    const upload = (await created.json()) as { id: string; chunkCount: number; state: string; missing: number[] };
    expect(created.headers.get('location')).toBe(`/v1/uploads/${upload.id}`);
    expect(upload).toMatchObject({ chunkCount: 64, state: 'pending' });
    expect(upload.missing).toHaveLength(64);

    const events = await EventRecorder.connect(stack.notifierUrl, token);
    const ack = await events.subscribe(upload.id);
    expect(ack).toMatchObject({ ok: true, upload: { id: upload.id, state: 'pending' } });

    await inParallel(shuffled([...Array(64).keys()]), 4, async (index) => {
      const chunk = file.subarray(index * MiB, (index + 1) * MiB);
      const res = await api(`/v1/uploads/${upload.id}/chunks/${index}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream', 'content-digest': digestHeader(chunk) },
        body: chunk,
      });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ index, size: MiB, state: 'received' });
    });

    const completed = await events.waitFor((e) => e.type === 'upload.completed', 120_000);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(completed).toMatchObject({ uploadId: upload.id, sha256: fileSha, size: file.length });

    const stored = events.events.filter((e) => e.type === 'chunk.stored');
    expect(new Set(stored.map((e) => (e as { index: number }).index)).size).toBe(64);
    const seqs = events.events.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(Math.min(...seqs)).toBeGreaterThan(ack.upload!.seq);
    const progress = events.events.filter((e) => e.type === 'upload.progress').sort((a, b) => a.seq - b.seq);
    expect(progress.at(-1)).toMatchObject({ percent: 100, chunksStored: 64 });
    expect(progress.slice(0, -1).every((e) => (e as { percent: number }).percent < 100)).toBe(true);
    expect(completed.seq).toBe(Math.max(...seqs));

    const final = await (await api(`/v1/uploads/${upload.id}`)).json();
    expect(final).toMatchObject({ state: 'completed', sha256: fileSha, declaredSha256: fileSha, bytesStored: file.length, bytesReceived: file.length, chunksStored: 64, missing: [] });

    const download = await api(`/v1/uploads/${upload.id}/content`);
    expect(download.status).toBe(200);
    expect(download.headers.get('etag')).toBe(`"${fileSha}"`);
    expect(download.headers.get('content-disposition')).toContain('random.bin');
    expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(fileSha);

    const ranged = await api(`/v1/uploads/${upload.id}/content`, { headers: { range: `bytes=${MiB - 10}-${MiB + 9}` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes ${MiB - 10}-${MiB + 9}/${file.length}`);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(file.subarray(MiB - 10, MiB + 10));

    const duplicate = await api(`/v1/uploads/${upload.id}/chunks/3`, { method: 'PUT', body: file.subarray(3 * MiB, 4 * MiB) });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await duplicate.json()).toMatchObject({ type: 'upload-not-receiving' });

    const stranger = await api(`/v1/uploads/${upload.id}`, { as: strangerToken });
    expect(stranger.status).toBe(404);
    expect(await stranger.json()).toMatchObject({ type: 'not-found' });
    const strangerEvents = await EventRecorder.connect(stack.notifierUrl, strangerToken);
    expect(await strangerEvents.subscribe(upload.id)).toEqual({ ok: false, error: { type: 'not-found' } });
    strangerEvents.close();
    events.close();

    const rss = stack.peakRss();
    const report = { fileBytes: file.length, chunkBytes: MiB, parallel: 4, elapsedMs: Math.round(elapsedMs), peakRssMiB: Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, Math.round(v / MiB)])) };
    mkdirSync(join(__dirname, '..', '..', '..', 'test-artifacts'), { recursive: true });
    writeFileSync(join(__dirname, '..', '..', '..', 'test-artifacts', 'e2e-64mib.json'), JSON.stringify(report, null, 2));
    console.log(`64 MiB end-to-end: ${JSON.stringify(report)}`);
  });

  it('refuses a second copy of a chunk while the first is still arriving, and after it arrived', async () => {
    const data = randomBytes(2 * 64 * 1024);
    const res = await api('/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'two.bin', size: data.length, chunkSize: 64 * 1024 }) });
    const { id } = (await res.json()) as { id: string };
    const chunk = data.subarray(0, 64 * 1024);

    // The first request sends half its body and waits while a second copy arrives.
    const slow = request(`${stack.gatewayUrl}/v1/uploads/${id}/chunks/0`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': String(chunk.length) } });
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      slow.once('response', (r) => {
        const parts: Buffer[] = [];
        r.on('data', (d: Buffer) => parts.push(d)).on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      });
      slow.once('error', reject);
    });
    slow.write(chunk.subarray(0, 1000));
    await new Promise((r) => setTimeout(r, 300));
    const concurrent = await api(`/v1/uploads/${id}/chunks/0`, { method: 'PUT', body: chunk });
    expect(concurrent.status).toBe(409);
    expect(await concurrent.json()).toMatchObject({ type: 'chunk-already-received' });
    slow.end(chunk.subarray(1000));
    const first = await answered;
    expect(first.status).toBe(202);
    const again = await api(`/v1/uploads/${id}/chunks/0`, { method: 'PUT', body: data.subarray(0, 64 * 1024) });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ type: 'chunk-already-received', status: 409 });
  });

  it('takes a one-shot multipart form upload, cuts it into chunks and completes it', async () => {
    const file = randomBytes(3 * MiB + 12345);
    const events = await EventRecorder.connect(stack.notifierUrl, token);
    const form = new FormData();
    form.append('note', 'ignored field');
    form.append('file', new Blob([file], { type: 'application/x-test' }), '../../etc/passwd report.bin');
    const res = await api('/upload', { method: 'POST', body: form });
    expect({ status: res.status, body: res.status === 201 ? 'created' : await res.json() }).toEqual({ status: 201, body: 'created' });
    const upload = (await res.json()) as { id: string; size: number; chunkCount: number; filename: string; contentType: string; protocol: string };
    expect(upload).toMatchObject({ size: file.length, chunkCount: 4, filename: 'passwd report.bin', contentType: 'application/x-test', protocol: 'form' });

    const ack = await events.subscribe(upload.id);
    expect(ack.ok).toBe(true);
    if (ack.upload?.state !== 'completed') await events.waitFor((e) => e.type === 'upload.completed' && e.uploadId === upload.id, 60_000);
    const final = await (await api(`/v1/uploads/${upload.id}`)).json();
    expect(final).toMatchObject({ state: 'completed', sha256: sha256(file) });
    const download = Buffer.from(await (await api(`/v1/uploads/${upload.id}/content`)).arrayBuffer());
    expect(sha256(download)).toBe(sha256(file));
    events.close();
  });

  it('takes a chunk as a multipart POST, and forgets an upload once it is deleted', async () => {
    const data = randomBytes(100_000);
    const created = await api('/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename: 'one.bin', size: data.length, chunkSize: 128 * 1024 }) });
    const { id } = (await created.json()) as { id: string };
    const form = new FormData();
    form.append('chunk', new Blob([data]), 'chunk-0');
    const posted = await api(`/v1/uploads/${id}/chunks/0`, { method: 'POST', body: form });
    expect(posted.status).toBe(202);
    expect(await posted.json()).toEqual({ index: 0, size: data.length, state: 'received' });

    expect((await api(`/v1/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await api(`/v1/uploads/${id}`)).status).toBe(404);
    const list = (await (await api('/v1/uploads?limit=100')).json()) as { items: { id: string }[] };
    expect(list.items.map((u) => u.id)).not.toContain(id);
  });
});
