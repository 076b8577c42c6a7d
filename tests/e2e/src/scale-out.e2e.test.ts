import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { UploadEvent, UploadView } from '@tessera/domain';
import { startCluster, type Cluster, type ClusterNode } from './support/cluster';

// Seven Node processes on two cores: most of the budget is their start-up and the two rounds.
jest.setTimeout(120_000);

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK = 256 * KiB;
const FILES = 20;
/** Files in flight at once, and chunk PUTs in flight per file. */
const PARALLEL_FILES = 5;
const PARALLEL_CHUNKS = 2;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const digestHeader = (data: Buffer) => `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

async function until(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A connection the member refused: it is down, and the request never reached it, so another member may take it. */
function refused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code === 'ECONNREFUSED' || (cause?.errors ?? []).some((e) => e.code === 'ECONNREFUSED');
}

/**
 * The test client's load balancing, not a product component: call `i` goes to member
 * `i % n` of the members not known to be down. A member that refuses a connection is
 * dropped for good and the call goes to the next one.
 */
class RoundRobin {
  private readonly down = new Set<string>();

  constructor(readonly urls: string[]) {}

  live(): string[] {
    return this.urls.filter((url) => !this.down.has(url));
  }

  dropped(): string[] {
    return this.urls.filter((url) => this.down.has(url));
  }

  pick(i: number): string {
    const live = this.live();
    if (live.length === 0) throw new Error(`every member is down: ${this.urls.join(', ')}`);
    return live[i % live.length]!;
  }

  /** A live member other than `url` if there is one (where a second opinion comes from), else `url`. */
  otherThan(url: string): string {
    return this.live().find((u) => u !== url) ?? url;
  }

  drop(url: string): void {
    this.down.add(url);
  }

  /** Runs `call` against member `i`, moving on to the next member while members refuse the connection. */
  async call<T>(i: number, call: (url: string) => Promise<T>): Promise<{ url: string; result: T }> {
    for (;;) {
      const url = this.pick(i);
      try {
        return { url, result: await call(url) };
      } catch (error) {
        if (!refused(error)) throw error;
        this.drop(url);
      }
    }
  }
}

interface Seen {
  type: string;
  event: UploadEvent;
  /** The notifier that delivered it. */
  via: string;
}

type SubscribeAck = { ok: true; upload: UploadView } | { ok: false; error: { type: string } };

/**
 * One client watching one upload: subscribes on notifier `slot` of the round robin; when its
 * notifier goes away it connects to the next live one and subscribes again (the fresh
 * snapshot stands in for anything missed meanwhile).
 */
class Subscriber {
  readonly seen: Seen[] = [];
  readonly acks: { via: string; ack: SubscribeAck }[] = [];
  url = '';
  private socket: Socket | null = null;
  private closed = false;
  private failingOver: Promise<void> | null = null;
  private failoverError: unknown = null;

  private constructor(
    private readonly notifiers: RoundRobin,
    private readonly slot: number,
    private readonly token: string,
    readonly uploadId: string,
  ) {}

  static async open(notifiers: RoundRobin, slot: number, token: string, uploadId: string): Promise<Subscriber> {
    const subscriber = new Subscriber(notifiers, slot, token, uploadId);
    await subscriber.connect();
    return subscriber;
  }

  private async connect(): Promise<void> {
    for (;;) {
      const url = this.notifiers.pick(this.slot);
      const socket = io(url, { auth: { token: this.token }, transports: ['websocket'], reconnection: false, forceNew: true });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('connect_error', reject);
        });
      } catch (error) {
        socket.close();
        // A transport error is a notifier that is down; a refusal by the notifier itself is a failure.
        if ((error as { type?: string }).type !== 'TransportError') throw error;
        this.notifiers.drop(url);
        continue;
      }
      this.socket = socket;
      this.url = url;
      socket.onAny((type: string, event: UploadEvent) => this.seen.push({ type, event, via: url }));
      socket.on('disconnect', (reason) => {
        if (this.closed || reason === 'io client disconnect') return;
        this.failingOver = this.connect().catch((error: unknown) => {
          this.failoverError = error;
        });
      });
      const ack = (await socket.timeout(5000).emitWithAck('subscribe', { uploadId: this.uploadId })) as SubscribeAck;
      this.acks.push({ via: url, ack });
      return;
    }
  }

  /** Resolves once reconnected after losing a notifier (immediately if it never lost one). */
  async failedOver(): Promise<void> {
    await this.failingOver;
    if (this.failoverError) throw this.failoverError;
  }

  async waitFor(test: (s: Seen) => boolean, timeoutMs: number): Promise<void> {
    await until(`an event of upload ${this.uploadId} (saw ${this.seen.map((s) => `${s.type}#${s.event.seq}`).join(' ')})`, () => this.seen.some(test), timeoutMs);
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }
}

/** One upload of a round and what the client saw of it. */
interface FileRun {
  k: number;
  data: Buffer;
  sha256: string;
  id: string;
  chunkCount: number;
  createdOn: string;
  subscriber: Subscriber;
  final: UploadView;
}

describe('scale-out: 2 gateways, 3 chunk-workers, 2 notifiers as separate processes sharing one database, Redis prefix and blob folder', () => {
  let cluster: Cluster;
  let token: string;
  let gateways: RoundRobin;
  let notifiers: RoundRobin;
  const subscribers: Subscriber[] = [];
  /** The first chunk of every file of both rounds: one blob that many uploads, on several workers at once, reference. */
  const sharedHead = randomBytes(CHUNK);
  let round1: FileRun[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      gateways: 2,
      workers: 3,
      notifiers: 2,
      // debug: each worker logs every chunk job it ran, which tells how the work was shared
      roleEnv: { 'chunk-worker': { LOG_LEVEL: 'debug' } },
      env: { LOG_LEVEL: 'info' },
    });
    token = await cluster.token('scale-out');
    gateways = new RoundRobin(cluster.gateways.map((g) => g.url));
    notifiers = new RoundRobin(cluster.notifiers.map((n) => n.url));
  });

  afterAll(async () => {
    for (const s of subscribers) s.close();
    await cluster?.stop();
  });

  const api = (base: string, path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

  /** 2–4 MiB, mostly not a whole number of chunks; every file starts with the shared chunk. */
  function makeFile(k: number): Buffer {
    const size = 2 * MiB + ((k * 397 * KiB + k * 4099) % (2 * MiB));
    return Buffer.concat([sharedHead, randomBytes(size - CHUNK)]);
  }

  /**
   * Uploads FILES files, PARALLEL_FILES at a time: file k is created on gateway k and watched
   * on notifier k (subscribed before its first chunk); its chunk i goes to gateway i. Returns
   * once every upload completed and its subscriber saw events 1..final seq.
   */
  async function uploadRound(round: number, servedBy: Map<string, number>): Promise<FileRun[]> {
    const runs: FileRun[] = [];
    await inParallel(range(FILES), PARALLEL_FILES, async (k) => {
      const data = makeFile(k);
      const digest = sha256(data);
      const { url: createdOn, result: created } = await gateways.call(k, (g) =>
        api(g, '/v1/uploads', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ filename: `round${round}-file${k}.bin`, size: data.length, chunkSize: CHUNK, sha256: digest }),
        }),
      );
      expect(created.status).toBe(201);
      const upload = (await created.json()) as UploadView & { chunkCount: number };
      expect(upload.chunkCount).toBe(Math.ceil(data.length / CHUNK));

      const subscriber = await Subscriber.open(notifiers, k, token, upload.id);
      subscribers.push(subscriber);
      expect(subscriber.acks[0]!.ack).toMatchObject({ ok: true, upload: { id: upload.id, state: 'pending', seq: 0 } });

      await inParallel(range(upload.chunkCount), PARALLEL_CHUNKS, async (i) => {
        const chunk = data.subarray(i * CHUNK, (i + 1) * CHUNK);
        const { url, result: res } = await gateways.call(i, (g) =>
          api(g, `/v1/uploads/${upload.id}/chunks/${i}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/octet-stream', 'content-digest': digestHeader(chunk) },
            body: chunk,
          }),
        );
        if (res.status !== 202) throw new Error(`chunk ${i} of file ${k} on ${url}: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
        servedBy.set(url, (servedBy.get(url) ?? 0) + 1);
      });

      await subscriber.waitFor((s) => s.type === 'upload.completed', 30_000);
      const other = gateways.otherThan(createdOn);
      const final = (await (await api(other, `/v1/uploads/${upload.id}`)).json()) as UploadView;
      expect(final).toMatchObject({
        state: 'completed',
        sha256: digest,
        declaredSha256: digest,
        size: data.length,
        bytesStored: data.length,
        bytesReceived: data.length,
        chunksStored: upload.chunkCount,
        missing: [],
      });
      // Events from several workers may arrive in any order: wait for the ones the completion overtook.
      await until(`events 1..${final.seq} of file ${k}`, () => new Set(subscriber.seen.map((s) => s.event.seq)).size >= final.seq, 10_000);

      const download = await api(other, `/v1/uploads/${upload.id}/content`);
      expect(download.status).toBe(200);
      const body = Buffer.from(await download.arrayBuffer());
      expect(body.length).toBe(data.length);
      expect(body.equals(data)).toBe(true);

      runs.push({ k, data, sha256: digest, id: upload.id, chunkCount: upload.chunkCount, createdOn, subscriber, final });
    });
    // A duplicate would come after the event it repeats: give stragglers a moment before counting.
    await sleep(500);
    return runs.sort((a, b) => a.k - b.k);
  }

  /** Every event of every upload exactly once: seqs 1..final seq, each index stored once, one completion. */
  function expectEveryEventOnce(runs: FileRun[]): void {
    for (const run of runs) {
      const seen = run.subscriber.seen;
      const label = `file ${run.k} (${run.id}): ${seen.map((s) => `${s.type}#${s.event.seq}`).join(' ')}`;
      expect({ label, uploadIds: [...new Set(seen.map((s) => s.event.uploadId))] }).toEqual({ label, uploadIds: [run.id] });
      expect({ label, types: [...new Set(seen.map((s) => s.type))].sort() }).toEqual({ label, types: ['chunk.stored', 'upload.completed', 'upload.progress'] });
      const seqs = seen.map((s) => s.event.seq).sort((a, b) => a - b);
      expect({ label, seqs }).toEqual({ label, seqs: range(run.final.seq, 1) });
      const stored = seen.flatMap((s) => (s.event.type === 'chunk.stored' ? [s.event.index] : [])).sort((a, b) => a - b);
      expect({ label, stored }).toEqual({ label, stored: range(run.chunkCount) });
      expect(seen.filter((s) => s.type === 'upload.progress')).toHaveLength(run.chunkCount);
      const completed = seen.filter((s) => s.type === 'upload.completed');
      expect(completed).toHaveLength(1);
      expect(completed[0]!.event).toMatchObject({ sha256: run.sha256, size: run.data.length, seq: run.final.seq });
      const last = seen.map((s) => s.event).filter((e) => e.type === 'upload.progress').sort((a, b) => a.seq - b.seq).at(-1);
      expect(last).toMatchObject({ chunksStored: run.chunkCount, percent: 100 });
    }
  }

  /** The rows as PostgreSQL holds them: one stored chunk per index, blob reference counts exact. */
  async function expectRowsExact(runs: FileRun[], blobRefs: number): Promise<void> {
    const ids = runs.map((r) => `'${r.id}'`).join(',');
    const perUpload = await cluster.query(
      `select u.id, u.state, u.chunk_count, count(c.*), count(distinct c."index"), count(*) filter (where c.state = 'stored'), u.chunks_stored
       from uploads u left join chunks c on c.upload_id = u.id where u.id in (${ids}) group by u.id order by u.id`,
    );
    expect(perUpload).toHaveLength(runs.length);
    for (const [id, state, chunkCount, rows, indices, stored, chunksStored] of perUpload) {
      const expected = String(runs.find((r) => r.id === id)!.chunkCount);
      expect({ id, state, chunkCount, rows, indices, stored, chunksStored }).toEqual({ id, state: 'completed', chunkCount: expected, rows: expected, indices: expected, stored: expected, chunksStored: expected });
    }
    // The primary key forbids duplicate (upload_id, index) rows; say so rather than assume it.
    expect(await cluster.query(`select upload_id, "index", count(*) from chunks group by 1, 2 having count(*) > 1`)).toEqual([]);
    // Every blob is referenced exactly as often as stored chunk rows name it, and every chunk's blob exists.
    expect(
      await cluster.query(
        `select b.sha256, b.ref_count, count(c.*) from blobs b left join chunks c on c.sha256 = b.sha256 and c.state = 'stored'
         group by b.sha256, b.ref_count having b.ref_count <> count(c.*)`,
      ),
    ).toEqual([]);
    expect(await cluster.query(`select c.upload_id, c."index" from chunks c left join blobs b on b.sha256 = c.sha256 where b.sha256 is null`)).toEqual([]);
    expect(await cluster.query(`select ref_count from blobs where sha256 = '${sha256(sharedHead)}'`)).toEqual([[String(blobRefs)]]);
    // Nothing left in staging once every chunk is stored.
    const staged = (await readdir(join(cluster.blobDir, 'staging'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(staged.map((e) => e.name)).toEqual([]);
  }

  /** Chunk jobs each worker logged as stored for these uploads (the workers run at LOG_LEVEL=debug). */
  function storedBy(workers: ClusterNode[], runs: FileRun[]): Record<string, number> {
    const ids = new Set(runs.map((r) => r.id));
    return Object.fromEntries(
      workers.map((w) => [
        w.name,
        w
          .logs()
          .split('\n')
          .filter((line) => {
            try {
              const entry = JSON.parse(line) as { result?: string; uploadId?: string };
              return entry.result === 'stored' && ids.has(entry.uploadId ?? '');
            } catch {
              return false;
            }
          }).length,
      ]),
    );
  }

  it('20 uploads whose chunks alternate between the gateways complete exactly once, each watched on its own notifier', async () => {
    const started = Date.now();
    const servedBy = new Map<string, number>();
    round1 = await uploadRound(1, servedBy);
    const chunks = round1.reduce((n, r) => n + r.chunkCount, 0);

    expectEveryEventOnce(round1);
    // Each file's subscriber sat on notifier k % 2 and heard everything there.
    for (const run of round1) expect(new Set(run.subscriber.seen.map((s) => s.via))).toEqual(new Set([cluster.notifiers[run.k % 2]!.url]));
    await expectRowsExact(round1, FILES);
    // Chunk i went to gateway i % 2.
    const [g1, g2] = cluster.gateways;
    expect(Object.fromEntries(servedBy)).toEqual({
      [g1!.url]: round1.reduce((n, r) => n + Math.ceil(r.chunkCount / 2), 0),
      [g2!.url]: round1.reduce((n, r) => n + Math.floor(r.chunkCount / 2), 0),
    });
    // Every worker took part, and each chunk was stored by exactly one of them.
    const byWorker = storedBy(cluster.workers, round1);
    expect(Object.values(byWorker).reduce((a, b) => a + b, 0)).toBe(chunks);
    for (const count of Object.values(byWorker)) expect(count).toBeGreaterThan(0);
    expect(cluster.unexpectedExits()).toEqual([]);
    console.log(`scale-out round 1: ${FILES} files, ${chunks} chunks, ${(round1.reduce((n, r) => n + r.data.length, 0) / MiB).toFixed(0)} MiB in ${Date.now() - started} ms; chunks stored per worker ${JSON.stringify(byWorker)}`);
  });

  it('after kill -9 of one gateway, one worker and one notifier, the survivors do the same and the watchers move over', async () => {
    expect(round1).toHaveLength(FILES);
    const [gateway, worker, notifier] = [cluster.gateways[1]!, cluster.workers[2]!, cluster.notifiers[1]!];
    for (const node of [gateway, worker, notifier]) expect(await node.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    // Round 1's watchers on the dead notifier reconnect to the survivor and get a fresh snapshot,
    // which is complete already: nothing more arrives.
    const moved = round1.filter((r) => r.k % 2 === 1).map((r) => r.subscriber);
    await until('the watchers of the dead notifier to reconnect', () => moved.every((s) => s.acks.length === 2), 10_000);
    for (const s of moved) await s.failedOver();
    expect(notifiers.dropped()).toEqual([notifier.url]);
    for (const run of round1.filter((r) => r.k % 2 === 1)) {
      expect(run.subscriber.acks[1]).toMatchObject({ via: cluster.notifiers[0]!.url, ack: { ok: true, upload: { id: run.id, state: 'completed', seq: run.final.seq, sha256: run.sha256 } } });
    }
    const eventsBefore = round1.map((r) => r.subscriber.seen.length);
    for (const run of round1) run.subscriber.close();

    const started = Date.now();
    const servedBy = new Map<string, number>();
    const round2 = await uploadRound(2, servedBy);
    const chunks = round2.reduce((n, r) => n + r.chunkCount, 0);

    expect(gateways.dropped()).toEqual([gateway.url]);
    expect(Object.fromEntries(servedBy)).toEqual({ [cluster.gateways[0]!.url]: chunks });
    for (const run of round2) expect(new Set(run.subscriber.seen.map((s) => s.via))).toEqual(new Set([cluster.notifiers[0]!.url]));
    expectEveryEventOnce(round2);
    expect(round1.map((r) => r.subscriber.seen.length)).toEqual(eventsBefore);
    await expectRowsExact([...round1, ...round2], 2 * FILES);
    const byWorker = storedBy(cluster.workers, round2);
    expect(byWorker[worker.name]).toBe(0);
    expect(Object.values(byWorker).reduce((a, b) => a + b, 0)).toBe(chunks);
    for (const survivor of cluster.workers.filter((w) => w !== worker)) expect(byWorker[survivor.name]).toBeGreaterThan(0);
    expect(cluster.unexpectedExits()).toEqual([]);
    console.log(`scale-out round 2 (1 gateway, 2 workers, 1 notifier left): ${chunks} chunks in ${Date.now() - started} ms; chunks stored per worker ${JSON.stringify(byWorker)}`);
  });
});
