import type { StoreChunkJob } from '../jobs/jobs';
import { FixedClock, InMemoryBlobStore, InMemoryTusRepository, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '../testing';
import { ChunkIntake } from '../use-cases/chunk-intake';
import { FinalizeUpload } from '../use-cases/finalize-upload.use-case';
import { ReadContent } from '../use-cases/read-content.use-case';
import { StoreChunk } from '../use-cases/store-chunk.use-case';
import { ConcatenateFinals } from './concatenate-finals.use-case';
import { CreateTusUpload } from './create-tus-upload.use-case';
import { TusStatus } from './tus-status.use-case';
import type { TusSettings } from './tus-settings';
import { WriteTusBytes } from './write-tus-bytes.use-case';

/**
 * For the tus use-case tests: the use cases wired as the gateway wires them, over in-memory
 * adapters, plus the worker's half to run the queued jobs.
 */
export function tusPipeline(settings: TusSettings) {
  const repo = new InMemoryUploadRepository();
  const tus = new InMemoryTusRepository(repo);
  const clock = new FixedClock();
  const blobs = new InMemoryBlobStore(clock);
  const queue = new RecordingChunkQueue();
  const publisher = new RecordingPublisher();
  const ids = new SequentialIds();
  const intake = new ChunkIntake(repo, blobs, queue, ids, clock, settings);
  const concatenate = new ConcatenateFinals(tus, queue, clock);
  const finalize = new FinalizeUpload(repo, blobs, publisher, clock, (upload) => concatenate.partCompleted(upload));
  const store = new StoreChunk(repo, blobs, queue, publisher, clock, finalize);
  const sut = {
    create: new CreateTusUpload(repo, tus, concatenate, ids, clock, settings),
    write: new WriteTusBytes(repo, tus, blobs, intake, queue, ids, clock, settings),
    status: new TusStatus(repo, tus, clock),
    read: new ReadContent(repo, blobs),
    concatenate,
  };
  const ran = new Set<StoreChunkJob>();
  /** Runs one store job as the worker would; `drain` leaves it alone afterwards. */
  const runJob = (job: StoreChunkJob, finalAttempt: boolean) => {
    ran.add(job);
    return store.execute(job, { finalAttempt });
  };
  /** Runs every store job not run yet, then every finalize job, until none is left (queue.storeJobs keeps the record). */
  const drain = async () => {
    const pending = () => queue.storeJobs.filter((job) => !ran.has(job));
    while (pending().length > 0 || queue.finalizeJobs.size > 0) {
      for (const job of pending()) await runJob(job, false);
      for (const id of [...queue.finalizeJobs]) {
        queue.finalizeJobs.delete(id);
        await finalize.execute(id);
      }
    }
  };
  return { settings, repo, tus, clock, blobs, queue, sut, runJob, drain };
}
