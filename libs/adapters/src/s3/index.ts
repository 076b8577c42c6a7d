export { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store';
export type { S3ConnectionOptions } from './s3-bucket';
