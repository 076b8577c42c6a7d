export type * from './upload-repository.port';
export type * from './blob-store.port';
export type * from './chunk-queue.port';
export type * from './progress-publisher.port';
export type * from './clock.port';
export type * from './id-generator.port';
export type * from './token-verifier.port';
export type * from './event-subscriber.port';
