import type { StoreChunkJob } from '../jobs/jobs';

/** The job queues between the gateway and the chunk-worker. */
export interface ChunkQueue {
  /** Queues one staged chunk for hashing and commit; resolves once the job is durably queued. */
  enqueueStoreChunk(job: StoreChunkJob): Promise<void>;
  /** Queues the finalize job of an upload. Idempotent: one job per upload id. */
  enqueueFinalize(uploadId: string): Promise<void>;
}
