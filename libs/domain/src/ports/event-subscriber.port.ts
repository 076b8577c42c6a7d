import type { UploadEvent } from '../events/upload-event';

/** Receives every upload event published by any process. */
export interface EventSubscriber {
  /** Starts delivering events to `handler`; resolves once subscribed. The result stops delivery. */
  subscribe(handler: (event: UploadEvent) => void): Promise<() => Promise<void>>;
}
