import { isUuid, type PartialKey, type StagingKey } from '@tessera/domain';

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const OFFSET = /^(0|[1-9][0-9]{0,15})$/;
/** Characters S3 documents as safe in keys, `/` as the folder separator. */
const PREFIX = /^([A-Za-z0-9!_.*'()-]+\/)*$/;

/**
 * The bucket's key layout, every segment validated before a key is built:
 * `<prefix>staging/<uploadId>/<index>-<token>` for staged attempts,
 * `<prefix>staging/<uploadId>/<index>.partial/<offset>` for the segments of a partial chunk,
 * `<prefix>blobs/sha256/<aa>/<bb>/<hash>` for committed content.
 */
export class S3Keys {
  readonly prefix: string;
  readonly stagingRoot: string;
  readonly blobRoot: string;

  constructor(prefix = '') {
    this.prefix = normalizePrefix(prefix);
    this.stagingRoot = `${this.prefix}staging/`;
    this.blobRoot = `${this.prefix}blobs/sha256/`;
  }

  /** `<prefix>staging/<uploadId>/`: everything staged for one upload. */
  stagingOf(uploadId: string): string {
    if (!isUuid(uploadId)) throw new TypeError('Refusing to build a staging key: uploadId is not a UUID.');
    return `${this.stagingRoot}${uploadId}/`;
  }

  staged(key: StagingKey): string {
    checkIndex(key.index, 'staging');
    if (!TOKEN.test(key.token)) throw new TypeError('Refusing to build a staging key: token must be 1..64 characters of [A-Za-z0-9_-].');
    return `${this.stagingOf(key.uploadId)}${key.index}-${key.token}`;
  }

  /** `<prefix>staging/<uploadId>/<index>.partial/`: the segments of one partial chunk. */
  partialOf(key: PartialKey): string {
    checkIndex(key.index, 'partial');
    return `${this.stagingOf(key.uploadId)}${key.index}.partial/`;
  }

  segment(key: PartialKey, offset: number): string {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TypeError('Refusing to build a segment key: offset is not a non-negative integer.');
    return `${this.partialOf(key)}${offset}`;
  }

  /** The offset a segment key names (below `partialOf(key)`), or null for anything else. */
  segmentOffset(partialPrefix: string, objectKey: string): number | null {
    if (!objectKey.startsWith(partialPrefix)) return null;
    const name = objectKey.slice(partialPrefix.length);
    return OFFSET.test(name) ? Number(name) : null;
  }

  blob(sha256: string): string {
    if (!SHA256.test(sha256)) throw new TypeError('Refusing to build a blob key: sha256 must be 64 lowercase hex digits.');
    return `${this.blobRoot}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  /** The SHA-256 a blob key names, or null for a key that is not a well-formed blob key. */
  blobSha256(objectKey: string): string | null {
    const sha256 = objectKey.slice(objectKey.lastIndexOf('/') + 1);
    return SHA256.test(sha256) && objectKey === this.blob(sha256) ? sha256 : null;
  }

  /** The upload id of a `<prefix>staging/<uploadId>/` common prefix, or null. */
  stagingUploadId(commonPrefix: string): string | null {
    if (!commonPrefix.startsWith(this.stagingRoot) || !commonPrefix.endsWith('/')) return null;
    const id = commonPrefix.slice(this.stagingRoot.length, -1);
    return isUuid(id) ? id : null;
  }
}

/** `''` stays empty; anything else ends with exactly one `/` (`tessera` → `tessera/`). */
export function normalizePrefix(prefix: string): string {
  if (prefix === '') return '';
  const normalized = prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (!PREFIX.test(normalized) || normalized.split('/').some((part) => part === '.' || part === '..') || normalized.length > 512) {
    throw new TypeError(`S3 key prefix "${prefix}" is invalid: use folders of [A-Za-z0-9!_.*'()-] separated by single "/", no leading "/", no "." or ".." folder.`);
  }
  return normalized;
}

function checkIndex(index: number, what: string): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new TypeError(`Refusing to build a ${what} key: index is not a non-negative integer.`);
}
