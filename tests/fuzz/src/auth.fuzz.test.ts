import fc from 'fast-check';
import { REQUEST_SHARES } from './request-budget';
import { useHarness } from './support/harness';
import { requestsSent, type Exchange } from './support/http-client';
import { multipartBody } from './support/multipart';
import { expectRefusal, type ProblemType } from './support/problems';
import { expectServesNormally } from './support/service-health';
import { differences, snapshotStore } from './support/store-snapshot';
import { forgedTokens, garbageCredential, tamperedToken, type BadCredential } from './support/tokens';
import { createFixtures, type Fixtures, type Owner } from './support/uploads';

jest.setTimeout(120_000);

const MINIMUM_REQUESTS = REQUEST_SHARES.auth;

/** One call of each kind, perfectly formed except for who sends it. */
interface Call {
  name: string;
  exchange: (auth: Record<string, string>) => Exchange;
  /** What another owner with a valid token must get: nothing of alice's. */
  stranger: ProblemType | 'own-list' | 'own-upload';
}

describe('every endpoint with missing, expired, forged and alg:none tokens, and with another owner’s', () => {
  const h = useHarness();
  let alice: Owner;
  let fixtures: Fixtures;
  let calls: Call[];

  beforeAll(async () => {
    alice = await h.owner('alice');
    fixtures = await createFixtures(alice, await h.owner('bob'));
    const { pending, completed } = fixtures;
    const lastChunk = alice.chunkOf(pending, 1);
    const form = multipartBody('B', [{ name: 'file', filename: 'a.bin', data: lastChunk }]);
    const formType = { 'content-type': 'multipart/form-data; boundary=B' };
    calls = [
      { name: 'list', exchange: (auth) => ({ method: 'GET', path: '/v1/uploads', headers: auth }), stranger: 'own-list' },
      { name: 'create', exchange: (auth) => ({ method: 'POST', path: '/v1/uploads', headers: { ...auth, 'content-type': 'application/json' }, body: '{"filename":"a.bin","size":5}' }), stranger: 'own-upload' },
      { name: 'read', exchange: (auth) => ({ method: 'GET', path: `/v1/uploads/${pending.id}`, headers: auth }), stranger: 'not-found' },
      { name: 'delete', exchange: (auth) => ({ method: 'DELETE', path: `/v1/uploads/${pending.id}`, headers: auth }), stranger: 'not-found' },
      { name: 'put chunk', exchange: (auth) => ({ method: 'PUT', path: `/v1/uploads/${pending.id}/chunks/1`, headers: auth, body: lastChunk }), stranger: 'not-found' },
      { name: 'post chunk', exchange: (auth) => ({ method: 'POST', path: `/v1/uploads/${pending.id}/chunks/1`, headers: { ...auth, ...formType }, body: form }), stranger: 'not-found' },
      { name: 'download', exchange: (auth) => ({ method: 'GET', path: `/v1/uploads/${completed.id}/content`, headers: auth }), stranger: 'not-found' },
      { name: 'form upload', exchange: (auth) => ({ method: 'POST', path: '/upload', headers: { ...auth, ...formType }, body: form }), stranger: 'own-upload' },
    ];
  });

  const authOf = (credential: BadCredential): Record<string, string> => (credential.authorization === undefined ? {} : { authorization: credential.authorization });

  async function expectUnauthorized(credential: BadCredential, call: Call): Promise<void> {
    const answer = await h.http.send(call.exchange(authOf(credential)));
    expectRefusal(answer, `${call.name} with ${credential.how}`, ['unauthorized']);
  }

  it('refuses every hand-forged token on every endpoint with 401, and changes nothing', async () => {
    const before = await snapshotStore(h.stack);
    const credentials = await forgedTokens(h.stack.secret, 'alice');
    for (const credential of credentials) {
      for (const call of calls) await expectUnauthorized(credential, call);
    }
    expect(differences(before, await snapshotStore(h.stack))).toEqual([]);
  });

  it('refuses every generated tampering of a valid token, and generated garbage, on every endpoint, and changes nothing', async () => {
    const before = await snapshotStore(h.stack);
    const credential = fc.oneof(tamperedToken(alice.token), garbageCredential);
    await fc.assert(
      fc.asyncProperty(credential, fc.constantFrom(...calls), async (c, call) => expectUnauthorized(c, call)),
      { numRuns: 1_800 },
    );
    expect(differences(before, await snapshotStore(h.stack))).toEqual([]);
  });

  it('shows another owner nothing of alice’s, whatever the call, and lets them change nothing of it', async () => {
    const mallory = await h.owner('mallory');
    const aliceRows = async () => (await snapshotStore(h.stack)).rows.uploads.filter((row) => row.includes(',alice,'));
    const before = await aliceRows();
    const aliceIds = new Set(Object.values(fixtures).filter((u) => u.owner === 'alice').map((u) => u.id));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...calls), async (call) => {
        const answer = await h.http.send(call.exchange(mallory.auth));
        const request = `${call.name} as mallory`;
        if (call.stranger === 'own-list') {
          expect(answer.status).toBe(200);
          const { items } = JSON.parse(answer.text) as { items: { id: string }[] };
          expect(items.filter((u) => aliceIds.has(u.id))).toEqual([]);
        } else if (call.stranger === 'own-upload') {
          expect({ request, status: answer.status }).toEqual({ request, status: 201 });
          expect(aliceIds.has((JSON.parse(answer.text) as { id: string }).id)).toBe(false);
        } else {
          expectRefusal(answer, request, [call.stranger]);
        }
      }),
      { numRuns: 150 },
    );
    expect(await aliceRows()).toEqual(before);
  });

  it('still takes alice’s own token everywhere afterwards', async () => {
    expect((await alice.view(fixtures.pending.id)).state).toBe('pending');
    await expectServesNormally(h.stack, alice);
  });

  it(`sent at least ${MINIMUM_REQUESTS} requests`, () => {
    expect(requestsSent()).toBeGreaterThanOrEqual(MINIMUM_REQUESTS);
  });
});
