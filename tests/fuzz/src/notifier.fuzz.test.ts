import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { notUuidSegment } from './arbitraries';
import { NASTY_SUBSCRIBE_PAYLOADS } from './corpus';
import { REQUEST_SHARES } from './request-budget';
import { useHarness } from './support/harness';
import { HttpClient, requestsSent } from './support/http-client';
import { checkAnswer, expectNoServerError } from './support/problems';
import { expectServesNormally } from './support/service-health';
import { socketMessagesSent, Watcher, type Ack } from './support/sockets';
import { forgedTokens, garbageCredential } from './support/tokens';
import type { Owner, RealUpload } from './support/uploads';

jest.setTimeout(120_000);

const MINIMUM_HTTP_REQUESTS = REQUEST_SHARES.notifier;
const MINIMUM_SOCKET_MESSAGES = 3_000;

const refused = (type: string) => ({ ok: false, error: expect.objectContaining({ type }) });

describe('the notifier with garbage subscriptions, strangers, floods and bad handshakes', () => {
  const h = useHarness();
  let alice: Owner;
  let bob: Owner;
  let notifierHttp: HttpClient;
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    alice = await h.owner('alice');
    bob = await h.owner('bob');
    notifierHttp = new HttpClient(h.stack.notifierUrl);
  });

  afterAll(() => {
    for (const w of watchers) w.close();
    notifierHttp?.close();
  });

  async function watcher(owner: Owner): Promise<Watcher> {
    const w = await Watcher.connect(h.stack.notifierUrl, { auth: { token: owner.token } });
    watchers.push(w);
    return w;
  }

  /** Sends every chunk of `upload` and waits until it completed. */
  async function finish(owner: Owner, upload: RealUpload): Promise<void> {
    for (let index = 0; index < upload.chunkCount; index++) await owner.sendChunk(upload, index);
    await owner.waitFor(upload.id, (v) => v.state === 'completed');
  }

  it('answers every generated garbage subscribe and unsubscribe with validation-failed, and stays connected', async () => {
    const w = await watcher(alice);
    const payload = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({ uploadId: fc.oneof(notUuidSegment, fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'string')) }),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      fc.record({ uploadId: fc.uint8Array({ maxLength: 36 }).map((b) => Buffer.from(b)) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('subscribe', 'unsubscribe'), fc.array(payload, { maxLength: 3 }), async (event, args) => {
        const ack = await w.ask(event, ...args);
        expect({ event, args, ack }).toEqual({ event, args, ack: refused('validation-failed') });
      }),
      { numRuns: 1_500 },
    );
    expect(w.connected).toBe(true);
    expect(w.events).toEqual([]);
  });

  it('answers the hand-written nasty subscribe payloads with validation-failed', async () => {
    const w = await watcher(alice);
    for (const args of NASTY_SUBSCRIBE_PAYLOADS) {
      expect({ args, ack: await w.ask('subscribe', ...args) }).toEqual({ args, ack: refused('validation-failed') });
    }
    // No acknowledgement asked for: nothing to answer, and nothing breaks.
    w.tell('subscribe', { uploadId: randomUUID() });
    w.tell('subscribe');
    w.tell('no-such-event', { uploadId: randomUUID() });
    expect(await w.subscribe(randomUUID())).toEqual({ ok: false, error: { type: 'not-found' } });
    expect(w.connected).toBe(true);
  });

  it('refuses another owner’s upload however its id is written, and not one of its events reaches them', async () => {
    const upload = await alice.create(3 * 64 * 1024 + 5);
    const own = await bob.create(1000);
    const aliceWatch = await watcher(alice);
    const bobWatch = await watcher(bob);
    await fc.assert(
      fc.asyncProperty(fc.mixedCase(fc.constant(upload.id)), async (spelled) => {
        // A stranger learns nothing: not even a detail saying why.
        expect(await bobWatch.subscribe(spelled)).toEqual({ ok: false, error: { type: 'not-found' } });
      }),
      { numRuns: 200 },
    );
    expect(await aliceWatch.subscribe(upload.id)).toMatchObject({ ok: true, upload: { id: upload.id } });
    expect(await bobWatch.subscribe(own.id)).toMatchObject({ ok: true, upload: { id: own.id } });
    await finish(alice, upload);
    await finish(bob, own);
    await aliceWatch.waitFor((e) => e.type === 'upload.completed' && e.uploadId === upload.id);
    await bobWatch.waitFor((e) => e.type === 'upload.completed' && e.uploadId === own.id);
    expect(bobWatch.events.filter((e) => e.uploadId !== own.id)).toEqual([]);
    expect(aliceWatch.events.filter((e) => e.uploadId !== upload.id)).toEqual([]);
  });

  it('answers every one of a flood of subscribes from one socket, keeps serving everyone else, and leaks nothing', async () => {
    const watched = await alice.create(2 * 64 * 1024);
    const strangers = await bob.create(1000);
    const bystander = await watcher(alice);
    expect(await bystander.subscribe(watched.id)).toMatchObject({ ok: true });
    const flooder = await watcher(alice);

    const floodSize = 2_500;
    const flood: { kind: string; ack: Promise<Ack> }[] = [];
    for (let i = 0; i < floodSize; i++) {
      const kind = ['random', 'garbage', 'own', 'stranger'][i % 4]!;
      const payload = kind === 'random' ? { uploadId: randomUUID() } : kind === 'garbage' ? { uploadId: `../${i}` } : kind === 'own' ? { uploadId: watched.id } : { uploadId: strangers.id };
      flood.push({ kind, ack: flooder.ask('subscribe', payload) });
    }
    // While the flood is being answered, the bystander's upload moves on and is reported.
    await finish(alice, watched);
    const answers = await Promise.all(flood.map(async ({ kind, ack }) => ({ kind, ack: await ack })));

    const unexpected = answers.filter(({ kind, ack }) => {
      if (kind === 'own') return !(ack.ok || ack.error?.type === 'too-many-subscriptions');
      if (kind === 'garbage') return ack.ok || ack.error?.type !== 'validation-failed';
      return ack.ok || !['not-found', 'too-many-subscriptions'].includes(ack.error?.type ?? '');
    });
    expect(unexpected).toEqual([]);
    expect(flooder.connected).toBe(true);
    await bystander.waitFor((e) => e.type === 'upload.completed' && e.uploadId === watched.id);

    await finish(bob, strangers);
    const late = await watcher(alice);
    expect(await late.subscribe(watched.id)).toMatchObject({ ok: true, upload: { id: watched.id, state: 'completed' } });
    expect(flooder.events.filter((e) => e.uploadId !== watched.id)).toEqual([]);
  });

  it('drops only the socket that sends an oversized message', async () => {
    const bystander = await watcher(alice);
    const sender = await watcher(alice);
    const disconnected = new Promise<void>((resolve) => sender.socket.once('disconnect', () => resolve()));
    sender.tell('subscribe', { uploadId: 'x'.repeat(64 * 1024) });
    await disconnected;
    expect(await bystander.subscribe(randomUUID())).toEqual({ ok: false, error: { type: 'not-found' } });
  });

  it('refuses a handshake with any forged, expired, alg:none or garbage token, or none', async () => {
    const handshake = async (auth: unknown, headers?: Record<string, string>) => {
      try {
        const w = await Watcher.connect(h.stack.notifierUrl, { auth, ...(headers ? { headers } : {}) });
        w.close();
        return 'connected';
      } catch (error) {
        return (error as Error).message;
      }
    };
    for (const credential of await forgedTokens(h.stack.secret, 'alice')) {
      if (credential.token !== undefined || credential.authorization === undefined) {
        const auth = credential.token === undefined ? {} : { token: credential.token };
        expect({ how: credential.how, as: 'auth.token', outcome: await handshake(auth) }).toEqual({ how: credential.how, as: 'auth.token', outcome: 'unauthorized' });
      }
      if (credential.authorization !== undefined) {
        expect({ how: credential.how, as: 'header', outcome: await handshake(undefined, { authorization: credential.authorization }) }).toEqual({ how: credential.how, as: 'header', outcome: 'unauthorized' });
      }
    }
    for (const auth of [{ token: 42 }, { token: null }, { token: ['a'] }, { token: { sub: 'alice' } }, { token: 'x'.repeat(10_000) }, { tokens: alice.token }]) {
      expect({ auth: JSON.stringify(auth).slice(0, 40), outcome: await handshake(auth) }).toEqual({ auth: JSON.stringify(auth).slice(0, 40), outcome: 'unauthorized' });
    }
    // Not an object at all: not a Socket.IO handshake, so the connection is simply closed.
    for (const auth of ['token', 42, [alice.token]]) {
      expect({ auth, outcome: await handshake(auth) }).toEqual({ auth, outcome: expect.stringMatching(/^(unauthorized|connection closed)$/) });
    }
    await fc.assert(
      fc.asyncProperty(garbageCredential, async ({ how, authorization }) => {
        expect({ how, outcome: await handshake(undefined, { authorization: authorization ?? '' }) }).toEqual({ how, outcome: 'unauthorized' });
      }),
      { numRuns: 100 },
    );
  });

  it('answers garbage HTTP on the notifier with problems, and the Socket.IO endpoint with refusals, never a server error', async () => {
    const path = fc.oneof(
      fc.array(fc.oneof(notUuidSegment, fc.constantFrom('healthz', 'readyz', 'socket.io', 'v1', '..', '')), { minLength: 1, maxLength: 4 }).map((p) => `/${p.join('/')}`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((q) => `/healthz?${encodeURIComponent(q)}`),
    );
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
    await fc.assert(
      fc.asyncProperty(path, method, fc.string({ maxLength: 100 }), async (p, m, body) => {
        const answer = await notifierHttp.send({ method: m, path: p, body });
        // The Socket.IO endpoint answers in its own protocol (engine.io errors), not with problems.
        if (p.startsWith('/socket.io')) expectNoServerError(answer, `${m} ${p} on the notifier`);
        else checkAnswer(answer, `${m} ${p} on the notifier`);
      }),
      { numRuns: 300 },
    );
    const engine = fc.record({ EIO: fc.oneof(fc.constantFrom('3', '4', '5'), fc.string({ maxLength: 4 })), transport: fc.oneof(fc.constantFrom('polling', 'websocket'), fc.string({ maxLength: 10 })), sid: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 30 })) }, { requiredKeys: ['EIO', 'transport'] });
    await fc.assert(
      fc.asyncProperty(engine, fc.constantFrom('GET', 'POST'), fc.string({ maxLength: 200 }), async (query, m, body) => {
        const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined) as [string, string][]).toString();
        const answer = await notifierHttp.send({ method: m, path: `/socket.io/?${search}`, body, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
        expectNoServerError(answer, `${m} /socket.io/?${search}`);
      }),
      { numRuns: 200 },
    );
  });

  it('still relays an ordinary upload to its subscriber afterwards', async () => {
    const upload = await alice.create(100 * 1024);
    const w = await watcher(alice);
    expect(await w.subscribe(upload.id)).toMatchObject({ ok: true, upload: { id: upload.id, state: 'pending' } });
    await finish(alice, upload);
    const completed = await w.waitFor((e) => e.type === 'upload.completed');
    expect(completed).toMatchObject({ uploadId: upload.id });
    await expectServesNormally(h.stack, alice);
  });

  it(`sent at least ${MINIMUM_HTTP_REQUESTS} HTTP requests and ${MINIMUM_SOCKET_MESSAGES} Socket.IO messages`, () => {
    console.log(`notifier.fuzz.test.ts: ${socketMessagesSent()} Socket.IO messages`);
    expect({ http: requestsSent() >= MINIMUM_HTTP_REQUESTS, socket: socketMessagesSent() >= MINIMUM_SOCKET_MESSAGES }).toEqual({ http: true, socket: true });
  });
});
