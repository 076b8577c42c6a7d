import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { UnauthorizedError, type TokenVerifier } from '@tessera/domain';
import { FixedClock, InMemoryBlobStore, InMemoryTusRepository, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '@tessera/domain/testing';
import { pino } from 'pino';
import request from 'supertest';
import { createApp, type AppDeps } from './app';
import { createHttpServer } from './http-server';
import { gatewayUseCases } from './use-cases';

const KiB = 1024;

/** Accepts "token-<owner>" as a bearer token for <owner>. */
const verifier: TokenVerifier = {
  async verify(token) {
    if (!token.startsWith('token-')) throw new UnauthorizedError('The token is not valid.');
    return { ownerId: token.slice('token-'.length), roles: [] };
  },
};
const as = (owner: string) => ({ authorization: `Bearer token-${owner}` });

type Options = Partial<Pick<AppDeps, 'corsOrigins'>> & { rateLimit?: { perSecond: number; burst: number }; maxUnfinishedPerOwner?: number; bodyIdleTimeoutMs?: number };

function appWith(options: Options = {}, blobs = new InMemoryBlobStore()) {
  const repo = new InMemoryUploadRepository();
  const settings = {
    maxUploadBytes: 1024 ** 3,
    defaultChunkSize: 64 * KiB,
    uploadTtlMs: 3_600_000,
    chunkClaimLeaseMs: 60_000,
    lockLeaseMs: 10_000,
    ...(options.maxUnfinishedPerOwner ? { maxUnfinishedPerOwner: options.maxUnfinishedPerOwner } : {}),
    ...(options.bodyIdleTimeoutMs ? { bodyIdleTimeoutMs: options.bodyIdleTimeoutMs } : {}),
  };
  const clock = new FixedClock();
  return createApp({
    logger: pino({ level: 'silent' }),
    verifier,
    limits: { maxUploadBytes: settings.maxUploadBytes, maxChunkBytes: 64 * 1024 * KiB, ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}) },
    readiness: { postgres: () => repo.ping() },
    useCases: gatewayUseCases({ repo, tus: new InMemoryTusRepository(repo), blobs, queue: new RecordingChunkQueue(), publisher: new RecordingPublisher(), ids: new SequentialIds(), clock }, settings),
    ...(options.corsOrigins ? { corsOrigins: options.corsOrigins } : {}),
  });
}

describe('gateway hardening', () => {
  it('sends security headers and a request id on every answer, errors included', async () => {
    const app = appWith();
    for (const res of [await request(app).get('/healthz'), await request(app).get('/v1/uploads'), await request(app).get('/nowhere')]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['x-request-id']).toMatch(/^[\w.-]{1,64}$/);
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
    const echoed = await request(app).get('/healthz').set('X-Request-Id', 'client-id.42');
    expect(echoed.headers['x-request-id']).toBe('client-id.42');
    const refused = await request(app).get('/healthz').set('X-Request-Id', '<script>');
    expect(refused.headers['x-request-id']).not.toBe('<script>');
  });

  it('answers CORS only for allowed origins, preflights included, without a token', async () => {
    const app = appWith({ corsOrigins: ['https://app.example'] });
    const preflight = await request(app)
      .options('/v1/uploads/00000000-0000-7000-8000-000000000000/chunks/0')
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'PUT')
      .set('Access-Control-Request-Headers', 'authorization, content-digest');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(preflight.headers['access-control-allow-methods']).toContain('PUT');
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);

    const allowed = await request(app).get('/v1/uploads').set(as('alice')).set('Origin', 'https://app.example');
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(allowed.headers['access-control-expose-headers']).toContain('X-Request-Id');

    const stranger = await request(app).get('/v1/uploads').set(as('alice')).set('Origin', 'https://evil.example');
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    const byDefault = await request(appWith()).get('/v1/uploads').set(as('alice')).set('Origin', 'https://app.example');
    expect(byDefault.headers['access-control-allow-origin']).toBeUndefined();
  });

  it("limits each owner's request rate with 429 and Retry-After, leaving other owners alone", async () => {
    const app = appWith({ rateLimit: { perSecond: 0.5, burst: 3 } });
    for (let i = 0; i < 3; i++) expect((await request(app).get('/v1/uploads').set(as('greedy'))).status).toBe(200);
    const limited = await request(app).get('/v1/uploads').set(as('greedy'));
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(limited.body).toMatchObject({ type: 'rate-limited', status: 429 });
    expect(Number(limited.headers['retry-after'])).toBe(2);
    expect((await request(app).get('/v1/uploads').set(as('polite'))).status).toBe(200);
    expect((await request(app).get('/healthz')).status).toBe(200);
  });

  it('refuses a new upload past the per-owner limit of unfinished uploads with 429 too-many-uploads', async () => {
    const app = appWith({ maxUnfinishedPerOwner: 2 });
    const body = { filename: 'a.bin', size: 100 * KiB };
    for (let i = 0; i < 2; i++) expect((await request(app).post('/v1/uploads').set(as('alice')).send(body)).status).toBe(201);
    const refused = await request(app).post('/v1/uploads').set(as('alice')).send(body);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ type: 'too-many-uploads', status: 429, limit: 2 });
    expect((await request(app).get('/v1/uploads').set(as('alice'))).body.items).toHaveLength(2);
    expect((await request(app).post('/v1/uploads').set(as('bob')).send(body)).status).toBe(201);
  });

  it('gives up a chunk body that goes silent with 408, closes the connection and keeps nothing', async () => {
    const blobs = new InMemoryBlobStore();
    const app = appWith({ bodyIdleTimeoutMs: 200 }, blobs);
    const created = await request(app).post('/v1/uploads').set(as('alice')).send({ filename: 'slow.bin', size: 100 * KiB });
    const server = createHttpServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.write(
        `PUT /v1/uploads/${created.body.id}/chunks/0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token-alice\r\nContent-Length: ${64 * KiB}\r\n\r\n` + 'x'.repeat(1000),
      );
      await once(socket, 'close');
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toMatch(/content-type: application\/problem\+json/i);
      expect(answer).toContain('"type":"request-timeout"');
      expect(blobs.stagedKeys()).toEqual([]);
      const after = await request(app).get(`/v1/uploads/${created.body.id}`).set(as('alice'));
      expect(after.body).toMatchObject({ missing: [0, 1], bytesReceived: 0 });
    } finally {
      server.close();
    }
  });
});
