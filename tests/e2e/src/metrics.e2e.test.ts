// The three /metrics endpoints of a real stack (separate processes, PostgreSQL, Redis) after
// an upload: what a Prometheus scraping them would see.
import { createHash, randomBytes } from 'node:crypto';
import { EventRecorder } from './support/events';
import { startStack, type Stack } from './support/stack';

jest.setTimeout(120_000);

const KiB = 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

type Samples = Record<string, number>;

/** Every `tessera_` sample of a /metrics answer: `name{labels}` → value, with the service label left out. */
async function scrape(baseUrl: string, service: string): Promise<Samples> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  // Every service exports the default process metrics under its own service label.
  expect(text).toMatch(new RegExp(`^process_cpu_user_seconds_total\\{service="${service}"\\} `, 'm'));
  const samples: Samples = {};
  for (const line of text.split('\n')) {
    const match = /^(tessera_\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = (match[2] ?? '').split(',').filter(Boolean);
    expect(labels).toContain(`service="${service}"`);
    samples[`${match[1]}{${labels.filter((l) => !l.startsWith('service=')).join(',')}}`] = Number(match[3]);
  }
  return samples;
}

/** Sum of the samples (over every endpoint) whose key starts with `prefix`. */
const total = (all: Samples[], prefix: string) => all.flatMap((s) => Object.entries(s)).reduce((sum, [key, value]) => (key.startsWith(prefix) ? sum + value : sum), 0);

describe('metrics of a running stack', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ DEFAULT_CHUNK_SIZE: String(64 * KiB) });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('shows an upload in the counters of the gateway, the worker and the notifier', async () => {
    const token = await stack.token('alice');
    const endpoints = () => Promise.all([scrape(stack.gatewayUrl, 'gateway'), scrape(stack.workerUrl, 'chunk-worker'), scrape(stack.notifierUrl, 'notifier')]);
    const before = await endpoints();

    // Health of the worker's own server, beside its metrics.
    expect((await fetch(`${stack.workerUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.workerUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', blobStore: 'ok' } });

    const file = randomBytes(3 * 64 * KiB + 123);
    const api = (path: string, init: RequestInit = {}) => fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
    const created = await api('/v1/uploads', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'm.bin', size: file.length, chunkSize: 64 * KiB, sha256: sha256(file) }),
    });
    expect(created.status).toBe(201);
    const { id, chunkCount } = (await created.json()) as { id: string; chunkCount: number };

    const events = await EventRecorder.connect(stack.notifierUrl, token);
    try {
      expect(await events.subscribe(id)).toMatchObject({ ok: true });
      for (let index = 0; index < chunkCount; index++) {
        const res = await api(`/v1/uploads/${id}/chunks/${index}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream' },
          body: file.subarray(index * 64 * KiB, (index + 1) * 64 * KiB),
        });
        expect(res.status).toBe(202);
      }
      await events.waitFor((e) => e.type === 'upload.completed' && e.uploadId === id, 30_000);

      // The queue gauges are read through a 2 s cache; the counters move at once.
      let after: Samples[] = [];
      const deadline = Date.now() + 10_000;
      do {
        after = await endpoints();
        if (after[1]!['tessera_queue_jobs{queue="finalize",state="completed"}'] === 1) break;
        await new Promise((r) => setTimeout(r, 250));
      } while (Date.now() < deadline);
      const [gateway, worker, notifier] = after as [Samples, Samples, Samples];
      const grew = (prefix: string) => total(after, prefix) - total(before, prefix);

      expect(grew('tessera_uploads_created_total{protocol="native"}')).toBe(1);
      expect(grew('tessera_received_bytes_total{protocol="native"}')).toBe(file.length);
      expect(grew('tessera_uploads_finished_total{outcome="completed"}')).toBe(1);
      expect(worker['tessera_uploads_finished_total{outcome="completed"}']).toBe(1);
      expect(grew('tessera_chunk_processing_seconds_count{outcome="stored"}')).toBe(chunkCount);
      expect(gateway['tessera_http_requests_total{method="PUT",route="/v1/uploads/:id/chunks/:index",status="202"}']).toBe(chunkCount);
      expect(gateway['tessera_http_request_duration_seconds_count{method="POST",route="/v1/uploads",status="201"}']).toBe(1);
      // The queues, from the worker and from the gateway alike.
      for (const samples of [gateway, worker]) {
        for (const queue of ['chunks', 'finalize', 'sweep']) {
          for (const state of ['waiting', 'active', 'delayed', 'failed', 'completed']) expect(samples).toHaveProperty([`tessera_queue_jobs{queue="${queue}",state="${state}"}`]);
          expect(samples).toHaveProperty([`tessera_queue_oldest_waiting_age_seconds{queue="${queue}"}`]);
        }
      }
      expect(worker['tessera_queue_jobs{queue="chunks",state="completed"}']).toBe(chunkCount);
      expect(worker['tessera_queue_jobs{queue="finalize",state="completed"}']).toBe(1);
      // The open socket, its subscription, and the events relayed to it with their lag.
      expect(notifier['tessera_socket_connections{}']).toBeGreaterThanOrEqual(1);
      expect(notifier['tessera_socket_subscriptions{}']).toBeGreaterThanOrEqual(1);
      expect(grew('tessera_events_relayed_total{type="chunk.stored"}')).toBe(chunkCount);
      expect(grew('tessera_events_relayed_total{type="upload.completed"}')).toBe(1);
      expect(grew('tessera_event_relay_lag_seconds_count{}')).toBeGreaterThanOrEqual(2 * chunkCount + 1);
    } finally {
      events.close();
    }

    // Once the socket is gone the gauge follows.
    const deadline = Date.now() + 5000;
    while ((await scrape(stack.notifierUrl, 'notifier'))['tessera_socket_connections{}'] !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await scrape(stack.notifierUrl, 'notifier'))['tessera_socket_connections{}']).toBe(0);
  });

  it("closes the worker's HTTP server when the worker stops on SIGTERM, and opens it again on restart", async () => {
    const exit = await stack.kill('chunk-worker', 'SIGTERM');
    expect(exit).toMatchObject({ code: 0, forced: false });
    await expect(fetch(`${stack.workerUrl}/healthz`)).rejects.toThrow();
    await stack.start('chunk-worker');
    expect((await fetch(`${stack.workerUrl}/healthz`)).status).toBe(200);
    // A fresh process: its counters start again, its queue gauges read Redis as before.
    const worker = await scrape(stack.workerUrl, 'chunk-worker');
    expect(worker['tessera_uploads_finished_total{outcome="completed"}']).toBe(0);
    expect(worker).toHaveProperty(['tessera_queue_jobs{queue="chunks",state="completed"}']);
  });
});
