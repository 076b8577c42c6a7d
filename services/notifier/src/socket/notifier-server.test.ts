import { NotFoundError, UnauthorizedError, type EventSubscriber, type TokenVerifier, type UploadEvent, type UploadView } from '@tessera/domain';
import { pino } from 'pino';
import { connect, listen, recordEvents, urlOf, waitFor, type ClientSocket } from '../testing/socket-client';
import { startNotifierServer, type NotifierServer } from './notifier-server';
import { MAX_READS_IN_FLIGHT_PER_SOCKET } from './subscriptions';

const ALICE_UPLOAD = '0190a000-0000-7000-8000-00000000000a';
const ALICE_OTHER = '0190a000-0000-7000-8000-00000000000b';
const ALICE_THIRD = '0190a000-0000-7000-8000-00000000000c';
const BOB_UPLOAD = '0190b000-0000-7000-8000-00000000000b';

/** Tokens are `token-of:<owner>`. */
const tokens: TokenVerifier = {
  async verify(token) {
    if (!token.startsWith('token-of:')) throw new UnauthorizedError('The token is not valid.');
    return { ownerId: token.slice('token-of:'.length), roles: [] };
  },
};

class FakeUploads {
  readonly owners = new Map<string, string>([
    [ALICE_UPLOAD, 'alice'],
    [ALICE_OTHER, 'alice'],
    [ALICE_THIRD, 'alice'],
    [BOB_UPLOAD, 'bob'],
  ]);
  calls = 0;
  /** Runs before answering; lets a test act while a read is in flight. */
  beforeAnswer: ((call: number, ownerId: string) => Promise<void>) | null = null;
  failWith: Error | null = null;

  async execute(ownerId: string, uploadId: string): Promise<UploadView> {
    this.calls += 1;
    await this.beforeAnswer?.(this.calls, ownerId);
    if (this.failWith) throw this.failWith;
    if (this.owners.get(uploadId) !== ownerId) throw new NotFoundError();
    return { id: uploadId, seq: 3, state: 'receiving' } as UploadView;
  }
}

class FakeEvents implements EventSubscriber {
  private handler: ((event: UploadEvent) => void) | null = null;
  stopped = false;

  async subscribe(handler: (event: UploadEvent) => void) {
    this.handler = handler;
    return async () => {
      this.stopped = true;
    };
  }

  publish(uploadId: string, seq: number): void {
    this.handler?.({ type: 'upload.aborted', uploadId, seq });
  }
}

describe('notifier socket server', () => {
  let uploads: FakeUploads;
  let events: FakeEvents;
  let redisUp: boolean;
  let server: NotifierServer;
  let url: string;
  const clients: ClientSocket[] = [];

  const client = async (owner: string) => {
    const socket = await connect(url, { token: `token-of:${owner}` });
    clients.push(socket);
    return socket;
  };
  const subscribe = (socket: ClientSocket, ...args: unknown[]) => socket.timeout(2000).emitWithAck('subscribe', ...args);

  const start = async (maxSubscriptionsPerSocket = 2, connectionLimits = { maxSockets: 100, maxSocketsPerOwner: 10 }) => {
    server = await startNotifierServer({
      getUpload: uploads,
      tokens,
      events,
      readiness: {
        redis: async () => {
          if (!redisUp) throw new Error('connection refused');
        },
        postgres: async () => undefined,
      },
      logger: pino({ level: 'silent' }),
      corsOrigin: '*',
      maxSubscriptionsPerSocket,
      connectionLimits,
    });
    await listen(server.httpServer);
    url = urlOf(server.httpServer);
  };

  beforeEach(async () => {
    uploads = new FakeUploads();
    events = new FakeEvents();
    redisUp = true;
    await start();
  });

  afterEach(async () => {
    clients.splice(0).forEach((socket) => socket.close());
    await server.close();
  });

  it('accepts a token from the Authorization header', async () => {
    const socket = await connect(url, { headers: { authorization: 'Bearer token-of:alice' } });
    clients.push(socket);

    await expect(subscribe(socket, { uploadId: ALICE_UPLOAD })).resolves.toMatchObject({ ok: true });
  });

  it('refuses a bad token at the handshake', async () => {
    await expect(connect(url, { token: 'forged' })).rejects.toMatchObject({
      message: 'unauthorized',
      data: { type: 'unauthorized', detail: expect.stringContaining('not valid') },
    });
  });

  it("refuses sockets past an owner's limit and the server's, and takes them again once others leave", async () => {
    await server.close();
    await start(2, { maxSockets: 3, maxSocketsPerOwner: 2 });
    const [first] = [await client('alice'), await client('alice')];
    await expect(connect(url, { token: 'token-of:alice' })).rejects.toMatchObject({
      message: 'too-many-connections',
      data: { type: 'too-many-connections', detail: expect.stringContaining('sockets') },
    });
    await client('bob');
    await expect(connect(url, { token: 'token-of:carol' })).rejects.toMatchObject({ message: 'too-many-connections' });

    first!.close();
    await waitFor(() => server.io.engine.clientsCount === 2);
    await expect(client('alice')).resolves.toBeDefined();
  });

  it('joins the room before reading the snapshot, so an event published meanwhile arrives', async () => {
    const alice = await client('alice');
    const received = recordEvents(alice);
    uploads.beforeAnswer = async (call) => {
      if (call === 2) events.publish(ALICE_UPLOAD, 4);
    };

    const ack = await subscribe(alice, { uploadId: ALICE_UPLOAD });

    expect(ack).toMatchObject({ ok: true, upload: { id: ALICE_UPLOAD, seq: 3 } });
    await waitFor(() => received.length === 1);
    expect(received[0]).toEqual({ name: 'upload.aborted', payload: { type: 'upload.aborted', uploadId: ALICE_UPLOAD, seq: 4 } });
  });

  it('never lets a stranger into the room, even while its request is being checked', async () => {
    const bob = await client('bob');
    const received = recordEvents(bob);
    uploads.beforeAnswer = async () => events.publish(ALICE_UPLOAD, 1);

    await expect(subscribe(bob, { uploadId: ALICE_UPLOAD })).resolves.toEqual({ ok: false, error: { type: 'not-found' } });
    await expect(subscribe(bob, { uploadId: '0190ffff-0000-7000-8000-000000000000' })).resolves.toEqual({ ok: false, error: { type: 'not-found' } });
    events.publish(ALICE_UPLOAD, 2);

    expect(server.io.of('/').adapter.rooms.has(`upload:${ALICE_UPLOAD}`)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual([]);
  });

  it('matches upload ids case-insensitively', async () => {
    const alice = await client('alice');
    const received = recordEvents(alice);

    await expect(subscribe(alice, { uploadId: ALICE_UPLOAD.toUpperCase() })).resolves.toMatchObject({ ok: true });
    events.publish(ALICE_UPLOAD, 5);

    await waitFor(() => received.length === 1);
  });

  it('answers validation-failed to garbage and keeps the socket', async () => {
    const alice = await client('alice');
    const invalid = { ok: false, error: { type: 'validation-failed', detail: expect.stringContaining('uploadId') } };

    await expect(subscribe(alice)).resolves.toEqual(invalid);
    await expect(subscribe(alice, 'x')).resolves.toEqual(invalid);
    await expect(subscribe(alice, { uploadId: 42 })).resolves.toEqual(invalid);
    await expect(subscribe(alice, { uploadId: 'not-a-uuid' })).resolves.toEqual(invalid);
    await expect(subscribe(alice, null, 'extra')).resolves.toEqual(invalid);
    await expect(alice.timeout(2000).emitWithAck('unsubscribe', [ALICE_UPLOAD])).resolves.toEqual(invalid);
    // Without an ack callback there is nothing to answer; the server must simply carry on.
    alice.emit('subscribe', { uploadId: ALICE_UPLOAD });
    alice.emit('subscribe', 'garbage');
    alice.emit('unsubscribe');

    await expect(subscribe(alice, { uploadId: ALICE_OTHER })).resolves.toMatchObject({ ok: true });
    expect(alice.connected).toBe(true);
  });

  it('limits the uploads one socket watches, counting each upload once', async () => {
    const alice = await client('alice');

    await expect(subscribe(alice, { uploadId: ALICE_UPLOAD })).resolves.toMatchObject({ ok: true });
    await expect(subscribe(alice, { uploadId: ALICE_UPLOAD })).resolves.toMatchObject({ ok: true });
    await expect(subscribe(alice, { uploadId: ALICE_OTHER })).resolves.toMatchObject({ ok: true });
    await expect(subscribe(alice, { uploadId: ALICE_THIRD })).resolves.toMatchObject({
      ok: false,
      error: { type: 'too-many-subscriptions' },
    });

    await expect(alice.timeout(2000).emitWithAck('unsubscribe', { uploadId: ALICE_UPLOAD })).resolves.toEqual({ ok: true });
    await expect(subscribe(alice, { uploadId: ALICE_THIRD })).resolves.toMatchObject({ ok: true });
  });

  it('stops relaying an upload after unsubscribe, even one sent while subscribing', async () => {
    const alice = await client('alice');
    const received = recordEvents(alice);

    const subscribed = subscribe(alice, { uploadId: ALICE_UPLOAD });
    const unsubscribed = alice.timeout(2000).emitWithAck('unsubscribe', { uploadId: ALICE_UPLOAD });
    await expect(subscribed).resolves.toMatchObject({ ok: true });
    await expect(unsubscribed).resolves.toEqual({ ok: true });
    events.publish(ALICE_UPLOAD, 1);
    await expect(subscribe(alice, { uploadId: ALICE_OTHER })).resolves.toMatchObject({ ok: true });
    events.publish(ALICE_OTHER, 1);

    await waitFor(() => received.length === 1);
    expect(received[0]?.payload).toMatchObject({ uploadId: ALICE_OTHER });
  });

  it('reads only a few uploads at a time for one socket, so a flood from it cannot hold up the others', async () => {
    await server.close();
    await start(1000);
    const held: (() => void)[] = [];
    let aliceReading = 0;
    let aliceMost = 0;
    uploads.beforeAnswer = async (_call, ownerId) => {
      if (ownerId !== 'alice') return;
      aliceReading += 1;
      aliceMost = Math.max(aliceMost, aliceReading);
      await new Promise<void>((resolve) => held.push(resolve));
      aliceReading -= 1;
    };
    const alice = await client('alice');
    const bob = await client('bob');

    const flood = Promise.all(Array.from({ length: 100 }, (_, i) => subscribe(alice, { uploadId: `0190c000-0000-7000-8000-${String(i).padStart(12, '0')}` })));
    await waitFor(() => held.length > 0);
    // Bob is answered while every read of alice's is still held.
    await expect(subscribe(bob, { uploadId: BOB_UPLOAD })).resolves.toMatchObject({ ok: true });
    const release = setInterval(() => held.splice(0).forEach((resolve) => resolve()), 1);
    try {
      expect(await flood).toEqual(Array.from({ length: 100 }, () => ({ ok: false, error: { type: 'not-found' } })));
    } finally {
      clearInterval(release);
    }
    expect(aliceMost).toBe(MAX_READS_IN_FLIGHT_PER_SOCKET);
  });

  it('answers service-unavailable when the upload cannot be read, and does not join', async () => {
    const alice = await client('alice');
    uploads.failWith = new Error('connect ECONNREFUSED 127.0.0.1:5432');

    await expect(subscribe(alice, { uploadId: ALICE_UPLOAD })).resolves.toMatchObject({
      ok: false,
      error: { type: 'service-unavailable' },
    });
    expect(server.io.of('/').adapter.rooms.has(`upload:${ALICE_UPLOAD}`)).toBe(false);
  });

  it('answers /healthz, /readyz and a problem for anything else', async () => {
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    await expect(health.json()).resolves.toEqual({ status: 'ok' });

    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    await expect(ready.json()).resolves.toMatchObject({ status: 'ok', checks: { redis: 'up', postgres: 'up' } });

    redisUp = false;
    const notReady = await fetch(`${url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.headers.get('content-type')).toBe('application/problem+json');
    await expect(notReady.json()).resolves.toMatchObject({
      type: 'service-unavailable',
      status: 503,
      detail: expect.stringContaining('redis'),
      checks: { redis: 'down', postgres: 'up' },
    });

    const missing = await fetch(`${url}/v1/uploads`);
    expect(missing.status).toBe(404);
    await expect(missing.json()).resolves.toMatchObject({ type: 'not-found', status: 404 });
  });

  it('disconnects its sockets and stops the relay on close', async () => {
    const alice = await client('alice');
    const disconnected = new Promise((resolve) => alice.once('disconnect', resolve));

    await server.close();

    // Not "io server disconnect": that reason would stop the client from reconnecting to
    // another replica.
    await expect(disconnected).resolves.toBe('transport close');
    expect(events.stopped).toBe(true);
    server = { close: async () => undefined } as NotifierServer;
  });
});
