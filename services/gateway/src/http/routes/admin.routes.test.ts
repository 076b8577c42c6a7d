import { randomBytes } from 'node:crypto';
import { ConfigError } from '@tessera/domain';
import { FixedClock, InMemoryBlobStore, InMemoryTusRepository, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '@tessera/domain/testing';
import { JoseTokenVerifier, openQueueHandles, redisConnection, signToken, type QueueHandles } from '@tessera/adapters';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../app';
import { loadConfig } from '../../config';
import { gatewayUseCases } from '../../use-cases';
import { DASHBOARD_CSP, SESSION_COOKIE, SESSION_MAX_AGE_MS } from './admin.routes';

// Real Redis (as the queue adapter tests): Bull Board reads real BullMQ queues under a private prefix.
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `tessera-admin-test-${process.pid}-${randomBytes(4).toString('hex')}`;
const SECRET = 'an-admin-test-secret-of-at-least-32-chars';

const handles: QueueHandles = openQueueHandles({ redisUrl, prefix });
/** The Content-Security-Policy of the API (helmet's), which every refusal keeps. */
let apiCsp: string;

beforeAll(async () => {
  apiCsp = (await request(appWith()).get('/v1/uploads')).headers['content-security-policy']!;
  expect(apiCsp).toContain("default-src 'none'");
  expect(apiCsp).not.toBe(DASHBOARD_CSP);
  const [chunks, finalize] = handles.queues;
  // Nothing consumes this prefix: the jobs stay waiting, so the counts are known.
  await chunks!.add('store', { n: 1 });
  await chunks!.add('store', { n: 2 });
  await finalize!.add('finalize', { n: 3 });
});

afterAll(async () => {
  await handles.close();
  const redis = redisConnection(redisUrl, { maxRetriesPerRequest: 3 });
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 1000 })) {
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
    }
  } finally {
    await redis.quit();
  }
});

interface AppOptions {
  readOnly?: boolean;
  rolesClaim?: string;
  adminRole?: string;
  publicUrl?: string | null;
}

function appWith({ readOnly = true, rolesClaim, adminRole = 'admin', publicUrl = null }: AppOptions = {}) {
  const repo = new InMemoryUploadRepository();
  const settings = { maxUploadBytes: 1024 ** 3, defaultChunkSize: 65536, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000, lockLeaseMs: 10_000 };
  return createApp({
    logger: pino({ level: 'silent' }),
    verifier: new JoseTokenVerifier({ secret: SECRET, ...(rolesClaim ? { rolesClaim } : {}) }),
    limits: { maxUploadBytes: settings.maxUploadBytes, maxChunkBytes: 64 * 1024 ** 2 },
    readiness: { postgres: () => repo.ping() },
    useCases: gatewayUseCases(
      { repo, tus: new InMemoryTusRepository(repo), blobs: new InMemoryBlobStore(), queue: new RecordingChunkQueue(), publisher: new RecordingPublisher(), ids: new SequentialIds(), clock: new FixedClock() },
      settings,
    ),
    queueDashboard: { queues: handles.queues, adminRole, readOnly, publicUrl },
  });
}

const tokenFor = (subject: string, claims: Record<string, unknown> = {}, secret = SECRET) => signToken(secret, subject, { claims });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const csp = (header: string | undefined) =>
  Object.fromEntries((header ?? '').split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));

function expectProblem(res: request.Response, status: number, type: string) {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { type, status } });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  // A refusal keeps the API's policy: nothing of the dashboard's is granted before the check.
  expect(res.headers['content-security-policy']).toBe(apiCsp);
  expect(res.headers['set-cookie']).toBeUndefined();
}

/** The scripts and stylesheets the dashboard page links, relative to its base. */
function assetsOf(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="(static\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
}

interface QueueListing {
  queues: { name: string; counts: Record<string, number>; readOnlyMode: boolean; isPaused: boolean }[];
}

describe('the queue dashboard at /admin/queues', () => {
  const app = appWith();
  const PROTECTED = ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/queues/queue/chunks', '/admin/queues/static/images/logo.svg'];

  it('answers 401 problem+json without a token, on the page, its API and its static assets', async () => {
    for (const path of PROTECTED) {
      const res = await request(app).get(path);
      expectProblem(res, 401, 'unauthorized');
      expect(res.body.detail).toContain('/admin/session');
    }
  });

  it.each([
    ['a token signed with another secret', () => tokenFor('ops', { roles: ['admin'] }, 'another-secret-that-is-also-32-characters-long')],
    ['a malformed token', async () => 'not-a-jwt'],
  ])('answers 401 for %s, even one claiming the admin role', async (_case, token) => {
    for (const path of PROTECTED) expectProblem(await request(app).get(path).set(bearer(await token())), 401, 'unauthorized');
  });

  it('answers 401 for an Authorization header that is not a Bearer token', async () => {
    expectProblem(await request(app).get('/admin/queues/api/queues').set('authorization', 'Basic YWRtaW46YWRtaW4='), 401, 'unauthorized');
  });

  it.each([
    ['a normal owner (no roles claim)', {}],
    ['other roles', { roles: ['billing', 'administrator'] }],
    ['the role in another claim', { groups: ['admin'] }],
    ['the role as a non-string', { roles: [{ admin: true }] }],
  ])('answers 403 forbidden problem+json for %s', async (_case, claims) => {
    const token = await tokenFor('alice', claims);
    for (const path of PROTECTED) {
      const res = await request(app).get(path).set(bearer(token));
      expectProblem(res, 403, 'forbidden');
      expect(res.body.detail).toMatch(/ADMIN_ROLE/);
    }
  });

  it('serves the Bull Board page to an admin, with its own CSP, uncached, and its assets', async () => {
    const token = await tokenFor('ops', { roles: ['admin'] });
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/queue/chunks']) {
      const page = await request(app).get(path).set(bearer(token));
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('<base href="/admin/queues/"');
      expect(page.text).toContain('Tessera queues');
      expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.headers['x-powered-by']).toBeUndefined();
      expect(page.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(csp(DASHBOARD_CSP)).toEqual({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'worker-src': ["'self'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'"],
      'base-uri': ["'self'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    });

    const page = await request(app).get('/admin/queues/').set(bearer(token));
    const assets = assetsOf(page.text);
    expect(assets.filter((a) => a.endsWith('.js')).length).toBeGreaterThan(0);
    expect(assets.filter((a) => a.endsWith('.css')).length).toBeGreaterThan(0);
    for (const asset of assets) {
      const res = await request(app).get(`/admin/queues/${asset}`).set(bearer(token));
      expect({ asset, status: res.status }).toEqual({ asset, status: 200 });
      expect(res.headers['content-type']).toMatch(asset.endsWith('.js') ? /javascript/ : /text\/css/);
    }
  });

  it('lists chunks, finalize and sweep with their job counts to an admin', async () => {
    const res = await request(app).get('/admin/queues/api/queues').set(bearer(await tokenFor('ops', { roles: ['admin'] })));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.headers['cache-control']).toBe('no-store');
    const { queues } = res.body as QueueListing;
    expect(queues.map((q) => q.name).sort()).toEqual(['chunks', 'finalize', 'sweep']);
    const byName = Object.fromEntries(queues.map((q) => [q.name, q]));
    expect(byName.chunks!.counts).toMatchObject({ waiting: 2, active: 0, failed: 0 });
    expect(byName.finalize!.counts).toMatchObject({ waiting: 1 });
    expect(byName.sweep!.counts).toMatchObject({ waiting: 0 });
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('accepts a role given as one string among others (space-separated)', async () => {
    const res = await request(app).get('/admin/queues/api/queues').set(bearer(await tokenFor('ops', { roles: 'reader admin' })));
    expect(res.status).toBe(200);
  });

  it('refuses every mutating call in read-only mode, before Bull Board, and changes nothing', async () => {
    const admin = bearer(await tokenFor('ops', { roles: ['admin'] }));
    const calls: [string, string][] = [
      ['put', '/admin/queues/api/queues/chunks/pause'],
      ['put', '/admin/queues/api/queues/pause'],
      ['put', '/admin/queues/api/queues/chunks/empty'],
      ['put', '/admin/queues/api/queues/chunks/clean/waiting'],
      ['post', '/admin/queues/api/queues/chunks/add'],
      ['put', '/admin/queues/api/queues/chunks/obliterate'],
      ['patch', '/admin/queues/api/queues/chunks/1/update-data'],
      ['delete', '/admin/queues/api/queues/chunks'],
    ];
    for (const [method, path] of calls) {
      const res = await request(app)[method as 'put'](path).set(admin).send({ name: 'x', data: {} });
      expectProblem(res, 403, 'forbidden');
      expect(res.body.detail).toMatch(/read-only/);
    }
    const [chunks] = handles.queues;
    expect(await chunks!.isPaused()).toBe(false);
    expect(await chunks!.getJobCountByTypes('waiting')).toBe(2);
    // Still 401/403 first for those without the right token: read-only mode tells them nothing.
    expectProblem(await request(app).put('/admin/queues/api/queues/chunks/pause'), 401, 'unauthorized');
    expectProblem(await request(app).put('/admin/queues/api/queues/chunks/pause').set(bearer(await tokenFor('alice'))), 403, 'forbidden');
  });

  it('lets an admin act on the queues when read-only mode is off', async () => {
    const writable = appWith({ readOnly: false });
    const admin = bearer(await tokenFor('ops', { roles: ['admin'] }));
    const [, , sweep] = handles.queues;
    try {
      const listed = await request(writable).get('/admin/queues/api/queues').set(admin);
      expect((listed.body as QueueListing).queues.every((q) => !q.readOnlyMode)).toBe(true);
      expect((await request(writable).put('/admin/queues/api/queues/sweep/pause').set(admin)).status).toBe(200);
      expect(await sweep!.isPaused()).toBe(true);
      expect((await request(writable).put('/admin/queues/api/queues/sweep/resume').set(admin)).status).toBe(200);
      expect(await sweep!.isPaused()).toBe(false);
      // Still no way in for a normal owner.
      expectProblem(await request(writable).put('/admin/queues/api/queues/sweep/pause').set(bearer(await tokenFor('alice'))), 403, 'forbidden');
    } finally {
      await sweep!.resume();
    }
  });

  it('reads the role from the configured claim and role (ADMIN_CLAIM, ADMIN_ROLE)', async () => {
    const keycloak = appWith({ rolesClaim: 'realm_access.roles', adminRole: 'queue-ops' });
    const good = await tokenFor('ops', { realm_access: { roles: ['queue-ops'] } });
    expect((await request(keycloak).get('/admin/queues/api/queues').set(bearer(good))).status).toBe(200);
    expectProblem(await request(keycloak).get('/admin/queues/api/queues').set(bearer(await tokenFor('ops', { roles: ['admin', 'queue-ops'] }))), 403, 'forbidden');
  });

  it('answers an unknown path under the dashboard with the usual 404 problem, once authorised', async () => {
    const res = await request(app).get('/admin/queues/nowhere/at/all').set(bearer(await tokenFor('ops', { roles: ['admin'] })));
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('the dashboard session cookie (browsers)', () => {
  const app = appWith();

  const cookieOf = (res: request.Response): string => {
    const header = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
    expect(header).toHaveLength(1);
    return header[0]!;
  };
  const attributes = (cookie: string) => cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());

  it('serves a sign-in form that only posts here, without script', async () => {
    const res = await request(app).get('/admin/session');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<form method="post" action="\/admin\/session">/);
    expect(res.text).toMatch(/name="token" type="password"/);
    expect(res.text).not.toMatch(/<script/);
    expect(csp(res.headers['content-security-policy'])).toEqual({
      'default-src': ["'none'"],
      'form-action': ["'self'"],
      'base-uri': ["'none'"],
      'frame-ancestors': ["'none'"],
    });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('exchanges an admin token posted as JSON for an HttpOnly, SameSite=Strict cookie that opens the dashboard', async () => {
    const token = await tokenFor('ops', { roles: ['admin'] });
    const res = await request(app).post('/admin/session').send({ token });
    expect(res.status).toBe(204);
    const cookie = cookieOf(res);
    expect(cookie.startsWith(`${SESSION_COOKIE}=${token};`)).toBe(true);
    expect(attributes(cookie)).toEqual(expect.arrayContaining(['httponly', 'samesite=strict', 'path=/admin', `max-age=${SESSION_MAX_AGE_MS / 1000}`]));
    expect(attributes(cookie)).not.toContain('secure');

    const jar = `other=1; ${SESSION_COOKIE}=${token}`;
    const page = await request(app).get('/admin/queues/').set('cookie', jar);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<base href="/admin/queues/"');
    const api = await request(app).get('/admin/queues/api/queues').set('cookie', jar);
    expect((api.body as QueueListing).queues.map((q) => q.name).sort()).toEqual(['chunks', 'finalize', 'sweep']);
    const asset = assetsOf(page.text)[0]!;
    expect((await request(app).get(`/admin/queues/${asset}`).set('cookie', jar)).status).toBe(200);
  });

  it('makes the cookie Secure over https: behind a TLS proxy, or when PUBLIC_URL is https', async () => {
    const token = await tokenFor('ops', { roles: ['admin'] });
    const proxied = await request(app).post('/admin/session').set('x-forwarded-proto', 'https').send({ token });
    expect(attributes(cookieOf(proxied))).toContain('secure');
    const configured = await request(appWith({ publicUrl: 'https://uploads.example.com' })).post('/admin/session').send({ token });
    expect(attributes(cookieOf(configured))).toContain('secure');
  });

  it('sends the sign-in form on to the dashboard (303)', async () => {
    const token = await tokenFor('ops', { roles: ['admin'] });
    const res = await request(app).post('/admin/session').type('form').set('sec-fetch-site', 'same-origin').send({ token });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/queues/');
    expect(cookieOf(res).startsWith(`${SESSION_COOKIE}=${token};`)).toBe(true);
  });

  it('sets no cookie for a normal owner (403), a bad token (401), no token (400) or another body (415)', async () => {
    expectProblem(await request(app).post('/admin/session').send({ token: await tokenFor('alice') }), 403, 'forbidden');
    expectProblem(await request(app).post('/admin/session').send({ token: 'x.y.z' }), 401, 'unauthorized');
    expectProblem(await request(app).post('/admin/session').send({}), 400, 'validation-failed');
    expectProblem(await request(app).post('/admin/session').send({ token: 42 }), 400, 'validation-failed');
    expectProblem(await request(app).post('/admin/session').send({ token: 'a'.repeat(8193) }), 400, 'validation-failed');
    expectProblem(await request(app).post('/admin/session').type('text/plain').send('token'), 415, 'unsupported-media-type');
  });

  it('refuses a session posted from another site', async () => {
    const token = await tokenFor('ops', { roles: ['admin'] });
    for (const site of ['cross-site', 'same-site']) {
      expectProblem(await request(app).post('/admin/session').type('form').set('sec-fetch-site', site).send({ token }), 403, 'forbidden');
    }
  });

  it('refuses a cross-site change of the queues even with the cookie (writable dashboard)', async () => {
    const token = await tokenFor('ops', { roles: ['admin'] });
    const res = await request(appWith({ readOnly: false })).put('/admin/queues/api/queues/sweep/pause').set('cookie', `${SESSION_COOKIE}=${token}`).set('sec-fetch-site', 'cross-site');
    expectProblem(res, 403, 'forbidden');
    expect(await handles.queues[2]!.isPaused()).toBe(false);
  });

  it('lets a present Authorization header decide, whatever the cookie', async () => {
    const admin = await tokenFor('ops', { roles: ['admin'] });
    const res = await request(app).get('/admin/queues/api/queues').set('cookie', `${SESSION_COOKIE}=${admin}`).set(bearer(await tokenFor('alice')));
    expectProblem(res, 403, 'forbidden');
    expectProblem(await request(app).get('/admin/queues/api/queues').set('cookie', `${SESSION_COOKIE}=${admin}`).set('authorization', 'Bearer'), 401, 'unauthorized');
  });

  it('refuses a cookie holding a normal owner token, a bad token or nothing', async () => {
    expectProblem(await request(app).get('/admin/queues/').set('cookie', `${SESSION_COOKIE}=${await tokenFor('alice')}`), 403, 'forbidden');
    expectProblem(await request(app).get('/admin/queues/').set('cookie', `${SESSION_COOKIE}=garbage`), 401, 'unauthorized');
    expectProblem(await request(app).get('/admin/queues/').set('cookie', `${SESSION_COOKIE}=`), 401, 'unauthorized');
    expectProblem(await request(app).get('/admin/queues/').set('cookie', `x${SESSION_COOKIE}=${await tokenFor('ops', { roles: ['admin'] })}`), 401, 'unauthorized');
  });

  it('signs out: DELETE clears the cookie', async () => {
    const res = await request(app).delete('/admin/session');
    expect(res.status).toBe(204);
    const cookie = cookieOf(res);
    expect(cookie.startsWith(`${SESSION_COOKIE}=;`)).toBe(true);
    expect(attributes(cookie)).toEqual(expect.arrayContaining(['path=/admin', 'httponly', 'samesite=strict', expect.stringMatching(/^expires=thu, 01 jan 1970/)]));
  });
});

describe('the dashboard configuration', () => {
  const SECRET_ENV = { AUTH_JWT_SECRET: 'x'.repeat(32) };
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ ...SECRET_ENV, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };

  it('defaults to the `roles` claim, the `admin` role, read-only', () => {
    expect(loadConfig(SECRET_ENV).queueDashboard).toEqual({ adminClaim: 'roles', adminRole: 'admin', readOnly: true });
    expect(loadConfig({ ...SECRET_ENV, QUEUE_DASHBOARD_READ_ONLY: '' }).queueDashboard.readOnly).toBe(true);
  });

  it('reads ADMIN_CLAIM, ADMIN_ROLE and QUEUE_DASHBOARD_READ_ONLY', () => {
    expect(loadConfig({ ...SECRET_ENV, ADMIN_CLAIM: 'realm_access.roles', ADMIN_ROLE: 'queue-ops', QUEUE_DASHBOARD_READ_ONLY: 'false' }).queueDashboard).toEqual({
      adminClaim: 'realm_access.roles',
      adminRole: 'queue-ops',
      readOnly: false,
    });
  });

  it('refuses a read-only flag that is not true/false and a role with spaces', () => {
    expect(problemsOf({ QUEUE_DASHBOARD_READ_ONLY: 'yes', ADMIN_ROLE: 'queue ops' }).map((p) => p.split(':')[0]).sort()).toEqual(['ADMIN_ROLE', 'QUEUE_DASHBOARD_READ_ONLY']);
  });
});
