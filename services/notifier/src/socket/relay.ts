import type { EventSubscriber } from '@tessera/domain';
import type { NotifierMetrics } from '../metrics';
import { roomOf, type NotifierIo } from './protocol';

/**
 * Emits every upload event to the room of its upload on this process's sockets only;
 * every notifier replica receives every event from Redis, so none needs to forward.
 * Resolves once subscribed, with the function that stops the relay.
 */
export function relayEvents(io: NotifierIo, events: EventSubscriber, metrics?: Pick<NotifierMetrics, 'relayed'>): Promise<() => Promise<void>> {
  return events.subscribe((event, delivery) => {
    io.to(roomOf(event.uploadId)).emit(event.type, event);
    metrics?.relayed(event, delivery);
  });
}
