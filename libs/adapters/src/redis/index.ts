export { RedisProgressPublisher } from './redis-progress-publisher';
export { RedisEventSubscriber, eventChannel, type RedisEventSubscriberOptions } from './redis-event-subscriber';
