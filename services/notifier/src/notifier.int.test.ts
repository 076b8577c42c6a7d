// The notifier against real PostgreSQL and Redis: a fresh database for this file and a
// Redis prefix of its own, so parallel runs and other suites never see its events.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  dropDatabase,
  eventChannel,
  initOrm,
  migrateDatabase,
  MikroOrmUploadRepository,
  RedisProgressPublisher,
  redisConnection,
  signToken,
  type TesseraOrm,
} from '@tessera/adapters';
import { newUpload, type UploadEvent } from '@tessera/domain';
import { pino } from 'pino';
import { loadConfig } from './config';
import { buildContainer, type Container } from './container';
import { startNotifierServer, type NotifierServer } from './socket/notifier-server';
import { connect, listen, recordEvents, urlOf, waitFor, type ClientSocket } from './testing/socket-client';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'notifier-integration-test-secret-0123456789';
const RUN = `${process.pid}_${randomBytes(4).toString('hex')}`;
const DATABASE_URL = (() => {
  const server = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  server.pathname = `/tessera_notifier_${RUN}`;
  return server.href;
})();
const REDIS_PREFIX = `test:notifier:${RUN}`;

describe('notifier (real PostgreSQL and Redis)', () => {
  let orm: TesseraOrm;
  let uploads: MikroOrmUploadRepository;
  let container: Container;
  let server: NotifierServer;
  let url: string;
  const redis = redisConnection(REDIS_URL);
  const publisher = new RedisProgressPublisher(redis, eventChannel(REDIS_PREFIX));
  const clients: ClientSocket[] = [];

  const createUpload = async (ownerId: string): Promise<string> => {
    const id = randomUUID();
    const upload = newUpload({
      id,
      ownerId,
      filename: 'movie.mkv',
      contentType: 'video/x-matroska',
      size: 3 * 1024 * 1024,
      chunkSize: 1024 * 1024,
      declaredSha256: null,
      metadata: {},
      protocol: 'native',
      now: new Date(),
      ttlMs: 3600_000,
    });
    await uploads.create(upload);
    return id;
  };

  const client = async (ownerId: string): Promise<ClientSocket> => {
    const socket = await connect(url, { token: await signToken(SECRET, ownerId) });
    clients.push(socket);
    return socket;
  };

  const subscribe = (socket: ClientSocket, payload: unknown) => socket.timeout(3000).emitWithAck('subscribe', payload);

  beforeAll(async () => {
    // Creates the database as well.
    await migrateDatabase(DATABASE_URL);
    orm = await initOrm({ databaseUrl: DATABASE_URL });
    uploads = new MikroOrmUploadRepository(orm);

    const config = loadConfig({ DATABASE_URL, REDIS_URL, REDIS_PREFIX, AUTH_JWT_SECRET: SECRET, LOG_LEVEL: 'silent' });
    const logger = pino({ level: 'silent' });
    container = await buildContainer(config, logger);
    server = await startNotifierServer({ ...container, logger, corsOrigin: config.corsOrigin, maxSubscriptionsPerSocket: config.maxSubscriptionsPerSocket, connectionLimits: config.connectionLimits });
    await listen(server.httpServer);
    url = urlOf(server.httpServer);
  }, 60_000);

  afterEach(() => {
    clients.splice(0).forEach((socket) => socket.close());
  });

  afterAll(async () => {
    await server?.close();
    await container?.close();
    await orm?.close();
    await redis.quit();
    await dropDatabase(DATABASE_URL);
  }, 60_000);

  it('refuses a socket without a token, or with a token signed by another secret', async () => {
    const refused = { message: 'unauthorized', data: { type: 'unauthorized', detail: expect.any(String) } };

    await expect(connect(url)).rejects.toMatchObject(refused);
    await expect(connect(url, { token: await signToken('another-secret-of-at-least-32-characters', 'alice') })).rejects.toMatchObject(refused);
    await expect(connect(url, { token: 'not.a.jwt' })).rejects.toMatchObject(refused);
  });

  it("answers a subscription to the caller's upload with its snapshot", async () => {
    const id = await createUpload('alice');
    const alice = await client('alice');

    const ack = await subscribe(alice, { uploadId: id });

    expect(ack).toEqual({
      ok: true,
      upload: expect.objectContaining({ id, state: 'pending', seq: 0, chunkCount: 3, missing: [0, 1, 2], filename: 'movie.mkv' }),
    });
  });

  it("answers not-found for another owner's upload, and relays none of its events to that socket", async () => {
    const aliceUpload = await createUpload('alice');
    const bobUpload = await createUpload('bob');
    const alice = await client('alice');
    const bob = await client('bob');
    const toAlice = recordEvents(alice);
    const toBob = recordEvents(bob);

    await expect(subscribe(bob, { uploadId: aliceUpload })).resolves.toEqual({ ok: false, error: { type: 'not-found' } });
    await expect(subscribe(bob, { uploadId: randomUUID() })).resolves.toEqual({ ok: false, error: { type: 'not-found' } });
    await expect(subscribe(alice, { uploadId: aliceUpload })).resolves.toMatchObject({ ok: true });
    await expect(subscribe(bob, { uploadId: bobUpload })).resolves.toMatchObject({ ok: true });

    await publisher.publish([{ type: 'upload.aborted', uploadId: aliceUpload, seq: 1 }]);
    // Published after Alice's event on the same channel, so once Bob has this one he
    // would already have had hers.
    await publisher.publish([{ type: 'upload.expired', uploadId: bobUpload, seq: 1 }]);

    await waitFor(() => toAlice.length === 1 && toBob.length === 1);
    expect(toAlice).toEqual([{ name: 'upload.aborted', payload: { type: 'upload.aborted', uploadId: aliceUpload, seq: 1 } }]);
    expect(toBob).toEqual([{ name: 'upload.expired', payload: { type: 'upload.expired', uploadId: bobUpload, seq: 1 } }]);
  });

  it('answers validation-failed to garbage subscribe payloads', async () => {
    const alice = await client('alice');

    for (const payload of [undefined, null, 'x', 42, [], {}, { uploadId: 'nope' }, { uploadId: 7 }]) {
      await expect(subscribe(alice, payload)).resolves.toEqual({
        ok: false,
        error: { type: 'validation-failed', detail: expect.any(String) },
      });
    }
    expect(alice.connected).toBe(true);
  });

  it('delivers events in the order they were published', async () => {
    const id = await createUpload('alice');
    const alice = await client('alice');
    const received = recordEvents(alice);
    await expect(subscribe(alice, { uploadId: id })).resolves.toMatchObject({ ok: true });

    const events: UploadEvent[] = [];
    for (let index = 0; index < 3; index += 1) {
      const seq = events.length + 1;
      events.push({ type: 'chunk.stored', uploadId: id, seq, index, size: 1024 * 1024, sha256: 'c'.repeat(64) });
      events.push({
        type: 'upload.progress',
        uploadId: id,
        seq: seq + 1,
        chunksStored: index + 1,
        chunkCount: 3,
        bytesStored: (index + 1) * 1024 * 1024,
        size: 3 * 1024 * 1024,
        percent: index === 2 ? 100 : Math.floor(((index + 1) * 100) / 3),
      });
    }
    events.push({ type: 'upload.completed', uploadId: id, seq: 7, sha256: 'd'.repeat(64), size: 3 * 1024 * 1024 });
    // Separate publishes, as separate workers would send them.
    for (const event of events) await publisher.publish([event]);

    await waitFor(() => received.length === events.length);
    expect(received).toEqual(events.map((event) => ({ name: event.type, payload: event })));
  });

  it('answers /healthz and /readyz', async () => {
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    await expect(health.json()).resolves.toEqual({ status: 'ok' });

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    await expect(ready.json()).resolves.toEqual({ status: 'ok', checks: { redis: 'up', postgres: 'up' } });
  });
});
