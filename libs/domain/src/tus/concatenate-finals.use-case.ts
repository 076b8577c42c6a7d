import type { ChunkQueue, Clock, TusRepository } from '../ports';
import type { UploadProps } from '../upload/upload.types';

/**
 * Turns a tus final upload into an ordinary finalizing upload once all its parts are
 * completed: its chunks become the parts' chunks (the same blobs, no byte copied) and the
 * finalize job hashes the whole. Tried when the final is created and each time a part
 * completes; whichever comes last assembles it, and assembling twice is a no-op.
 */
export class ConcatenateFinals {
  constructor(
    private readonly tus: TusRepository,
    private readonly queue: ChunkQueue,
    private readonly clock: Clock,
  ) {}

  /** Assembles the final if its parts are all completed; true when it did. */
  async tryAssemble(finalId: string): Promise<boolean> {
    const assembled = await this.tus.assembleFinal({ uploadId: finalId, now: this.clock.now() });
    if (assembled) await this.queue.enqueueFinalize(finalId);
    return assembled !== null;
  }

  /** Called when any upload completes: assembles the finals that were waiting for it. */
  async partCompleted(upload: UploadProps): Promise<void> {
    if (upload.protocol !== 'tus' || upload.state !== 'completed') return;
    for (const finalId of await this.tus.finalsAwaiting(upload.id)) await this.tryAssemble(finalId);
  }
}
