import { randomBytes } from 'node:crypto';
import * as tus from 'tus-js-client';
import { startStack, type ServiceExit, type Stack } from '../../e2e/src/support/stack';
import { EventRecorder } from '../../e2e/src/support/events';
import {
  MiB,
  MemoryUrlStorage,
  TusTrace,
  downloadDigest,
  expectCompletionSeen,
  reportingTraces,
  settle,
  sha256Hex,
  subscribeOnCreation,
  uploadIdOf,
  waitUntilCompleted,
} from './support/tus-client-helpers';

// The real, unmodified tus-js-client 4 (its Node build: Buffer input, node:http stack) against
// gateway, worker and notifier processes on a fresh database.

jest.setTimeout(60_000);

const FILE_SIZE = 32 * MiB;
/**
 * The gateway cuts tus bytes into chunks of this size whatever the PATCH sizes. 5 MiB PATCHes
 * end at 5, 10, 15 … MiB, never on an 8 MiB boundary, so the gateway has to stage partial
 * chunks across PATCHes (and, in the interrupted and restarted runs, keep them).
 */
const GATEWAY_CHUNK = 8 * MiB;
const PATCH_SIZE = 5 * MiB;
const RETRY_DELAYS = [0, 500, 1000, 2000, 4000];
const FILETYPE = 'application/x-tessera-test';
const COMPLETION_TIMEOUT = 30_000;

describe('tus-js-client 4.3.1 in Node uploads 32 MiB files to /files/ on the real stack', () => {
  let stack: Stack;
  let token: string;
  let endpoint: string;

  beforeAll(async () => {
    stack = await startStack({ DEFAULT_CHUNK_SIZE: String(GATEWAY_CHUNK) });
    token = await stack.token('alice');
    endpoint = `${stack.gatewayUrl}/files/`;
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const file = () => {
    const data = randomBytes(FILE_SIZE);
    return { data, sha256: sha256Hex(data) };
  };
  const baseOptions = (filename: string) => ({
    endpoint,
    headers: { Authorization: `Bearer ${token}` },
    metadata: { filename, filetype: FILETYPE },
    retryDelays: RETRY_DELAYS,
  });

  /**
   * The upload is a completed Tessera upload with the file's SHA-256 (polled on the native API),
   * its completion was seen on the socket, and its content downloads byte for byte.
   */
  async function expectStored(
    uploadId: string,
    expected: { sha256: string; filename: string },
    events: EventRecorder,
    ack: Awaited<ReturnType<EventRecorder['subscribe']>> | undefined,
    allowSnapshot: boolean,
  ): Promise<'event' | 'snapshot'> {
    const view = await waitUntilCompleted(stack.gatewayUrl, token, uploadId, COMPLETION_TIMEOUT);
    expect(view).toMatchObject({ id: uploadId, state: 'completed', protocol: 'tus', size: FILE_SIZE, sha256: expected.sha256, filename: expected.filename, contentType: FILETYPE });
    const seen = await expectCompletionSeen(events, uploadId, ack, { sha256: expected.sha256, size: FILE_SIZE }, { allowSnapshot, timeoutMs: COMPLETION_TIMEOUT });
    expect(await downloadDigest(stack.gatewayUrl, token, uploadId)).toEqual({ status: 200, bytes: FILE_SIZE, sha256: expected.sha256 });
    return seen;
  }

  /** The PATCHes of a trace that were answered 204, each checked to advance the offset by its body. */
  function expectContiguousPatches(trace: TusTrace): { from: number; to: number; bytes: number }[] {
    const patches = trace.requests('PATCH').filter((e) => e.status === 204);
    return patches.map((p) => {
      const from = Number(p.req['Upload-Offset']);
      const to = Number(p.res?.['Upload-Offset']);
      expect({ to, headers: p.res }).toMatchObject({ to: from + p.bodyBytes, headers: { 'Tus-Resumable': '1.0.0' } });
      return { from, to, bytes: p.bodyBytes };
    });
  }

  it('(a) chunkSize 5 MiB: seven PATCHes straddling 8 MiB gateway chunks; SHA-256 on the API, completion on the socket, content byte for byte', async () => {
    const { data, sha256 } = file();
    const events = await EventRecorder.connect(stack.notifierUrl, token);
    const trace = new TusTrace('(a) chunkSize 5 MiB');
    try {
      await reportingTraces([trace], () => stack.logs('gateway'), async () => {
        const sub = subscribeOnCreation(events, 'single');
        const done = settle();
        const upload = new tus.Upload(data, { ...baseOptions('a-chunked.bin'), chunkSize: PATCH_SIZE, ...trace.hooks(sub.hook), onSuccess: done.onSuccess, onError: done.onError });
        upload.start();
        await done.promise;

        const [post, ...otherPosts] = trace.requests('POST');
        expect(otherPosts).toEqual([]);
        expect(post).toMatchObject({ status: 201, req: { 'Upload-Length': String(FILE_SIZE) } });
        const uploadId = uploadIdOf(upload.url!);
        expect(upload.url).toBe(`${stack.gatewayUrl}/files/${uploadId}`);
        expect(sub.created.map((c) => c.id)).toEqual([uploadId]);
        const ack = sub.created[0]!.ack;
        // Subscribed before the first PATCH (tus-js-client awaits onAfterResponse), so the
        // upload cannot be completed yet and the event itself must arrive.
        expect(ack).toMatchObject({ ok: true, upload: { id: uploadId, protocol: 'tus', size: FILE_SIZE } });
        expect(ack?.upload?.state).not.toBe('completed');

        const patches = expectContiguousPatches(trace);
        expect(patches.map((p) => [p.from / MiB, p.to / MiB])).toEqual([[0, 5], [5, 10], [10, 15], [15, 20], [20, 25], [25, 30], [30, 32]]);
        expect(trace.retries).toEqual([]);
        expect(trace.bytesSent).toBe(FILE_SIZE);

        expect(await expectStored(uploadId, { sha256, filename: 'a-chunked.bin' }, events, ack, false)).toBe('event');
      });
    } finally {
      events.close();
    }
  });

  it('(b) aborted half-way, then resumed by a new tus.Upload from the URL it stored: same URL, fewer bytes than the file the second time', async () => {
    const { data, sha256 } = file();
    const events = await EventRecorder.connect(stack.notifierUrl, token);
    const first = new TusTrace('(b) first run, aborted at ~50 %');
    const second = new TusTrace('(b) second run, resumed');
    try {
      await reportingTraces([first, second], () => stack.logs('gateway'), async () => {
        const storage = new MemoryUrlStorage();
        const sub = subscribeOnCreation(events, 'single');

        // First run: abort as soon as onProgress reports half the file sent. Progress comes
        // from each PATCH's start and answer and, throttled, from inside its body, so the
        // abort lands either between two PATCHes or in the middle of one.
        let abortedAtBytes = -1;
        const firstRun = settle();
        const upload1: tus.Upload = new tus.Upload(data, {
          ...baseOptions('b-resumed.bin'),
          chunkSize: PATCH_SIZE,
          urlStorage: storage,
          ...first.hooks(sub.hook),
          onProgress: (sent, total) => {
            if (abortedAtBytes >= 0 || sent < total / 2) return;
            abortedAtBytes = sent;
            first.note(`abort() at ${sent} bytes sent`);
            upload1.abort().then(firstRun.onSuccess, firstRun.onError);
          },
          onSuccess: () => firstRun.onError(new Error('the first run finished before onProgress passed 50 %')),
          onError: firstRun.onError,
        });
        upload1.start();
        await firstRun.promise;
        const firstUrl = upload1.url!;
        const uploadId = uploadIdOf(firstUrl);
        expect(abortedAtBytes).toBeGreaterThanOrEqual(FILE_SIZE / 2);
        expect(abortedAtBytes).toBeLessThan(FILE_SIZE);
        const acknowledged = Math.max(0, ...expectContiguousPatches(first).map((p) => p.to));
        const abortedMidPatch = first.requests('PATCH').some((e) => e.status === undefined);
        first.note(`offset acknowledged before the abort: ${acknowledged}; aborted ${abortedMidPatch ? 'in the middle of a PATCH' : 'between PATCHes'}`);
        expect(sub.created.map((c) => c.id)).toEqual([uploadId]);

        // Second run: a new instance finds the stored URL by the file's fingerprint and resumes.
        const secondRun = settle();
        const upload2 = new tus.Upload(data, {
          ...baseOptions('b-resumed.bin'),
          chunkSize: PATCH_SIZE,
          urlStorage: storage,
          ...second.hooks(),
          onSuccess: secondRun.onSuccess,
          onError: secondRun.onError,
        });
        const previous = await upload2.findPreviousUploads();
        expect(previous).toHaveLength(1);
        expect(previous[0]).toMatchObject({ uploadUrl: firstUrl, size: FILE_SIZE });
        upload2.resumeFromPreviousUpload(previous[0]!);
        upload2.start();
        await secondRun.promise;

        expect(upload2.url).toBe(firstUrl);
        expect(second.requests('POST')).toEqual([]);
        expect(second.exchanges.every((e) => e.url === firstUrl)).toBe(true);
        const head = second.requests('HEAD').find((e) => e.status === 200);
        expect(head?.res).toMatchObject({ 'Upload-Length': String(FILE_SIZE), 'Tus-Resumable': '1.0.0' });
        const resumedAt = Number(head!.res!['Upload-Offset']);
        // What a 204 acknowledged survives the abort; the offset never exceeds what was sent.
        expect(resumedAt).toBeGreaterThanOrEqual(acknowledged);
        expect(resumedAt).toBeLessThanOrEqual(abortedAtBytes);
        expect(resumedAt).toBeGreaterThan(0);
        const patches = expectContiguousPatches(second);
        expect(patches[0]?.from).toBeGreaterThan(0);
        expect(patches.at(-1)?.to).toBe(FILE_SIZE);
        // It really resumed: the second run sent fewer bytes than the file.
        expect(second.bytesSent).toBeLessThan(FILE_SIZE);
        console.log(
          `(b) aborted ${abortedMidPatch ? 'mid-PATCH' : 'between PATCHes'} at ${abortedAtBytes} B sent (${acknowledged} B acknowledged); ` +
            `resumed at ${resumedAt} B; second run sent ${second.bytesSent} B; retries in the second run: ${second.retries.length}`,
        );

        expect(await expectStored(uploadId, { sha256, filename: 'b-resumed.bin' }, events, sub.created[0]!.ack, false)).toBe('event');
      });
    } finally {
      events.close();
    }
  });

  it('(c) parallelUploads 4: four partial uploads and a final (concatenation) complete with the SHA-256 of the whole file', async () => {
    const { data, sha256 } = file();
    const events = await EventRecorder.connect(stack.notifierUrl, token);
    const trace = new TusTrace('(c) parallelUploads 4');
    try {
      await reportingTraces([trace], () => stack.logs('gateway'), async () => {
        const sub = subscribeOnCreation(events, 'final');
        const done = settle();
        const upload = new tus.Upload(data, {
          ...baseOptions('c-parallel.bin'),
          chunkSize: PATCH_SIZE,
          parallelUploads: 4,
          ...trace.hooks(sub.hook),
          onSuccess: done.onSuccess,
          onError: done.onError,
        });
        upload.start();
        await done.promise;

        const posts = trace.requests('POST');
        const partials = posts.filter((p) => p.req['Upload-Concat'] === 'partial');
        const finals = posts.filter((p) => p.req['Upload-Concat']?.startsWith('final;'));
        expect(partials).toHaveLength(4);
        expect(finals).toHaveLength(1);
        expect(partials.every((p) => p.status === 201 && p.req['Upload-Length'] === String(FILE_SIZE / 4))).toBe(true);
        const partUrls = partials.map((p) => new URL(p.res!.Location!, endpoint).toString());
        const listed = finals[0]!.req['Upload-Concat']!.slice('final;'.length).split(' ');
        expect([...listed].sort()).toEqual([...partUrls].sort());
        expect(finals[0]).toMatchObject({ status: 201 });
        expect(finals[0]!.req['Upload-Length']).toBeUndefined();
        // Each 8 MiB part goes as a 5 MiB and a 3 MiB PATCH: the 5 MiB one ends inside a gateway chunk.
        const patches = expectContiguousPatches(trace);
        expect(patches.map((p) => p.bytes / MiB).sort()).toEqual([3, 3, 3, 3, 5, 5, 5, 5]);
        expect(trace.retries).toEqual([]);

        const finalId = uploadIdOf(upload.url!);
        expect(sub.created.map((c) => c.id)).toEqual([finalId]);
        // The final upload's id is known only once the final POST answers, and by then every
        // part is complete: the gateway may have completed the final before (or while) the
        // subscription was made, in which case its `upload.completed` went out to no one. A
        // subscribe ack whose snapshot already says `completed` with the right SHA-256 is then
        // what the socket shows of the completion; otherwise the event must arrive.
        const seen = await expectStored(finalId, { sha256, filename: 'c-parallel.bin' }, events, sub.created[0]!.ack, true);
        console.log(`(c) completion of the final upload seen on the socket as: ${seen}`);
      });
    } finally {
      events.close();
    }
  });

  it('(d) the gateway is SIGKILLed and restarted between two 5 MiB PATCHes; tus-js-client retries and completes without losing acknowledged bytes', async () => {
    const { data, sha256 } = file();
    const events = await EventRecorder.connect(stack.notifierUrl, token);
    const trace = new TusTrace('(d) gateway restart after the 2nd PATCH');
    try {
      await reportingTraces([trace], () => stack.logs('gateway'), async () => {
        const sub = subscribeOnCreation(events, 'single');
        const done = settle();
        const pidBefore = stack.pid('gateway');
        let restarted: Promise<ServiceExit> | undefined;
        let acknowledgedBeforeKill = -1;
        let exchangesBeforeKill = 0;
        let chunks = 0;
        let restartMs = -1;
        const upload = new tus.Upload(data, {
          ...baseOptions('d-restarted.bin'),
          chunkSize: PATCH_SIZE,
          ...trace.hooks(sub.hook),
          // Called when the 2nd PATCH's 204 has been read and before the 3rd PATCH is opened:
          // restart() sends SIGKILL synchronously, so the 3rd PATCH goes to a gateway that is
          // dead or dying and tus-js-client's retries (HEAD, then PATCH) meet the new process.
          onChunkComplete: (_size, accepted) => {
            chunks += 1;
            if (chunks !== 2 || restarted) return;
            acknowledgedBeforeKill = accepted;
            exchangesBeforeKill = trace.exchanges.length;
            trace.note(`SIGKILL + restart of the gateway after ${accepted} bytes were acknowledged`);
            const killedAt = Date.now();
            restarted = stack.restart('gateway');
            restarted.then(() => (restartMs = Date.now() - killedAt), () => undefined);
          },
          onSuccess: done.onSuccess,
          onError: done.onError,
        });
        upload.start();
        await done.promise;

        expect(restarted).toBeDefined();
        const exit = await restarted!;
        expect(exit.signal).toBe('SIGKILL');
        expect(stack.pid('gateway')).not.toBeNull();
        expect(stack.pid('gateway')).not.toBe(pidBefore);
        expect(acknowledgedBeforeKill).toBe(2 * PATCH_SIZE);

        // The client did notice: at least one request failed and was retried.
        expect(trace.retries.length).toBeGreaterThan(0);
        const after = trace.exchanges.slice(exchangesBeforeKill);
        const head = after.find((e) => e.method === 'HEAD' && e.status === 200);
        expect(head).toBeDefined();
        const resumedAt = Number(head!.res!['Upload-Offset']);
        // 10 MiB is 8 MiB + 2 MiB staged of the second gateway chunk: a 204 said those bytes
        // were durably staged, so the new gateway process must still count them.
        expect(resumedAt).toBeGreaterThanOrEqual(acknowledgedBeforeKill);
        expect(resumedAt).toBeLessThanOrEqual(3 * PATCH_SIZE);
        expect(trace.requests('POST')).toHaveLength(1);
        expect(expectContiguousPatches(trace).at(-1)?.to).toBe(FILE_SIZE);

        const uploadId = uploadIdOf(upload.url!);
        expect(sub.created.map((c) => c.id)).toEqual([uploadId]);
        console.log(
          `(d) gateway ${pidBefore} → ${stack.pid('gateway')} (exited ${exit.ms} ms after SIGKILL, serving again ${restartMs} ms after it); resumed at ${resumedAt} B after ${trace.retries.length} retries; ${trace.bytesSent} B sent in all`,
        );
        expect(await expectStored(uploadId, { sha256, filename: 'd-restarted.bin' }, events, sub.created[0]!.ack, false)).toBe('event');
      });
    } finally {
      events.close();
    }
  });
});
