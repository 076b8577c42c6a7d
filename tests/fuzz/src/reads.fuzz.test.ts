import fc from 'fast-check';
import { notUuidSegment } from './arbitraries';
import { NASTY_IDS, NASTY_LIST_QUERIES, nastyRanges, type RangeCase } from './corpus';
import { REQUEST_SHARES } from './request-budget';
import { useHarness } from './support/harness';
import { requestsSent, type Answer } from './support/http-client';
import { checkAnswer, expectRefusal } from './support/problems';
import { expectServesNormally } from './support/service-health';
import { differences, snapshotStore } from './support/store-snapshot';
import { createFixtures, type Fixtures, type Owner, type UploadView } from './support/uploads';

jest.setTimeout(120_000);

const MINIMUM_REQUESTS = REQUEST_SHARES.reads;
const STATES = ['pending', 'receiving', 'finalizing', 'completed', 'failed', 'aborted', 'expired'];

describe('reading and deleting uploads with bad ids, queries, paths and ranges', () => {
  const h = useHarness();
  let alice: Owner;
  let fixtures: Fixtures;

  beforeAll(async () => {
    alice = await h.owner('alice');
    fixtures = await createFixtures(alice, await h.owner('bob'));
  });

  it('refuses every id that is not a UUID with 400 and every UUID alice cannot see with 404, on every call, changing nothing', async () => {
    const before = await snapshotStore(h.stack);
    const invisible = fc.oneof(fc.uuid().chain((id) => fc.mixedCase(fc.constant(id))), fc.constantFrom(fixtures.strangers.id, fixtures.aborted.id, fixtures.strangers.id.toUpperCase()));
    const id = fc.oneof(notUuidSegment.map((segment) => ({ segment, expect: 'validation-failed' as const })), invisible.map((segment) => ({ segment, expect: 'not-found' as const })));
    const call = fc.constantFrom<[string, string]>(['GET', ''], ['HEAD', ''], ['DELETE', ''], ['GET', '/content'], ['HEAD', '/content']);
    await fc.assert(
      fc.asyncProperty(id, call, async ({ segment, expect: type }, [method, suffix]) => {
        const path = `/v1/uploads/${segment}${suffix}`;
        const answer = await h.http.send({ method, path, headers: alice.auth });
        if (method === 'HEAD') {
          // A HEAD answer has no body to name its problem: the status and content type must do.
          checkAnswer(answer, `${method} ${path}`, { head: true });
          expect({ path, status: answer.status }).toEqual({ path, status: type === 'not-found' ? 404 : 400 });
        } else {
          expectRefusal(answer, `${method} ${path}`, [type]);
        }
      }),
      { numRuns: 1_000 },
    );
    expect(differences(before, await snapshotStore(h.stack))).toEqual([]);
  });

  it('answers any path, under any method, with a page, a listing or a problem, never a server error', async () => {
    const before = await snapshotStore(h.stack);
    const segment = fc.oneof(notUuidSegment, fc.constantFrom('v1', 'uploads', 'upload', 'chunks', 'content', '0', fixtures.completed.id, fixtures.pending.id, '..', '.', '%2e%2e', '', 'healthz', 'readyz', 'admin', 'queues', 'files', 'socket.io'));
    const path = fc.oneof(
      fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
      fc.tuple(segment, segment).map(([a, b]) => `/v1/uploads/${a}/${b}`),
      fc.tuple(segment, fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).map(encodeURIComponent)).map(([a, q]) => `/v1/uploads/${a}?${q}`),
    );
    // Only reading and harmless methods: a generated path may name a real upload.
    const method = fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND');
    await fc.assert(
      fc.asyncProperty(path, method, fc.boolean(), async (p, m, withToken) => {
        const answer = await h.http.send({ method: m, path: p, headers: withToken ? alice.auth : {} });
        checkAnswer(answer, `${m} ${p}`, { head: m === 'HEAD' });
      }),
      { numRuns: 600 },
    );
    expect(differences(before, await snapshotStore(h.stack))).toEqual([]);
  });

  it('lists only what the query allows, or refuses the query, for generated queries', async () => {
    const limit = fc.oneof(fc.integer({ min: -5, max: 130 }).map(String), fc.string({ unit: 'grapheme-ascii', maxLength: 6 }), fc.constantFrom('1e1', '0x10', '10.0', ' 7', '', '1,2', '%00'));
    const state = fc.oneof(fc.constantFrom(...STATES), fc.string({ unit: 'grapheme-ascii', maxLength: 12 }), fc.constantFrom(...STATES).map((s) => s.toUpperCase()));
    const cursor = fc.oneof(
      fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
      // Well-formed positions over every date JavaScript can hold, PostgreSQL's range or not.
      fc.tuple(fc.date({ noInvalidDate: true }), fc.uuid()).map(([d, id]) => Buffer.from(JSON.stringify([d.toISOString(), id])).toString('base64url')),
    );
    const query = fc.record({ limit, state, cursor }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const search = new URLSearchParams(q as Record<string, string>).toString();
        const answer = await h.http.send({ method: 'GET', path: `/v1/uploads?${search}`, headers: alice.auth });
        const request = `GET /v1/uploads?${search}`;
        const problem = checkAnswer(answer, request);
        const cleanLimit = q.limit !== undefined && /^\d+$/.test(q.limit) ? Number(q.limit) : undefined;
        if (cleanLimit !== undefined && (cleanLimit < 1 || cleanLimit > 100)) expect({ request, type: problem?.type }).toEqual({ request, type: 'validation-failed' });
        if (q.state !== undefined && !STATES.includes(q.state)) expect({ request, type: problem?.type }).toEqual({ request, type: 'validation-failed' });
        if (problem) {
          expect({ request, type: problem.type }).toEqual({ request, type: 'validation-failed' });
          return;
        }
        expect(answer.status).toBe(200);
        const page = JSON.parse(answer.text) as { items: UploadView[]; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(cleanLimit ?? 100);
        if (q.state !== undefined) expect(page.items.filter((u) => u.state !== q.state)).toEqual([]);
        const strangers = new Set([fixtures.strangers.id]);
        expect(page.items.filter((u) => strangers.has(u.id))).toEqual([]);
      }),
      { numRuns: 600 },
    );
  });

  it('answers the hand-written nasty ids and list queries as the contract says', async () => {
    for (const segment of NASTY_IDS) {
      for (const suffix of ['', '/content']) {
        const answer = await h.http.send({ method: 'GET', path: `/v1/uploads/${segment}${suffix}`, headers: alice.auth });
        expectRefusal(answer, `GET /v1/uploads/${segment}${suffix}`, ['validation-failed']);
      }
    }
    for (const { query, expect: outcome } of NASTY_LIST_QUERIES) {
      const answer = await h.http.send({ method: 'GET', path: `/v1/uploads?${query}`, headers: alice.auth });
      if (outcome === 'listed') expect({ query, status: answer.status }).toEqual({ query, status: 200 });
      else expectRefusal(answer, `GET /v1/uploads?${query.slice(0, 100)}`, [outcome]);
    }
  });

  /** What RFC 9110 §14 makes of one Range header on `size` bytes. */
  function rangeOutcome(header: string, size: number): RangeCase['expect'] {
    const match = /^bytes=(\d*)-(\d*)$/.exec(header);
    if (!match || (match[1] === '' && match[2] === '')) return 'whole';
    const [, first = '', last = ''] = match;
    if (first === '') {
      const suffix = Number(last);
      return suffix === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
    }
    const start = Number(first);
    if (last !== '' && Number(last) < start) return 'whole';
    if (start >= size) return 'unsatisfiable';
    return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
  }

  function expectRange(answer: Answer, header: string, expected: RangeCase['expect'], data: Buffer): void {
    const request = `GET content with Range: ${header.slice(0, 100)}`;
    if (expected === 'unsatisfiable') {
      expectRefusal(answer, request, ['range-not-satisfiable']);
      expect(answer.headers['content-range']).toBe(`bytes */${data.length}`);
    } else if (expected === 'whole') {
      expect({ request, status: answer.status }).toEqual({ request, status: 200 });
      expect(answer.body.equals(data)).toBe(true);
    } else {
      expect({ request, status: answer.status, range: answer.headers['content-range'] }).toEqual({ request, status: 206, range: `bytes ${expected.start}-${expected.end}/${data.length}` });
      expect(answer.body.equals(data.subarray(expected.start, expected.end + 1))).toBe(true);
    }
  }

  it('serves generated Range headers exactly as RFC 9110 says: the bytes asked for, the whole file, or 416', async () => {
    const { id, data } = fixtures.completed;
    const bound = fc.oneof(fc.nat({ max: data.length + 10 }), fc.constantFrom(data.length - 1, data.length, data.length + 1), fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String));
    const header = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.option(bound, { nil: '' }), fc.option(bound, { nil: '' })).map(([a, b]) => `bytes=${a}-${b}`) },
      // Not near-misses of a byte range: the server reads those leniently (spaces, case), as RFC 9110 lets it.
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 30 }).filter((s) => !/^\s*bytes\s*=/i.test(s)) },
      { weight: 1, arbitrary: fc.array(fc.tuple(bound, bound), { minLength: 2, maxLength: 4 }).map((rs) => `bytes=${rs.map(([a, b]) => `${a}-${b}`).join(',')}`) },
    );
    await fc.assert(
      fc.asyncProperty(header, async (range) => {
        const answer = await alice.request('GET', `/v1/uploads/${id}/content`, { range });
        checkAnswer(answer, `GET content with Range: ${range}`);
        expectRange(answer, range, rangeOutcome(range.trim(), data.length), data);
      }),
      { numRuns: 500 },
    );
  });

  it('serves the hand-written nasty Range headers as the contract says', async () => {
    const { id, data } = fixtures.completed;
    for (const { header, expect: expected } of nastyRanges(data.length)) {
      const answer = await alice.request('GET', `/v1/uploads/${id}/content`, { range: header });
      expectRange(answer, header, expected, data);
    }
  });

  it('refuses the content of an upload that is not completed, whatever the Range', async () => {
    for (const upload of [fixtures.pending, fixtures.receiving]) {
      for (const range of ['bytes=0-0', 'bytes=-1', 'garbage', '']) {
        const answer = await alice.request('GET', `/v1/uploads/${upload.id}/content`, range ? { range } : {});
        expectRefusal(answer, `GET content of an unfinished upload, Range ${range}`, ['upload-not-completed']);
      }
    }
  });

  // Found by this suite: such a cursor used to reach PostgreSQL, which refused the date (500).
  it('refuses a cursor whose date PostgreSQL cannot hold', async () => {
    for (const date of ['-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z']) {
      const cursor = Buffer.from(JSON.stringify([date, '00000000-0000-0000-0000-000000000000'])).toString('base64url');
      const answer = await alice.request('GET', `/v1/uploads?cursor=${cursor}`);
      expectRefusal(answer, `GET /v1/uploads with a cursor dated ${date}`, ['validation-failed']);
    }
  });

  it('still serves an ordinary upload end to end afterwards', async () => {
    await expectServesNormally(h.stack, alice);
  });

  it(`sent at least ${MINIMUM_REQUESTS} requests`, () => {
    expect(requestsSent()).toBeGreaterThanOrEqual(MINIMUM_REQUESTS);
  });
});
