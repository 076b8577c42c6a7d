import type { UploadEvent } from '../events/upload-event';

/** What the transport knows about one delivered event, beside the event itself. */
export interface EventDelivery {
  /** When the publisher sent it (its clock, epoch ms), or null when the message does not say (an older publisher). */
  publishedAt: number | null;
}

/** Receives every upload event published by any process. */
export interface EventSubscriber {
  /** Starts delivering events to `handler`; resolves once subscribed. The result stops delivery. */
  subscribe(handler: (event: UploadEvent, delivery?: EventDelivery) => void): Promise<() => Promise<void>>;
}
