export { BullmqChunkQueue, storeJobId, type BullmqChunkQueueOptions } from './bullmq-chunk-queue';
export { redisConnection } from './redis-connection';
export { openQueueHandles, type QueueHandles, type QueueHandlesOptions } from './queue-handles';
