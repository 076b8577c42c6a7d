import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { digestField, multipartCase, notAnIndex, notUuidSegment, type DigestField } from './arbitraries';
import { malformedHttp, NASTY_DIGESTS, NASTY_IDS, NASTY_INDICES, REFUSED_CONTENT_LENGTHS, UNPARSEABLE_CONTENT_LENGTHS } from './corpus';
import { REQUEST_SHARES } from './request-budget';
import { useHarness } from './support/harness';
import { requestsSent, type Answer } from './support/http-client';
import { multipartBody } from './support/multipart';
import { checkAnswer, expectRefusal, type ProblemType } from './support/problems';
import { rawExchange } from './support/raw-http';
import { expectServesNormally } from './support/service-health';
import { differences, settledDifferences, snapshotStore, type StoreSnapshot } from './support/store-snapshot';
import { CHUNK, createFixtures, digestOf, type Fixtures, type Owner, type RealUpload } from './support/uploads';

jest.setTimeout(120_000);

const MINIMUM_REQUESTS = REQUEST_SHARES.chunks;

type FixtureName = keyof Fixtures;

/** Where a generated chunk request goes. */
type Target = { kind: 'fixture'; name: FixtureName } | { kind: 'unknown-uuid'; id: string } | { kind: 'not-a-uuid'; segment: string };
type IndexField = { kind: 'number'; n: number } | { kind: 'not-an-index'; segment: string };
type LengthField = { kind: 'exact' } | { kind: 'off-by'; delta: number } | { kind: 'chunked' };

interface PutCase {
  target: Target;
  index: IndexField;
  length: LengthField;
  digest: DigestField;
}

const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<FixtureName>('pending', 'receiving', 'completed', 'aborted', 'strangers').map((name) => ({ kind: 'fixture' as const, name })) },
  { weight: 1, arbitrary: fc.uuid().chain((id) => fc.mixedCase(fc.constant(id))).map((id) => ({ kind: 'unknown-uuid' as const, id })) },
  { weight: 2, arbitrary: notUuidSegment.map((segment) => ({ kind: 'not-a-uuid' as const, segment })) },
);
const indexField: fc.Arbitrary<IndexField> = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 2, max: 999_999_999 })).map((n) => ({ kind: 'number' as const, n })) },
  { weight: 1, arbitrary: notAnIndex.map((segment) => ({ kind: 'not-an-index' as const, segment })) },
);
const lengthField: fc.Arbitrary<LengthField> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'exact' as const }) },
  { weight: 3, arbitrary: fc.oneof(fc.integer({ min: -CHUNK, max: 3000 }), fc.constantFrom(-1, 1)).filter((d) => d !== 0).map((delta) => ({ kind: 'off-by' as const, delta })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'chunked' as const }) },
);

describe('chunk requests (PUT and multipart POST) with bad input, against real uploads', () => {
  const h = useHarness();
  let alice: Owner;
  let bob: Owner;
  let fixtures: Fixtures;

  beforeAll(async () => {
    alice = await h.owner('alice');
    bob = await h.owner('bob');
    fixtures = await createFixtures(alice, bob);
  });

  /** A fresh upload of alice's with chunk 0 stored and chunk 1 (1000 bytes) free: for tests that end in a success. */
  async function receivingUpload(): Promise<RealUpload> {
    const upload = await alice.create(CHUNK + 1000);
    await alice.sendChunk(upload, 0);
    await alice.waitFor(upload.id, (v) => v.chunksStored === 1);
    return upload;
  }

  const chunkPath = (id: string, index: string | number) => `/v1/uploads/${id}/chunks/${index}`;

  /**
   * Sends the chunk unless the server already took it. A request whose connection broke may
   * still hold its index for the moment the server needs to notice; 409 then means "wait".
   */
  async function sendUnlessTaken(upload: RealUpload, index: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await alice.request('PUT', chunkPath(upload.id, index), {}, alice.chunkOf(upload, index));
      if (answer.status === 202) return;
      expectRefusal(answer, `PUT chunk ${index} again`, ['chunk-already-received', 'upload-not-receiving']);
      if (!(await alice.view(upload.id)).missing.includes(index) || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Fails with the differences when a batch of refusals changed anything. */
  async function expectUnchanged(before: StoreSnapshot, settle = false): Promise<void> {
    const diff = settle ? await settledDifferences(h.stack, before) : differences(before, await snapshotStore(h.stack));
    expect(diff).toEqual([]);
  }

  /** Every rule a generated PUT breaks, as the problem type that names it; [] for a valid request. */
  function faultsOf(c: PutCase): ProblemType[] {
    const faults: ProblemType[] = [];
    if (c.target.kind === 'not-a-uuid') faults.push('validation-failed');
    if (c.index.kind === 'not-an-index') faults.push('validation-failed');
    if (c.length.kind === 'chunked') faults.push('length-required');
    if (c.digest.kind === 'malformed') faults.push('validation-failed');
    if (c.target.kind === 'unknown-uuid') faults.push('not-found');
    if (c.target.kind !== 'fixture') return faults;
    const name = c.target.name;
    if (name === 'aborted' || name === 'strangers') return [...faults, 'not-found'];
    if (name === 'completed') return [...faults, 'upload-not-receiving'];
    if (c.index.kind !== 'number') return faults;
    if (c.index.n >= fixtures[name].chunkCount) return [...faults, 'chunk-index-out-of-range'];
    // Clamped at zero, an off-by length still differs: every expected length here is above zero.
    if (c.length.kind === 'off-by') faults.push('chunk-length-mismatch');
    if (name === 'receiving' && c.index.n === 0) faults.push('chunk-already-received');
    return faults;
  }

  function sendPut(c: PutCase): Promise<Answer> {
    const id = c.target.kind === 'fixture' ? fixtures[c.target.name].id : c.target.kind === 'unknown-uuid' ? c.target.id : c.target.segment;
    const index = c.index.kind === 'number' ? String(c.index.n) : c.index.segment;
    const nominal = c.target.kind === 'fixture' && c.index.kind === 'number' && c.index.n < fixtures[c.target.name].chunkCount ? fixtures[c.target.name].lengthOf(c.index.n) : 1000;
    const length = c.length.kind === 'off-by' ? Math.max(0, nominal + c.length.delta) : nominal;
    return h.http.send({
      method: 'PUT',
      path: chunkPath(id, index),
      headers: { ...alice.auth, 'content-type': 'application/octet-stream', ...(c.digest.kind !== 'none' ? { 'content-digest': c.digest.header } : {}) },
      body: randomBytes(length),
      chunked: c.length.kind === 'chunked',
    });
  }

  it('refuses every generated PUT that breaks a rule, with the problem naming a broken rule, and changes nothing', async () => {
    const before = await snapshotStore(h.stack);
    const putCase = fc.record({ target, index: indexField, length: lengthField, digest: digestField }).filter((c) => faultsOf(c).length > 0);
    await fc.assert(
      fc.asyncProperty(putCase, async (c) => {
        const answer = await sendPut(c);
        expectRefusal(answer, `PUT ${JSON.stringify(c)}`, faultsOf(c));
      }),
      { numRuns: 1_600 },
    );
    await expectUnchanged(before);
  });

  it('refuses every generated broken or mis-sized multipart chunk and changes nothing', async () => {
    const before = await snapshotStore(h.stack);
    const free = fixtures.receiving;
    const targets = fc.constantFrom<[string, number, ProblemType[]]>(
      [free.id, 1, []],
      [fixtures.pending.id, 0, []],
      [fixtures.receiving.id, 0, ['chunk-already-received']],
      [fixtures.completed.id, 0, ['upload-not-receiving']],
      [fixtures.strangers.id, 1, ['not-found']],
      [free.id, 2, ['chunk-index-out-of-range']],
    );
    const bodyFaults: ProblemType[] = ['validation-failed', 'chunk-incomplete', 'unsupported-media-type'];
    await fc.assert(
      fc.asyncProperty(targets, multipartCase(1000), async ([id, index, targetFaults], m) => {
        const answer = await h.http.send({ method: 'POST', path: chunkPath(id, index), headers: { ...alice.auth, 'content-type': m.contentType }, body: m.body });
        expectRefusal(answer, `POST ${chunkPath(id, index)} ${m.shape}`, [...targetFaults, ...bodyFaults]);
      }),
      { numRuns: 700 },
    );
    // A refused part is dropped after its claim was taken; the release may trail the answer.
    await expectUnchanged(before, true);
  });

  it('refuses the hand-written bad ids, indices and digests on real uploads and changes nothing', async () => {
    const before = await snapshotStore(h.stack);
    const free = fixtures.receiving;
    const body = alice.chunkOf(free, 1);
    for (const segment of NASTY_IDS) {
      for (const method of ['PUT', 'POST']) {
        const answer = await h.http.send({ method, path: chunkPath(segment, 0), headers: alice.auth, body });
        expectRefusal(answer, `${method} ${chunkPath(segment, 0)}`, ['validation-failed']);
      }
    }
    for (const segment of NASTY_INDICES) {
      const answer = await h.http.send({ method: 'PUT', path: chunkPath(free.id, segment), headers: alice.auth, body });
      expectRefusal(answer, `PUT ${chunkPath(free.id, segment)}`, ['validation-failed']);
    }
    for (const { header } of NASTY_DIGESTS.filter((d) => d.expect === 'refused')) {
      const answer = await h.http.send({ method: 'PUT', path: chunkPath(free.id, 1), headers: { ...alice.auth, 'content-digest': header }, body });
      expectRefusal(answer, `PUT with Content-Digest ${header.slice(0, 80)}`, ['validation-failed']);
    }
    await expectUnchanged(before);
  });

  it('refuses hand-written multipart bodies with zero, broken or mis-sized file parts and changes nothing', async () => {
    const before = await snapshotStore(h.stack);
    const free = fixtures.receiving;
    const whole = alice.chunkOf(free, 1);
    // Where the server might misread the body, the part is one byte short, so that a misreading could never store it.
    const short = whole.subarray(1);
    const file = (data: Buffer, name = 'chunk') => ({ name, filename: 'c.bin', data });
    const cases: [string, string, Buffer, ProblemType[]][] = [
      ['no parts at all', 'multipart/form-data; boundary=B', multipartBody('B', []), ['validation-failed']],
      ['only a text field', 'multipart/form-data; boundary=B', multipartBody('B', [{ name: 'chunk', data: whole }]), ['validation-failed']],
      ['a file part one byte short', 'multipart/form-data; boundary=B', multipartBody('B', [file(whole.subarray(1))]), ['chunk-incomplete']],
      ['a file part one byte long', 'multipart/form-data; boundary=B', multipartBody('B', [file(Buffer.concat([whole, Buffer.from('x')]))]), ['chunk-incomplete']],
      ['a short first part before a whole second one', 'multipart/form-data; boundary=B', multipartBody('B', [file(whole.subarray(0, 10)), file(whole)]), ['chunk-incomplete']],
      ['a whole part never closed', 'multipart/form-data; boundary=B', multipartBody('B', [file(whole)], { close: false }), ['validation-failed', 'chunk-incomplete']],
      ['a whole part cut before its end', 'multipart/form-data; boundary=B', multipartBody('B', [file(whole)]).subarray(0, 200), ['validation-failed', 'chunk-incomplete']],
      ['a boundary the body does not use', 'multipart/form-data; boundary=C', multipartBody('B', [file(whole)]), ['validation-failed']],
      ['no boundary parameter', 'multipart/form-data', multipartBody('B', [file(short)]), ['unsupported-media-type']],
      ['an empty boundary', 'multipart/form-data; boundary=', multipartBody('B', [file(short)]), ['unsupported-media-type', 'validation-failed', 'chunk-incomplete']],
      ['a 71-character boundary', `multipart/form-data; boundary=${'b'.repeat(71)}`, multipartBody('b'.repeat(71), [file(Buffer.alloc(0))]), ['validation-failed', 'unsupported-media-type', 'chunk-incomplete']],
      ['raw bytes called multipart', 'multipart/form-data; boundary=B', whole, ['validation-failed']],
      ['multipart/mixed', 'multipart/mixed; boundary=B', multipartBody('B', [file(short)]), ['unsupported-media-type', 'validation-failed', 'chunk-incomplete']],
      ['a JSON body', 'application/json', Buffer.from('{"chunk":"x"}'), ['unsupported-media-type']],
      ['a thousand fields and no file', 'multipart/form-data; boundary=B', multipartBody('B', Array.from({ length: 1000 }, (_, i) => ({ name: `f${i}`, data: Buffer.from('v') }))), ['validation-failed']],
    ];
    for (const [why, contentType, body, faults] of cases) {
      const answer = await h.http.send({ method: 'POST', path: chunkPath(free.id, 1), headers: { ...alice.auth, 'content-type': contentType }, body });
      expectRefusal(answer, `POST multipart with ${why}`, faults);
    }
    await expectUnchanged(before, true);
  });

  it('refuses a Content-Length that is not a byte count at the HTTP layer and changes nothing', async () => {
    const before = await snapshotStore(h.stack);
    const free = fixtures.receiving;
    const head = (lengths: string[]) => [`PUT ${chunkPath(free.id, 1)} HTTP/1.1`, 'Host: fuzz', `Authorization: Bearer ${alice.token}`, ...lengths.map((l) => `Content-Length: ${l}`)];
    for (const value of UNPARSEABLE_CONTENT_LENGTHS) {
      const outcome = await rawExchange(h.stack.gatewayUrl, { lines: head([value].flat()), body: alice.chunkOf(free, 1) });
      expect({ value, status: outcome.answers[0]?.status }).toEqual({ value, status: 400 });
    }
    for (const value of REFUSED_CONTENT_LENGTHS) {
      // Announces up to petabytes and sends nothing: the refusal must not wait for the body.
      const outcome = await rawExchange(h.stack.gatewayUrl, { lines: head([value]) });
      const [answer] = outcome.answers;
      expect(answer).toBeDefined();
      expectRefusal(answer!, `PUT with Content-Length ${value}`, ['validation-failed', 'chunk-length-mismatch']);
    }
    await expectUnchanged(before);
  });

  it('refuses requests broken below the API with a 4xx before touching the upload', async () => {
    const before = await snapshotStore(h.stack);
    const free = fixtures.receiving;
    for (const { why, lines, body, status } of malformedHttp(chunkPath(free.id, 1), alice.token)) {
      const outcome = await rawExchange(h.stack.gatewayUrl, { lines, ...(body ? { body } : {}) });
      expect({ why, status: outcome.answers[0]?.status }).toEqual({ why, status });
    }
    await expectUnchanged(before);
  });

  // Found by this suite: Node's HTTP layer used to answer these itself, before express, with
  // an empty body; the gateway's server now writes a problem document for them too.
  it('answers requests broken below the API with a problem document', async () => {
    const free = fixtures.receiving;
    const cases = [
      ...malformedHttp(chunkPath(free.id, 1), alice.token),
      { why: 'Content-Length: abc', lines: [`PUT ${chunkPath(free.id, 1)} HTTP/1.1`, 'Host: fuzz', `Authorization: Bearer ${alice.token}`, 'Content-Length: abc'], status: 400 },
    ];
    for (const { why, lines, body } of cases) {
      const outcome = await rawExchange(h.stack.gatewayUrl, { lines, ...(body ? { body } : {}) });
      checkAnswer(outcome.answers[0]!, `PUT with ${why}`);
    }
  });

  it('forgets a chunk whose body stops part-way, wherever and however it stops, and takes it again afterwards', async () => {
    const upload = await receivingUpload();
    const whole = alice.chunkOf(upload, 1);
    const before = await snapshotStore(h.stack);
    const lines = [`PUT ${chunkPath(upload.id, 1)} HTTP/1.1`, 'Host: fuzz', `Authorization: Bearer ${alice.token}`, `Content-Length: ${whole.length}`, `Content-Digest: ${digestOf(whole)}`];
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: whole.length - 1 }), fc.constantFrom<'destroy' | 'half-close'>('destroy', 'half-close'), fc.nat({ max: 30 }), async (afterBytes, how, delayMs) => {
        const outcome = await rawExchange(h.stack.gatewayUrl, { lines, body: whole, cut: { afterBytes, how, delayMs } });
        // A half-closed connection is answered by the server's own parser error handling.
        // A 409 answers a request that arrives while the previous one's departure is still
        // being noticed.
        expect(outcome.answers.map((a) => a.status).filter((s) => s !== 400 && s !== 409)).toEqual([]);
      }),
      { numRuns: 80 },
    );
    await expectUnchanged(before, true);
    // The index was released each time: the whole chunk is taken now.
    await alice.sendChunk(upload, 1);
    expect(await alice.waitFor(upload.id, (v) => v.state === 'completed' || v.state === 'failed')).toMatchObject({ state: 'completed' });
  });

  // Found by this suite: a claim used to move a pending upload to receiving before any
  // byte was kept, and a refused request left it there.
  it('leaves a pending upload exactly as it was when its first chunk stops part-way', async () => {
    const upload = await alice.create(1000);
    const before = await snapshotStore(h.stack);
    const whole = alice.chunkOf(upload, 0);
    await rawExchange(h.stack.gatewayUrl, {
      lines: [`PUT ${chunkPath(upload.id, 0)} HTTP/1.1`, 'Host: fuzz', `Authorization: Bearer ${alice.token}`, `Content-Length: ${whole.length}`],
      body: whole,
      cut: { afterBytes: 10, how: 'destroy', delayMs: 300 },
    });
    expect(await settledDifferences(h.stack, before, { timeoutMs: 1_500 })).toEqual([]);
  });

  it('never mixes the bytes after a Content-Length into the chunk', async () => {
    for (const extra of ['this is not part of the chunk\r\n\r\n', 'x', `GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n`]) {
      const upload = await receivingUpload();
      const whole = alice.chunkOf(upload, 1);
      // No Content-Digest: only the declared length keeps the extra bytes out.
      const outcome = await rawExchange(h.stack.gatewayUrl, {
        lines: [`PUT ${chunkPath(upload.id, 1)} HTTP/1.1`, 'Host: fuzz', `Authorization: Bearer ${alice.token}`, `Content-Length: ${whole.length}`],
        body: Buffer.concat([whole, Buffer.from(extra)]),
        answers: 2,
      });
      // The rest reads as a second request; garbage there may cut the connection before the
      // first answer is out (Node's parser), so the chunk is either taken whole or not at all.
      const statuses = outcome.answers.map((a) => a.status);
      expect({ extra, statuses: statuses.filter((s) => s !== 202 && s !== 400 && s !== 200) }).toEqual({ extra, statuses: [] });
      await sendUnlessTaken(upload, 1);
      // Completed means the whole file's SHA-256 matched the one declared at creation.
      expect(await alice.waitFor(upload.id, (v) => v.state === 'completed' || v.state === 'failed')).toMatchObject({ state: 'completed' });
    }
  });

  it('ignores a Content-Digest of another algorithm, and rejects a chunk whose well-formed digest does not match, keeping nothing of it', async () => {
    for (const { header, expect: outcome } of NASTY_DIGESTS.filter((d) => d.expect !== 'refused')) {
      const upload = await alice.create(1000);
      const answer = await alice.request('PUT', chunkPath(upload.id, 0), { 'content-digest': header }, alice.chunkOf(upload, 0));
      expect({ header, status: answer.status }).toEqual({ header, status: 202 });
      const settled = await alice.waitFor(upload.id, (v) => v.state === 'completed' || v.missing.includes(0));
      // A rejected first chunk leaves the upload pending or receiving, depending on whether the
      // worker rejected it before or after the gateway counted it; either way it is missing again.
      const expected = outcome === 'ignored' ? ['completed'] : ['pending', 'receiving'];
      expect({ header, state: settled.state, expected: expected.includes(settled.state) }).toEqual({ header, state: settled.state, expected: true });
      if (outcome !== 'ignored') expect(settled.missing).toContain(0);
    }

    const upload = await receivingUpload();
    const whole = alice.chunkOf(upload, 1);
    const lie = digestOf(randomBytes(whole.length));
    const before = await snapshotStore(h.stack);
    const accepted = await alice.request('PUT', chunkPath(upload.id, 1), { 'content-digest': lie }, whole);
    expect(accepted.status).toBe(202);
    const rejected = await alice.waitFor(upload.id, (v) => v.missing.includes(1) && v.chunksStored === 1);
    expect(rejected).toMatchObject({ state: 'receiving', missing: [1] });
    // Nothing of the mismatched bytes stays: no blob, no staged or stored file.
    expect(await settledDifferences(h.stack, before, { only: (line) => line.startsWith('blobs') || line.startsWith('file') })).toEqual([]);
    await alice.sendChunk(upload, 1);
    expect(await alice.waitFor(upload.id, (v) => v.state === 'completed' || v.state === 'failed')).toMatchObject({ state: 'completed' });
  });

  it('takes only the first file part of a multipart chunk', async () => {
    const upload = await receivingUpload();
    const whole = alice.chunkOf(upload, 1);
    const body = multipartBody('B', [
      { name: 'chunk', filename: 'first.bin', data: whole },
      { name: 'chunk', filename: 'second.bin', data: randomBytes(5000) },
    ]);
    const answer = await alice.request('POST', chunkPath(upload.id, 1), { 'content-type': 'multipart/form-data; boundary=B', 'content-digest': digestOf(whole) }, body);
    expect(answer.status).toBe(202);
    expect(await alice.waitFor(upload.id, (v) => v.state === 'completed' || v.state === 'failed')).toMatchObject({ state: 'completed' });
  });

  it('still serves an ordinary upload end to end afterwards', async () => {
    await expectServesNormally(h.stack, alice);
  });

  it(`sent at least ${MINIMUM_REQUESTS} requests`, () => {
    expect(requestsSent()).toBeGreaterThanOrEqual(MINIMUM_REQUESTS);
  });
});
