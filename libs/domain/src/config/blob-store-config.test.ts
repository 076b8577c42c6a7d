import { z } from 'zod';
import { blobStoreEnvSchema, commonEnvSchema, ConfigError, parseEnv, toBlobStoreConfig } from './config.schemas';

const schema = commonEnvSchema.extend(blobStoreEnvSchema.shape);
const load = (env: Record<string, string | undefined>) => toBlobStoreConfig(parseEnv('svc', schema, env), 'svc');

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the environment was accepted');
}

describe('blob store configuration', () => {
  it('defaults to the filesystem store in BLOB_DIR, whatever S3_* say', () => {
    expect(load({})).toEqual({ kind: 'fs', dir: './data/blobs' });
    expect(load({ BLOB_DIR: '/data', S3_BUCKET: 'ignored' })).toEqual({ kind: 'fs', dir: '/data' });
  });

  it('reads every S3 variable', () => {
    expect(
      load({
        BLOB_STORE: 's3',
        S3_BUCKET: 'tessera-blobs',
        S3_ENDPOINT: 'http://minio:9000',
        S3_REGION: 'eu-west-3',
        S3_ACCESS_KEY_ID: 'key',
        S3_SECRET_ACCESS_KEY: 'secret',
        S3_FORCE_PATH_STYLE: 'true',
        S3_PREFIX: 'prod/tessera/',
      }),
    ).toEqual({
      kind: 's3',
      bucket: 'tessera-blobs',
      endpoint: 'http://minio:9000',
      region: 'eu-west-3',
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
      forcePathStyle: true,
      prefix: 'prod/tessera/',
    });
  });

  it('uses AWS S3 in us-east-1, virtual-host style, the default credential chain and no prefix by default', () => {
    expect(load({ BLOB_STORE: 's3', S3_BUCKET: 'b-1', S3_ENDPOINT: '' })).toEqual({
      kind: 's3',
      bucket: 'b-1',
      endpoint: null,
      region: 'us-east-1',
      credentials: null,
      forcePathStyle: false,
      prefix: '',
    });
  });

  it('refuses s3 without S3_BUCKET, saying what it is for', () => {
    expect(() => load({ BLOB_STORE: 's3' })).toThrow(/^svc cannot start[\s\S]*- S3_BUCKET: required when BLOB_STORE=s3/);
  });

  it('refuses one credential without the other', () => {
    expect(problemsOf({ BLOB_STORE: 's3', S3_BUCKET: 'bucket', S3_ACCESS_KEY_ID: 'key' })).toEqual([expect.stringMatching(/^S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both/)]);
  });

  it.each([
    ['BLOB_STORE', 'gcs'],
    ['S3_BUCKET', 'Upper_Case'],
    ['S3_ENDPOINT', 'ftp://minio'],
    ['S3_FORCE_PATH_STYLE', 'yes'],
    ['S3_PREFIX', '/leading'],
    ['S3_PREFIX', 'a//b'],
    ['S3_PREFIX', 'a/../b'],
    ['S3_REGION', 'Not A Region'],
  ])('refuses %s=%s', (name, value) => {
    expect(problemsOf({ BLOB_STORE: 's3', S3_BUCKET: 'bucket', [name]: value }).map((p) => p.split(':')[0])).toEqual([name]);
  });

  it('keeps the schema a plain object, so services can extend it with .shape', () => {
    expect(blobStoreEnvSchema).toBeInstanceOf(z.ZodObject);
  });
});
