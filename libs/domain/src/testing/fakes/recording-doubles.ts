import type { ChunkQueue, Clock, IdGenerator, ProgressPublisher } from '../../ports';
import type { StoreChunkJob } from '../../jobs/jobs';
import type { UploadEvent } from '../../events/upload-event';

/** A queue that only remembers what was enqueued. */
export class RecordingChunkQueue implements ChunkQueue {
  readonly storeJobs: StoreChunkJob[] = [];
  readonly finalizeJobs = new Set<string>();
  failNext: Error | null = null;

  async enqueueStoreChunk(job: StoreChunkJob): Promise<void> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    this.storeJobs.push(job);
  }

  async enqueueFinalize(uploadId: string): Promise<void> {
    this.finalizeJobs.add(uploadId);
  }
}

/** A publisher that keeps every event, in order. */
export class RecordingPublisher implements ProgressPublisher {
  readonly events: UploadEvent[] = [];

  async publish(events: UploadEvent[]): Promise<void> {
    this.events.push(...events);
  }

  ofType<T extends UploadEvent['type']>(type: T): Extract<UploadEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<UploadEvent, { type: T }> => e.type === type);
  }
}

/** A clock that stands still until moved. */
export class FixedClock implements Clock {
  constructor(private current = new Date('2026-01-01T00:00:00.000Z')) {}

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** Predictable ids: uploads are UUID-shaped and sort by creation. */
export class SequentialIds implements IdGenerator {
  private n = 0;

  uploadId(): string {
    this.n += 1;
    return `00000000-0000-7000-8000-${this.n.toString(16).padStart(12, '0')}`;
  }

  token(): string {
    this.n += 1;
    return `t${this.n}`;
  }
}
