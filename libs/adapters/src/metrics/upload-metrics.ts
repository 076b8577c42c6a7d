import {
  UPLOAD_PROTOCOLS,
  type ChunkClaim,
  type ChunkRejectedInput,
  type ChunkStoredInput,
  type FinishInput,
  type IntakeObserver,
  type ListQuery,
  type UploadProps,
  type UploadProtocol,
  type UploadRepository,
} from '@tessera/domain';
import { Counter, type Registry } from 'prom-client';
import { metricOf } from './registry';

/** How an upload ended, as `tessera_uploads_finished_total{outcome}` counts it. */
export const UPLOAD_OUTCOMES = ['completed', 'failed', 'aborted', 'expired'] as const;
export type UploadOutcome = (typeof UPLOAD_OUTCOMES)[number];

export interface UploadMetrics {
  /** `tessera_uploads_created_total{protocol}` */
  readonly created: Counter<'protocol'>;
  /** `tessera_uploads_finished_total{outcome}` */
  readonly finished: Counter<'outcome'>;
  /** `tessera_received_bytes_total{protocol}` */
  readonly receivedBytes: Counter<'protocol'>;
}

export interface UploadMetricsOptions {
  /** Outcomes this process settles, exported as 0 from the start so `rate()` sees their first one. */
  outcomes?: readonly UploadOutcome[];
  /** Whether this process takes uploads in (the gateway): its protocol series start at 0 too. */
  intake?: boolean;
}

/** The upload counters of `registry`. */
export function uploadMetrics(registry: Registry, options: UploadMetricsOptions = {}): UploadMetrics {
  const counter = <L extends string>(name: string, help: string, label: L): Counter<L> =>
    metricOf(registry, name, () => new Counter({ name, help, labelNames: [label], registers: [registry] }));
  const metrics: UploadMetrics = {
    created: counter('tessera_uploads_created_total', 'Uploads created, by protocol (native, form, tus).', 'protocol'),
    finished: counter('tessera_uploads_finished_total', 'Uploads that reached a final state, by outcome (completed, failed, aborted, expired).', 'outcome'),
    receivedBytes: counter(
      'tessera_received_bytes_total',
      'Bytes of chunks durably staged and queued for the worker, by protocol (native, form, tus).',
      'protocol',
    ),
  };
  for (const outcome of options.outcomes ?? []) metrics.finished.inc({ outcome }, 0);
  if (options.intake) {
    for (const protocol of UPLOAD_PROTOCOLS) {
      metrics.created.inc({ protocol }, 0);
      metrics.receivedBytes.inc({ protocol }, 0);
    }
  }
  return metrics;
}

/**
 * Counts the bytes of each chunk the intake staged and queued as received over `protocol`
 * (one observer per protocol's use case). A metrics failure never fails an upload.
 */
export function receivedBytesObserver(metrics: UploadMetrics, protocol: UploadProtocol): IntakeObserver {
  return {
    chunkReceived({ bytes }) {
      try {
        metrics.receivedBytes.inc({ protocol }, bytes);
      } catch {
        // a counter cannot fail for a valid number; nothing to do if it ever does
      }
    },
  };
}

/**
 * The `UploadRepository` of a process, counting the transitions it makes: uploads created
 * (by protocol) and uploads finished (by outcome). Counted from what the repository
 * reports it changed, each transition once, however often a job is redelivered.
 */
export class MeteredUploadRepository implements UploadRepository {
  constructor(
    private readonly inner: UploadRepository,
    private readonly metrics: UploadMetrics,
  ) {}

  async create(upload: UploadProps, limits?: { maxUnfinishedPerOwner?: number }): Promise<'created' | 'owner-limit'> {
    const result = await this.inner.create(upload, limits);
    if (result === 'created') {
      this.metrics.created.inc({ protocol: upload.protocol });
      // An empty upload is settled as it is created.
      if (upload.state === 'completed' || upload.state === 'failed') this.metrics.finished.inc({ outcome: upload.state });
    }
    return result;
  }

  async complete(input: FinishInput): ReturnType<UploadRepository['complete']> {
    const result = await this.inner.complete(input);
    if (result.changed) this.metrics.finished.inc({ outcome: 'completed' });
    return result;
  }

  async fail(input: FinishInput): ReturnType<UploadRepository['fail']> {
    const result = await this.inner.fail(input);
    if (result.changed) this.metrics.finished.inc({ outcome: 'failed' });
    return result;
  }

  async close(input: { uploadId: string; state: 'aborted' | 'expired'; now: Date }, deleteBlob: (sha256: string) => Promise<void>): Promise<UploadProps | null> {
    const closed = await this.inner.close(input, deleteBlob);
    if (closed) this.metrics.finished.inc({ outcome: input.state });
    return closed;
  }

  // Everything else passes straight through.
  findById(id: string) {
    return this.inner.findById(id);
  }
  findChunk(uploadId: string, index: number) {
    return this.inner.findChunk(uploadId, index);
  }
  findSnapshot(id: string) {
    return this.inner.findSnapshot(id);
  }
  list(query: ListQuery) {
    return this.inner.list(query);
  }
  claimChunk(claim: ChunkClaim) {
    return this.inner.claimChunk(claim);
  }
  markChunkReceived(input: Parameters<UploadRepository['markChunkReceived']>[0]) {
    return this.inner.markChunkReceived(input);
  }
  releaseChunkClaim(input: Parameters<UploadRepository['releaseChunkClaim']>[0]) {
    return this.inner.releaseChunkClaim(input);
  }
  recordChunkStored(input: ChunkStoredInput, ensureBlob: () => Promise<void>) {
    return this.inner.recordChunkStored(input, ensureBlob);
  }
  recordChunkRejected(input: ChunkRejectedInput) {
    return this.inner.recordChunkRejected(input);
  }
  setLength(input: Parameters<UploadRepository['setLength']>[0]) {
    return this.inner.setLength(input);
  }
  listStoredChunks(uploadId: string) {
    return this.inner.listStoredChunks(uploadId);
  }
  discard(uploadId: string) {
    return this.inner.discard(uploadId);
  }
  listExpired(input: Parameters<UploadRepository['listExpired']>[0]) {
    return this.inner.listExpired(input);
  }
  deleteUnrecordedBlob(sha256: string, deleteFile: () => Promise<void>) {
    return this.inner.deleteUnrecordedBlob(sha256, deleteFile);
  }
  ping() {
    return this.inner.ping();
  }
}
