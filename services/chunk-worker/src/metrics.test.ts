import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { StagingLostError } from '@tessera/domain';
import { failureReason, instrumented, uploadIdOfJob, workerMetrics } from './metrics';

const job = (attemptsMade: number, attempts = 3): Job => ({ attemptsMade, opts: { attempts } }) as unknown as Job;

async function sample(metrics: ReturnType<typeof workerMetrics>, line: RegExp): Promise<number | undefined> {
  const found = (await metrics.registry.metrics()).split('\n').find((l) => line.test(l));
  return found === undefined ? undefined : Number(found.split(' ').pop());
}

describe('chunk-worker metrics', () => {
  it('names failure reasons by code, outage, payload, or unexpected', () => {
    const stagingLost = new StagingLostError({ uploadId: 'u', index: 0, size: 1, stagingToken: 't', sha256: 'a'.repeat(64) }, 'gone');
    expect(failureReason(stagingLost)).toBe('staging-lost');
    expect(failureReason(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('dependency-unavailable');
    expect(failureReason(new DelayedError())).toBe('dependency-unavailable');
    expect(failureReason(new UnrecoverableError('malformed chunks job payload: size: required'))).toBe('malformed-payload');
    expect(failureReason(new TypeError('undefined is not a function'))).toBe('unexpected');
    expect(failureReason(Object.assign(new Error('x'), { code: 'Not A Slug!' }))).toBe('unexpected');
    expect(failureReason('a string')).toBe('unexpected');
  });

  it('times chunk jobs by outcome and counts failed attempts by reason', async () => {
    const metrics = workerMetrics();
    const ok = instrumented(metrics, 'chunks', async () => 'stored' as const);
    const boom = instrumented(metrics, 'chunks', async () => {
      throw new TypeError('bug');
    });
    await ok(job(0));
    await ok(job(0));
    await expect(boom(job(0))).rejects.toThrow('bug');
    await expect(boom(job(2))).rejects.toThrow('bug');
    await expect(instrumented(metrics, 'finalize', async () => Promise.reject(new DelayedError()))(job(0))).rejects.toBeInstanceOf(DelayedError);

    expect(await sample(metrics, /^tessera_chunk_processing_seconds_count\{.*outcome="stored"/)).toBe(2);
    expect(await sample(metrics, /^tessera_chunk_processing_seconds_count\{.*outcome="retried"/)).toBe(1);
    expect(await sample(metrics, /^tessera_chunk_processing_seconds_count\{.*outcome="failed"/)).toBe(1);
    expect(await sample(metrics, /^tessera_job_failures_total\{queue="chunks",reason="unexpected"/)).toBe(2);
    expect(await sample(metrics, /^tessera_job_failures_total\{queue="finalize",reason="dependency-unavailable"/)).toBe(1);
  });

  it('reads the upload id out of chunk and finalize job ids', () => {
    const id = '0190aaaa-0000-7000-8000-000000000001';
    expect(uploadIdOfJob(`${id}_3_tok`)).toBe(id);
    expect(uploadIdOfJob(id)).toBe(id);
    expect(uploadIdOfJob('repeat:sweep:123')).toBeUndefined();
    expect(uploadIdOfJob(undefined)).toBeUndefined();
  });
});
