import type { BlobStore, BlobStoreConfig } from '@tessera/domain';
import { FsBlobStore } from './fs';
import { S3BlobStore } from './s3';

/**
 * The blob store the configuration names, ready to use: the `fs` folders are created; an `s3`
 * bucket must already exist (readiness checks it with `ping`).
 */
export async function createBlobStore(config: BlobStoreConfig): Promise<BlobStore> {
  switch (config.kind) {
    case 'fs': {
      const store = new FsBlobStore(config.dir);
      await store.init();
      return store;
    }
    case 's3':
      return new S3BlobStore({
        bucket: config.bucket,
        region: config.region,
        endpoint: config.endpoint,
        forcePathStyle: config.forcePathStyle,
        credentials: config.credentials,
        prefix: config.prefix,
      });
  }
}
