// Driven adapters shared by the services. Each folder's barrel lists its public names.
export * from './postgres';
export * from './fs';
export * from './s3';
export { createBlobStore } from './blob-store-factory';
export * from './queue';
export * from './redis';
export * from './system';
export * from './auth';
export * from './errors';
export * from './metrics';
