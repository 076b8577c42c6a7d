import fc from 'fast-check';
import { createCase, damagedJson, expectedCreateOutcome } from './arbitraries';
import { NASTY_FILENAMES, NASTY_JSON_BODIES } from './corpus';
import { REQUEST_SHARES } from './request-budget';
import { useHarness } from './support/harness';
import { requestsSent } from './support/http-client';
import { multipartBody } from './support/multipart';
import { checkAnswer, expectRefusal } from './support/problems';
import { expectServesNormally } from './support/service-health';
import { differences, settledDifferences, snapshotStore } from './support/store-snapshot';
import type { Owner, UploadView } from './support/uploads';

jest.setTimeout(120_000);

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MINIMUM_REQUESTS = REQUEST_SHARES['create-upload'];

describe('creating uploads from bad descriptions (POST /v1/uploads) and bad one-shot forms (POST /upload)', () => {
  const h = useHarness();

  const post = (owner: Owner, text: string, contentType: string | null = 'application/json') =>
    h.http.send({ method: 'POST', path: '/v1/uploads', headers: { ...owner.auth, ...(contentType ? { 'content-type': contentType } : {}) }, body: text });

  /** Every upload the owner can see, through the API's own pages. */
  async function listAll(owner: Owner): Promise<UploadView[]> {
    const all: UploadView[] = [];
    let cursor: string | null = null;
    do {
      const answer = await owner.request('GET', `/v1/uploads?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(answer.status).toBe(200);
      const page = JSON.parse(answer.text) as { items: UploadView[]; nextCursor: string | null };
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  }

  it('creates exactly the uploads the contract allows, named as promised, and nothing for a refused one', async () => {
    const owner = await h.owner();
    const createdIds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(createCase, async (c) => {
        const answer = await post(owner, c.text);
        const request = `POST /v1/uploads ${c.text.slice(0, 400)}`;
        const expected = expectedCreateOutcome(c);
        if (!expected.created) {
          expectRefusal(answer, request, [expected.type]);
          return;
        }
        checkAnswer(answer, request);
        expect({ request, status: answer.status }).toEqual({ request, status: 201 });
        const view = JSON.parse(answer.text) as UploadView & Record<string, unknown>;
        createdIds.add(view.id);
        const size = c.size.value as number;
        const declared = c.sha256.absent ? undefined : (c.sha256.value as string).toLowerCase();
        const state = size > 0 ? 'pending' : declared === undefined || declared === EMPTY_SHA256 ? 'completed' : 'failed';
        expect(view).toMatchObject({
          filename: c.filename.kept,
          size,
          chunkSize: expected.chunkSize,
          chunkCount: expected.chunkCount,
          contentType: c.contentType.absent ? 'application/octet-stream' : c.contentType.value,
          metadata: Object.fromEntries(c.metadata.entries ?? []),
          state,
          bytesReceived: 0,
        });
        expect(view.missing).toHaveLength(size > 0 ? expected.chunkCount : 0);
        if (declared) expect(view.declaredSha256).toBe(declared);
        expect(answer.headers.location).toBe(`/v1/uploads/${view.id}`);
      }),
      { numRuns: 1_200 },
    );
    const listed = await listAll(owner);
    expect(listed.map((u) => u.id).sort()).toEqual([...createdIds].sort());
  });

  it('keeps what it promised: a created upload reads back with the same name and metadata', async () => {
    const owner = await h.owner();
    await fc.assert(
      fc.asyncProperty(
        createCase.filter((c) => expectedCreateOutcome(c).created),
        async (c) => {
          const created = await post(owner, c.text);
          expect(created.status).toBe(201);
          const { id, filename, metadata } = JSON.parse(created.text) as UploadView & { metadata: unknown };
          const read = await owner.view(id);
          expect({ filename: read.filename, metadata: (read as unknown as { metadata: unknown }).metadata }).toEqual({ filename, metadata });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('answers damaged JSON, in any declared content type, with a refusal and creates nothing', async () => {
    const owner = await h.owner();
    const before = await snapshotStore(h.stack);
    let refusedUnparseable = 0;
    await fc.assert(
      fc.asyncProperty(damagedJson, fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'multipart/form-data; boundary=x', null), async (text, contentType) => {
        const answer = await post(owner, text, contentType);
        const request = `POST /v1/uploads (${contentType}) ${JSON.stringify(text.slice(0, 300))}`;
        checkAnswer(answer, request);
        if (answer.status === 201) return;
        let parses = true;
        try {
          JSON.parse(text);
        } catch {
          parses = false;
        }
        if (!parses) {
          expectRefusal(answer, request, ['validation-failed']);
          refusedUnparseable++;
        }
      }),
      { numRuns: 700 },
    );
    expect(refusedUnparseable).toBeGreaterThan(100);
    // Only creations may have changed anything, and each left exactly one upload row.
    const created = (await listAll(owner)).map((u) => u.id);
    const changed = differences(before, await snapshotStore(h.stack));
    expect(changed.filter((line) => !created.some((id) => line.startsWith(`uploads + (${id},`)))).toEqual([]);
  });

  it.each(NASTY_FILENAMES.map((c) => [JSON.stringify(c.sent).slice(0, 60), c] as const))('names an upload sent as %s as the contract says, in the API and in the download', async (_name, { sent, kept }) => {
    const owner = await h.owner();
    // An empty upload completes at once, so its download headers can be checked too.
    const answer = await post(owner, JSON.stringify({ filename: sent, size: 0 }));
    const request = `POST /v1/uploads filename ${JSON.stringify(sent).slice(0, 200)}`;
    if (kept === null) {
      expectRefusal(answer, request, ['validation-failed']);
      expect(await listAll(owner)).toEqual([]);
      return;
    }
    expect({ request, status: answer.status }).toEqual({ request, status: 201 });
    const { id } = JSON.parse(answer.text) as UploadView;
    expect((await owner.view(id)).filename).toBe(kept);
    const download = await owner.request('GET', `/v1/uploads/${id}/content`);
    expect(download.status).toBe(200);
    const disposition = String(download.headers['content-disposition']);
    expect(decodeURIComponent(/filename\*=UTF-8''([^;]+)/.exec(disposition)?.[1] ?? '')).toBe(kept);
    expect(/filename="([^"]*)"/.exec(disposition)?.[1]).toMatch(/^[\x20-\x7e]*$/);
  });

  it.each(NASTY_JSON_BODIES.map((c) => [c.why, c] as const))('answers a body with %s as the contract says', async (_why, c) => {
    const owner = await h.owner();
    const answer = await post(owner, c.text, c.contentType ?? 'application/json');
    const request = `POST /v1/uploads (${c.why}) ${c.text.slice(0, 200)}`;
    if (c.expect === 'created') {
      checkAnswer(answer, request);
      expect({ request, status: answer.status }).toEqual({ request, status: 201 });
      expect(await listAll(owner)).toHaveLength(1);
    } else {
      expectRefusal(answer, request, [c.expect]);
      expect(await listAll(owner)).toEqual([]);
    }
  });

  /** RFC 5987 value characters: encodeURIComponent leaves ' ( ) * as they are, which that grammar does not allow. */
  const rfc5987 = (value: string) => encodeURIComponent(value).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

  /** A one-shot form upload of `data`, its file part named through RFC 5987 so any character survives. */
  const postForm = (owner: Owner, filename: string, data: Buffer) =>
    h.http.send({
      method: 'POST',
      path: '/upload',
      headers: { ...owner.auth, 'content-type': 'multipart/form-data; boundary=B' },
      body: Buffer.concat([Buffer.from(`--B\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''${rfc5987(filename)}\r\n\r\n`), data, Buffer.from('\r\n--B--\r\n')]),
    });

  it('names a one-shot form upload as the contract says, or refuses the name and keeps nothing', async () => {
    const owner = await h.owner();
    for (const { sent, kept } of NASTY_FILENAMES.filter((c) => c.sent.length <= 2000)) {
      const answer = await postForm(owner, sent, Buffer.from('form bytes'));
      const request = `POST /upload filename ${JSON.stringify(sent).slice(0, 100)}`;
      if (kept === null) {
        expectRefusal(answer, request, ['validation-failed']);
        continue;
      }
      expect({ request, status: answer.status }).toEqual({ request, status: 201 });
      expect({ request, filename: (JSON.parse(answer.text) as UploadView).filename }).toEqual({ request, filename: kept });
    }
    expect((await listAll(owner)).map((u) => u.filename).sort()).toEqual(
      NASTY_FILENAMES.filter((c) => c.sent.length <= 2000 && c.kept !== null)
        .map((c) => c.kept)
        .sort(),
    );
  });

  it('refuses broken one-shot forms, leaving at most an aborted upload and no bytes behind', async () => {
    const owner = await h.owner();
    const before = await snapshotStore(h.stack);
    const part = fc.record({
      name: fc.constantFrom('file', 'File', 'other', ''),
      filename: fc.option(fc.constantFrom('a.bin', '', '../x', 'ok.txt'), { nil: undefined }),
      contentType: fc.constantFrom(undefined, 'application/octet-stream', 'text/plain'),
      length: fc.oneof(fc.nat({ max: 2000 }), fc.constantFrom(0, 70_000)),
    });
    const damage = fc.oneof(fc.constant('none'), fc.constant('unclosed'), fc.nat().map((at) => `truncated:${at}`), fc.constant('no-boundary'), fc.constant('json'));
    const created: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(part, { maxLength: 3 }), damage, async (parts, d) => {
        const specs = parts.map((p) => ({ name: p.name, ...(p.filename !== undefined ? { filename: p.filename } : {}), ...(p.contentType ? { contentType: p.contentType } : {}), data: Buffer.alloc(p.length, 0x62) }));
        let body = multipartBody('B', specs, { close: d !== 'unclosed' });
        if (d.startsWith('truncated:')) body = body.subarray(0, Number(d.slice('truncated:'.length)) % (body.length + 1));
        const contentType = d === 'no-boundary' ? 'multipart/form-data' : d === 'json' ? 'application/json' : 'multipart/form-data; boundary=B';
        const answer = await h.http.send({ method: 'POST', path: '/upload', headers: { ...owner.auth, 'content-type': contentType }, body });
        const request = `POST /upload ${JSON.stringify({ parts: parts.map((p) => ({ ...p })), damage: d })}`;
        const problem = checkAnswer(answer, request);
        if (problem) expect({ request, type: problem.type }).toEqual({ request, type: expect.stringMatching(/^(validation-failed|unsupported-media-type)$/) });
        else created.push((JSON.parse(answer.text) as UploadView).id);
      }),
      { numRuns: 300 },
    );
    for (const id of created) await owner.waitFor(id, (v) => v.state === 'completed');
    expect((await listAll(owner)).map((u) => u.id).sort()).toEqual([...created].sort());
    // Chunks staged before a form broke are dropped by the worker, a moment after the answer.
    expect(await settledDifferences(h.stack, before, { only: (line) => line.startsWith('file + staging/') })).toEqual([]);
    const after = await snapshotStore(h.stack);
    const isCreated = (line: string) => created.some((id) => line.includes(`(${id},`));
    // Blobs are named by their SHA-256: those of created uploads' chunks are theirs.
    const createdBlobs = after.rows.chunks.filter(isCreated).flatMap((row) => /\b[0-9a-f]{64}\b/.exec(row) ?? []);
    const changed = differences(before, after).filter((line) => !isCreated(line) && !createdBlobs.some((sha) => line.includes(sha)));
    // design.md: a stream that fails half-way leaves nothing behind but its aborted upload.
    expect(changed.filter((line) => !(line.startsWith('uploads + ') && line.includes(',aborted,')))).toEqual([]);
  });

  // Found by this suite: PostgreSQL's jsonb cannot hold \u0000, and the insert failed (500).
  it('refuses metadata holding a NUL character', async () => {
    const owner = await h.owner();
    for (const metadata of [{ note: 'a\u0000b' }, { 'k\u0000': 'v' }]) {
      const answer = await post(owner, JSON.stringify({ filename: 'a.bin', size: 1, metadata }));
      expectRefusal(answer, `POST /v1/uploads metadata ${JSON.stringify(metadata)}`, ['validation-failed']);
    }
  });

  it('still serves an ordinary upload end to end afterwards', async () => {
    await expectServesNormally(h.stack, await h.owner());
  });

  it(`sent at least ${MINIMUM_REQUESTS} requests`, () => {
    expect(requestsSent()).toBeGreaterThanOrEqual(MINIMUM_REQUESTS);
  });
});
