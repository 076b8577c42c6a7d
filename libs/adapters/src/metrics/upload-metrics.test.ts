import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { AbortUpload, AcceptChunk, ChunkIntake, CreateUpload, FinalizeUpload, StoreChunk, SweepUploads, type UploadSettings } from '@tessera/domain';
import { FixedClock, InMemoryBlobStore, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '@tessera/domain/testing';
import { createMetricsRegistry, type Registry } from './registry';
import { MeteredUploadRepository, receivedBytesObserver, uploadMetrics } from './upload-metrics';

const KiB = 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const settings: UploadSettings = { maxUploadBytes: 1024 * KiB, defaultChunkSize: 64 * KiB, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000 };

/** `name{labels}` → value, for every sample of the registry (without the service label). */
async function samples(registry: Registry): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const line of (await registry.metrics()).split('\n')) {
    const match = /^(tessera_\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match) result[`${match[1]}{${match[2]!.replace(/,?service="[^"]*"/, '')}}`] = Number(match[3]);
  }
  return result;
}

/** The domain's use cases on in-memory adapters, the repository and the intake metered as in the services. */
function harness() {
  const registry = createMetricsRegistry('test', { defaultMetrics: false });
  const metrics = uploadMetrics(registry, { intake: true, outcomes: ['completed', 'failed', 'aborted', 'expired'] });
  const repo = new MeteredUploadRepository(new InMemoryUploadRepository(), metrics);
  const blobs = new InMemoryBlobStore();
  const queue = new RecordingChunkQueue();
  const publisher = new RecordingPublisher();
  const clock = new FixedClock();
  const ids = new SequentialIds();
  const intake = new ChunkIntake(repo, blobs, queue, ids, clock, settings, receivedBytesObserver(metrics, 'native'));
  const finalize = new FinalizeUpload(repo, blobs, publisher, clock);
  const store = new StoreChunk(repo, blobs, queue, publisher, clock, finalize);
  const sut = {
    create: new CreateUpload(repo, ids, clock, settings),
    accept: new AcceptChunk(repo, intake, clock),
    abort: new AbortUpload(repo, blobs, publisher, clock),
    sweep: new SweepUploads(repo, blobs, publisher, clock, { batchSize: 10, unrecordedBlobGraceMs: 60_000 }),
  };
  const send = async (uploadId: string, data: Buffer) =>
    sut.accept.execute({ ownerId: 'alice', uploadId, index: 0, contentLength: data.length, body: Readable.from([data]) });
  /** Runs every queued job, as the worker would, twice (a redelivery must not count again). */
  const drain = async () => {
    const jobs = queue.storeJobs.splice(0);
    for (const job of [...jobs, ...jobs]) await store.execute(job, { finalAttempt: false });
    for (const id of [...queue.finalizeJobs, ...queue.finalizeJobs]) await finalize.execute(id);
    queue.finalizeJobs.clear();
  };
  return { registry, repo, clock, queue, sut, send, drain };
}

describe('upload metrics', () => {
  it('starts every series the process reports at 0', async () => {
    expect(await samples(harness().registry)).toEqual({
      'tessera_uploads_created_total{protocol="native"}': 0,
      'tessera_uploads_created_total{protocol="form"}': 0,
      'tessera_uploads_created_total{protocol="tus"}': 0,
      'tessera_uploads_finished_total{outcome="completed"}': 0,
      'tessera_uploads_finished_total{outcome="failed"}': 0,
      'tessera_uploads_finished_total{outcome="aborted"}': 0,
      'tessera_uploads_finished_total{outcome="expired"}': 0,
      'tessera_received_bytes_total{protocol="native"}': 0,
      'tessera_received_bytes_total{protocol="form"}': 0,
      'tessera_received_bytes_total{protocol="tus"}': 0,
    });
  });

  it('counts creations, received bytes and every way an upload ends, each transition once', async () => {
    const h = harness();
    const good = randomBytes(40 * KiB);
    const bad = randomBytes(10 * KiB);
    const completed = await h.sut.create.execute('alice', { filename: 'a', size: good.length, sha256: sha256(good) });
    const failed = await h.sut.create.execute('alice', { filename: 'b', size: bad.length, sha256: 'a'.repeat(64) });
    const aborted = await h.sut.create.execute('alice', { filename: 'c', size: 100 });
    const expired = await h.sut.create.execute('alice', { filename: 'd', size: 100 });
    await h.sut.create.execute('alice', { filename: 'empty', size: 0 });
    await h.send(completed.id, good);
    await h.send(failed.id, bad);
    await h.drain();
    await h.sut.abort.execute('alice', aborted.id);
    await h.sut.abort.execute('alice', aborted.id).catch(() => undefined);
    h.clock.advance(settings.uploadTtlMs + 1);
    await h.sut.sweep.execute();
    await h.sut.sweep.execute();

    expect(await samples(h.registry)).toMatchObject({
      'tessera_uploads_created_total{protocol="native"}': 5,
      'tessera_received_bytes_total{protocol="native"}': good.length + bad.length,
      'tessera_uploads_finished_total{outcome="completed"}': 2,
      'tessera_uploads_finished_total{outcome="failed"}': 1,
      'tessera_uploads_finished_total{outcome="aborted"}': 1,
      'tessera_uploads_finished_total{outcome="expired"}': 1,
    });
    expect(expired.state).toBe('pending');
  });

  it('counts no bytes for a chunk whose job could not be queued', async () => {
    const h = harness();
    const data = randomBytes(10 * KiB);
    const { id } = await h.sut.create.execute('alice', { filename: 'a', size: data.length });
    h.queue.failNext = new Error('redis down');
    await expect(h.send(id, data)).rejects.toThrow('redis down');
    expect((await samples(h.registry))['tessera_received_bytes_total{protocol="native"}']).toBe(0);
    await h.send(id, data);
    expect((await samples(h.registry))['tessera_received_bytes_total{protocol="native"}']).toBe(data.length);
  });

  it('counts nothing for a creation refused by the owner limit', async () => {
    const registry = createMetricsRegistry('test', { defaultMetrics: false });
    const metrics = uploadMetrics(registry);
    const repo = new MeteredUploadRepository(new InMemoryUploadRepository(), metrics);
    const create = new CreateUpload(repo, new SequentialIds(), new FixedClock(), { ...settings, maxUnfinishedPerOwner: 1 });
    await create.execute('alice', { filename: 'a', size: 10 });
    await expect(create.execute('alice', { filename: 'b', size: 10 })).rejects.toMatchObject({ code: 'too-many-uploads' });
    expect(await samples(registry)).toEqual({ 'tessera_uploads_created_total{protocol="native"}': 1 });
  });
});
