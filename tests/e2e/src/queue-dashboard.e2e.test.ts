import { createHash, randomBytes } from 'node:crypto';
import { signToken } from '@tessera/adapters';
import { startStack, type Stack } from './support/stack';

jest.setTimeout(120_000);

const KiB = 1024;

interface QueueListing {
  queues: { name: string; counts: Record<string, number>; readOnlyMode: boolean; isPaused: boolean; jobSchedulerCount: number }[];
}

/** The queue dashboard (Bull Board at /admin/queues) on the real gateway, over the real worker's queues. */
describe('the queue dashboard on the running stack', () => {
  let stack: Stack;
  // The stack's own token helper signs only `sub`; admin tokens need the roles claim, so the test holds the secret.
  const secret = randomBytes(32).toString('base64url');
  let adminToken: string;
  let ownerToken: string;

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${stack.gatewayUrl}${path}`, { headers, redirect: 'manual' });
  const asAdmin = () => ({ authorization: `Bearer ${adminToken}` });

  async function listing(): Promise<Record<string, QueueListing['queues'][number]>> {
    const res = await get('/admin/queues/api/queues', asAdmin());
    expect(res.status).toBe(200);
    const { queues } = (await res.json()) as QueueListing;
    return Object.fromEntries(queues.map((q) => [q.name, q]));
  }

  beforeAll(async () => {
    stack = await startStack({ AUTH_JWT_SECRET: secret });
    adminToken = await signToken(secret, 'ops', { claims: { roles: ['admin'] } });
    ownerToken = await signToken(secret, 'alice');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 401 problem+json without a token and 403 for a normal owner', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/images/logo.svg']) {
      const anonymous = await get(path);
      expect({ path, status: anonymous.status }).toEqual({ path, status: 401 });
      expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await anonymous.json()).toMatchObject({ type: 'unauthorized', status: 401 });

      const owner = await get(path, { authorization: `Bearer ${ownerToken}` });
      expect({ path, status: owner.status }).toEqual({ path, status: 403 });
      expect(owner.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await owner.json()).toMatchObject({ type: 'forbidden', status: 403 });
    }
  });

  it('shows an admin chunks, finalize and sweep under the deployment prefix, read-only', async () => {
    const queues = await listing();
    expect(Object.keys(queues).sort()).toEqual(['chunks', 'finalize', 'sweep']);
    for (const queue of Object.values(queues)) {
      expect(queue.counts).toEqual(expect.objectContaining({ waiting: expect.any(Number), active: expect.any(Number), completed: expect.any(Number), failed: expect.any(Number), delayed: expect.any(Number) }));
      expect(queue.readOnlyMode).toBe(true);
    }
    // The worker's repeatable sweep is visible: the dashboard reads the queues the worker runs, not empty look-alikes.
    expect(queues.sweep!.jobSchedulerCount).toBe(1);
  });

  it('serves the dashboard page and its assets to an admin', async () => {
    const page = await get('/admin/queues', asAdmin());
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    const html = await page.text();
    expect(html).toContain('<base href="/admin/queues/"');
    const script = /src="(static\/js\/main[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await get(`/admin/queues/${script}`, asAdmin());
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
  });

  it('refuses a mutating call in read-only mode and leaves the queue as it was', async () => {
    const res = await fetch(`${stack.gatewayUrl}/admin/queues/api/queues/chunks/pause`, { method: 'PUT', headers: asAdmin() });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ type: 'forbidden', detail: expect.stringMatching(/read-only/) });
    expect((await listing()).chunks!.isPaused).toBe(false);
  });

  it('opens for a browser through the session cookie', async () => {
    const session = await fetch(`${stack.gatewayUrl}/admin/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: adminToken }) });
    expect(session.status).toBe(204);
    const cookie = session.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const res = await get('/admin/queues/api/queues', { cookie: cookie.split(';')[0]! });
    expect(res.status).toBe(200);
  });

  it('counts the jobs of an upload: three chunk jobs and one finalize job complete', async () => {
    const before = await listing();
    const file = randomBytes(3 * 64 * KiB);
    const owner = { authorization: `Bearer ${ownerToken}` };
    const created = await fetch(`${stack.gatewayUrl}/v1/uploads`, {
      method: 'POST',
      headers: { ...owner, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'counted.bin', size: file.length, chunkSize: 64 * KiB, sha256: createHash('sha256').update(file).digest('hex') }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    for (let index = 0; index < 3; index++) {
      const put = await fetch(`${stack.gatewayUrl}/v1/uploads/${id}/chunks/${index}`, {
        method: 'PUT',
        headers: { ...owner, 'content-type': 'application/octet-stream' },
        body: file.subarray(index * 64 * KiB, (index + 1) * 64 * KiB),
      });
      expect(put.status).toBe(202);
    }

    const deadline = Date.now() + 60_000;
    let after = await listing();
    while (after.chunks!.counts.completed! < before.chunks!.counts.completed! + 3 || after.finalize!.counts.completed! < before.finalize!.counts.completed! + 1) {
      if (Date.now() > deadline) throw new Error(`job counts did not move: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
      await new Promise((r) => setTimeout(r, 200));
      after = await listing();
    }
    expect(after.chunks!.counts.completed).toBe(before.chunks!.counts.completed! + 3);
    expect(after.finalize!.counts.completed).toBe(before.finalize!.counts.completed! + 1);
    const upload = await fetch(`${stack.gatewayUrl}/v1/uploads/${id}`, { headers: owner });
    expect(await upload.json()).toMatchObject({ state: 'completed' });
  });
});
