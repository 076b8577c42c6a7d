// /metrics of the notifier: the socket server with fake uploads and events, real sockets.
import { NotFoundError, UnauthorizedError, type EventDelivery, type EventSubscriber, type TokenVerifier, type UploadEvent, type UploadView } from '@tessera/domain';
import { pino } from 'pino';
import { notifierMetrics } from './metrics';
import { startNotifierServer, type NotifierServer } from './socket/notifier-server';
import { connect, listen, recordEvents, urlOf, waitFor, type ClientSocket } from './testing/socket-client';

const UPLOAD_A = '0190a000-0000-7000-8000-00000000000a';
const UPLOAD_B = '0190a000-0000-7000-8000-00000000000b';

const tokens: TokenVerifier = {
  async verify(token) {
    if (!token.startsWith('token-of:')) throw new UnauthorizedError('The token is not valid.');
    return { ownerId: token.slice('token-of:'.length), roles: [] };
  },
};
const uploads = {
  async execute(ownerId: string, uploadId: string): Promise<UploadView> {
    if (ownerId !== 'alice') throw new NotFoundError();
    return { id: uploadId, seq: 1, state: 'receiving' } as UploadView;
  },
};

class FakeEvents implements EventSubscriber {
  handler: ((event: UploadEvent, delivery?: EventDelivery) => void) | null = null;
  async subscribe(handler: (event: UploadEvent, delivery?: EventDelivery) => void) {
    this.handler = handler;
    return async () => undefined;
  }
}

/** `name{labels}` → value of every tessera_ sample, without the service label. */
function parse(text: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(tessera_\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match) result[`${match[1]}{${(match[2] ?? '').split(',').filter((l) => l !== 'service="notifier"').join(',')}}`] = Number(match[3]);
  }
  return result;
}

describe('notifier /metrics', () => {
  const events = new FakeEvents();
  let now = 1_000_000;
  const metrics = notifierMetrics(() => now);
  let server: NotifierServer;
  let url: string;
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    server = await startNotifierServer({
      getUpload: uploads,
      tokens,
      events,
      readiness: { redis: async () => undefined, postgres: async () => undefined },
      logger: pino({ level: 'silent' }),
      corsOrigin: '*',
      maxSubscriptionsPerSocket: 10,
      connectionLimits: { maxSockets: 100, maxSocketsPerOwner: 10 },
      metrics,
    });
    await listen(server.httpServer);
    url = urlOf(server.httpServer);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await server.close();
  });

  const scrape = async () => {
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return res.text();
  };

  it('counts sockets and subscriptions while they are open, and the events relayed with their lag', async () => {
    const before = await scrape();
    expect(parse(before)).toMatchObject({ 'tessera_socket_connections{}': 0, 'tessera_socket_subscriptions{}': 0, 'tessera_event_relay_lag_seconds_count{}': 0 });
    expect(before).toMatch(/^process_resident_memory_bytes\{service="notifier"\} \d+/m);

    const alice = await connect(url, { token: 'token-of:alice' });
    const again = await connect(url, { token: 'token-of:alice' });
    sockets.push(alice, again);
    await expect(connect(url, { token: 'nope' })).rejects.toThrow();
    const received = recordEvents(alice);
    await alice.timeout(2000).emitWithAck('subscribe', { uploadId: UPLOAD_A });
    await alice.timeout(2000).emitWithAck('subscribe', { uploadId: UPLOAD_B });
    await again.timeout(2000).emitWithAck('subscribe', { uploadId: UPLOAD_A });
    // A stranger's subscribe is refused and does not count.
    const bob = await connect(url, { token: 'token-of:bob' });
    sockets.push(bob);
    await bob.timeout(2000).emitWithAck('subscribe', { uploadId: UPLOAD_A });

    events.handler!({ type: 'upload.aborted', uploadId: UPLOAD_A, seq: 2 }, { publishedAt: now - 30 });
    events.handler!({ type: 'upload.aborted', uploadId: UPLOAD_B, seq: 2 }, { publishedAt: now - 3000 });
    // From a publisher of an earlier version: relayed and counted, no lag to measure.
    events.handler!({ type: 'upload.expired', uploadId: UPLOAD_B, seq: 3 }, { publishedAt: null });
    await waitFor(() => received.length === 3);

    const during = parse(await scrape());
    expect(during).toMatchObject({
      'tessera_socket_connections{}': 3,
      'tessera_socket_subscriptions{}': 3,
      'tessera_events_relayed_total{type="upload.aborted"}': 2,
      'tessera_events_relayed_total{type="upload.expired"}': 1,
      'tessera_event_relay_lag_seconds_count{}': 2,
      'tessera_event_relay_lag_seconds_bucket{le="0.05"}': 1,
      'tessera_event_relay_lag_seconds_bucket{le="5"}': 2,
    });
    expect(during['tessera_event_relay_lag_seconds_sum{}']).toBeCloseTo(3.03, 5);

    alice.close();
    await waitFor(() => server.io.of('/').sockets.size === 2);
    expect(parse(await scrape())).toMatchObject({ 'tessera_socket_connections{}': 2, 'tessera_socket_subscriptions{}': 1 });
  });

  it('still answers health beside metrics', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`${url}/nothing`)).status).toBe(404);
  });
});
