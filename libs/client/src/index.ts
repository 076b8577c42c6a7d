// @tessera/client: Tessera's native API and progress events for Node and browsers.
export { TesseraClient, type TesseraClientOptions } from './client';
export { TesseraError, type Problem } from './errors';
export { UploadTask, type UploadOptions, type UploadTaskState, type UploadTaskEvents, type StoredProgress } from './upload-task';
export { toChunkSource, type ChunkSource, type UploadSource } from './sources';
export type { RetryPolicy } from './http';
export type { UploadView, UploadState, UploadEvent, CreateUploadInput, ListQuery, ListPage } from './types';
