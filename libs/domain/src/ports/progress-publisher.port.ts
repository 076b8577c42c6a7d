import type { UploadEvent } from '../events/upload-event';

/** Fans upload events out to the notifiers. Delivery is best effort: snapshots heal gaps. */
export interface ProgressPublisher {
  publish(events: UploadEvent[]): Promise<void>;
}
