import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnauthorizedError, type TokenVerifier } from '@tessera/domain';
import { FixedClock, InMemoryBlobStore, InMemoryTusRepository, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '@tessera/domain/testing';
import { JoseTokenVerifier, signToken } from '@tessera/adapters';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../app';
import { loadConfig } from '../../config';
import { gatewayUseCases } from '../../use-cases';
import { pageCsp, type PageOptions } from './page.routes';

const SECRET = 's'.repeat(32);
const verifier: TokenVerifier = {
  async verify(token) {
    if (!token.startsWith('token-')) throw new UnauthorizedError('The token is not valid.');
    return { ownerId: token.slice('token-'.length), roles: [] };
  },
};

let publicDir: string;
beforeAll(() => {
  publicDir = mkdtempSync(join(tmpdir(), 'tessera-page-'));
  mkdirSync(join(publicDir, 'assets'));
  writeFileSync(join(publicDir, 'index.html'), '<!doctype html><title>Tessera</title><script type="module" src="assets/main-ABC.js"></script>');
  writeFileSync(join(publicDir, 'assets', 'main-ABC.js'), 'console.log(1)');
  writeFileSync(join(publicDir, 'assets', 'main-ABC.css'), 'body{}');
});
afterAll(() => rmSync(publicDir, { recursive: true, force: true }));

function appWith(page: PageOptions = {}) {
  const repo = new InMemoryUploadRepository();
  const settings = { maxUploadBytes: 1024 ** 3, defaultChunkSize: 65536, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000, lockLeaseMs: 10_000 };
  return createApp({
    logger: pino({ level: 'silent' }),
    verifier,
    limits: { maxUploadBytes: settings.maxUploadBytes, maxChunkBytes: 64 * 1024 ** 2 },
    readiness: { postgres: () => repo.ping() },
    useCases: gatewayUseCases(
      { repo, tus: new InMemoryTusRepository(repo), blobs: new InMemoryBlobStore(), queue: new RecordingChunkQueue(), publisher: new RecordingPublisher(), ids: new SequentialIds(), clock: new FixedClock() },
      settings,
    ),
    page: { publicDir, ...page },
  });
}

const csp = (header: string | undefined) =>
  Object.fromEntries((header ?? '').split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));

describe('the upload web page', () => {
  it('serves the page at / without a token, with its own CSP; the API keeps the strict one', async () => {
    const app = appWith({ notifierPublicUrl: 'https://events.example.com' });
    const page = await request(app).get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.text).toContain('<title>Tessera</title>');
    expect(csp(page.headers['content-security-policy'])).toEqual({
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'connect-src': ["'self'", 'https://events.example.com', 'wss://events.example.com'],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    });
    expect(page.headers['x-content-type-options']).toBe('nosniff');

    for (const path of ['/v1/uploads', '/nowhere', '/healthz', '/index.htm']) {
      const res = await request(app).get(path);
      expect({ path, csp: res.headers['content-security-policy'] }).toEqual({ path, csp: expect.stringContaining("default-src 'none'") });
      expect({ path, csp: res.headers['content-security-policy'] }).toEqual({ path, csp: expect.not.stringContaining('events.example.com') });
    }
  });

  it('serves hashed assets for good, and nothing outside the assets folder', async () => {
    const app = appWith();
    const script = await request(app).get('/assets/main-ABC.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await request(app).get('/assets/main-ABC.css')).headers['content-type']).toMatch(/^text\/css/);
    for (const path of ['/assets/missing.js', '/assets/../index.html', '/assets/%2e%2e/index.html', '/assets/', '/assets/%E0%A4%A']) {
      const res = await request(app).get(path);
      expect({ path, status: res.status, type: res.headers['content-type'] }).toEqual({ path, status: expect.any(Number), type: expect.stringMatching(/^application\/problem\+json/) });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect((await request(app).post('/assets/main-ABC.js')).status).toBe(404);
  });

  it('answers 404 (a problem) while the page is not built', async () => {
    const res = await request(appWith({ publicDir: join(publicDir, 'nope') })).get('/');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('page-config.json: the notifier URL from the configuration, and no token unless one is minted', async () => {
    const res = await request(appWith({ notifierPublicUrl: 'https://events.example.com' })).get('/page-config.json');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ notifierUrl: 'https://events.example.com' });
  });

  it('page-config.json: by default the notifier is on the page host at port 3001 (npm start, docker-compose)', async () => {
    const app = appWith();
    const res = await request(app).get('/page-config.json').set('Host', 'uploads.example.org:3000');
    expect(res.body).toEqual({ notifierUrl: 'http://uploads.example.org:3001' });
    const page = await request(app).get('/').set('Host', '[::1]:3000');
    expect(csp(page.headers['content-security-policy'])['connect-src']).toEqual(["'self'", 'http://[::1]:3001', 'ws://[::1]:3001']);
    // A Host header is the sender's to choose: anything but a plain host name is not echoed into the CSP.
    const odd = await request(app).get('/').set('Host', "evil.example; script-src 'unsafe-inline'");
    expect(csp(odd.headers['content-security-policy'])['script-src']).toEqual(["'self'"]);
  });

  it('page-config.json: a fresh development token for DEV_TOKEN_SUBJECT, signed with the gateway secret', async () => {
    const config = loadConfig({ AUTH_JWT_SECRET: SECRET, DEV_TOKEN_SUBJECT: 'dev-user', NOTIFIER_PUBLIC_URL: 'http://localhost:3001' });
    expect(config.page).toEqual({ devTokenSubject: 'dev-user', notifierPublicUrl: 'http://localhost:3001' });
    const app = appWith({ devToken: () => signToken(SECRET, 'dev-user', { expiresIn: '1h' }), notifierPublicUrl: config.page.notifierPublicUrl });
    const res = await request(app).get('/page-config.json');
    expect(res.body.notifierUrl).toBe('http://localhost:3001');
    const claims = await new JoseTokenVerifier({ secret: SECRET, clockToleranceSeconds: 0 }).verify(res.body.devToken);
    expect(claims).toEqual({ ownerId: 'dev-user', roles: [] });
    const payload = JSON.parse(Buffer.from(String(res.body.devToken).split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(payload.exp - payload.iat).toBe(3600);
  });

  it('refuses DEV_TOKEN_SUBJECT in production, and a notifier URL with a path', () => {
    expect(() => loadConfig({ AUTH_JWT_SECRET: SECRET, NODE_ENV: 'production', DEV_TOKEN_SUBJECT: 'dev' })).toThrow(/DEV_TOKEN_SUBJECT/);
    expect(() => loadConfig({ AUTH_JWT_SECRET: SECRET, NOTIFIER_PUBLIC_URL: 'https://events.example.com/socket.io' })).toThrow(/NOTIFIER_PUBLIC_URL/);
    expect(() => loadConfig({ AUTH_JWT_SECRET: SECRET, NOTIFIER_PUBLIC_URL: 'ftp://events.example.com' })).toThrow(/NOTIFIER_PUBLIC_URL/);
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET }).page).toEqual({ devTokenSubject: null, notifierPublicUrl: null });
  });

  it('pageCsp allows sockets to the notifier (ws for http, wss for https)', () => {
    expect(pageCsp('http://localhost:3001')).toContain("connect-src 'self' http://localhost:3001 ws://localhost:3001;");
  });
});
