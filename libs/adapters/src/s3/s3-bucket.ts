import './sdk-env';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import type { ByteRange } from '@tessera/domain';

/** Where the bucket is and how to reach it. */
export interface S3ConnectionOptions {
  bucket: string;
  /** Default `us-east-1` (what MinIO and s3rver expect). */
  region?: string;
  /** An S3-compatible server (MinIO, R2, s3rver); absent: AWS S3 of `region`. */
  endpoint?: string | null;
  /** `bucket` in the path rather than the host name: MinIO and s3rver need it. */
  forcePathStyle?: boolean;
  /** Absent or null: the AWS default chain (environment, profile, web identity, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | null;
  /** Connections kept per process (every staged chunk in flight holds one). Default 256. */
  maxSockets?: number;
  /** How long opening a connection may take, ms (default 5000): an unreachable store fails fast. */
  connectionTimeoutMs?: number;
  /** How long a connection may stay silent mid-request or mid-response, ms (default 30000). */
  socketTimeoutMs?: number;
  /**
   * How long one operation may wait for the store's answer, retries included, ms (default
   * 60000). A streamed body is not timed while it flows, only the wait for the answer once it
   * has been sent; a stall on the wire in either direction is the socket timeout's.
   */
  operationTimeoutMs?: number;
}

/** Bytes of one object, streamed. */
export interface ObjectBody {
  body: Readable;
  /** Bytes the body will yield. */
  length: number;
}

const STREAMING_RETRY_WARNING = /non-retryable streaming request/;

/**
 * The SDK logs through console by default: every failed command (an expected 404 included) at
 * `error`, and a failed streaming upload at `warn`. Failures reach the caller as errors, so
 * those lines are dropped; other warnings (socket pool saturation, say) still reach the console.
 */
const sdkLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (...args: unknown[]) => {
    if (!args.some((arg) => typeof arg === 'string' && STREAMING_RETRY_WARNING.test(arg))) console.warn(...args);
  },
  error: () => {},
};

export function createS3Client(options: S3ConnectionOptions): S3Client {
  const maxSockets = options.maxSockets ?? 256;
  return new S3Client({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // By default the SDK frames a streamed body as `aws-chunked` with a trailing CRC, which
    // several S3-compatible stores (s3rver among them) store verbatim. Integrity comes from the
    // SHA-256 the adapter computes on the way and the worker checks.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 5000,
      // A response body that stops flowing must fail (and its job be retried), not hang a finalize or a download.
      socketTimeout: options.socketTimeoutMs ?? 30_000,
      httpAgent: { keepAlive: true, maxSockets },
      httpsAgent: { keepAlive: true, maxSockets },
    },
    logger: sdkLogger,
  });
}

type S3Failure = Error & { $metadata?: { httpStatusCode?: number } };

/** True when S3 said the object (not the bucket, not an upload) does not exist. */
export function isMissingObject(error: unknown): boolean {
  const failure = error as S3Failure | null;
  if (!failure || typeof failure !== 'object') return false;
  if (failure.name === 'NoSuchKey' || failure.name === 'NotFound') return true;
  return failure.$metadata?.httpStatusCode === 404 && failure.name !== 'NoSuchBucket' && failure.name !== 'NoSuchUpload';
}

/**
 * The few object operations the blob store needs, on one bucket. Every call is a single S3
 * request (the SDK retries the idempotent ones); streamed uploads abort their request when
 * their body fails, so a broken source can never leave a request hanging.
 */
export class S3Bucket {
  constructor(
    readonly client: S3Client,
    readonly name: string,
    private readonly timeoutMs = 60_000,
  ) {}

  /**
   * Runs one SDK call under a deadline (and `external`, if given). The deadline is cleared
   * once the answer arrives, so a body still streaming from a GetObject is never cut by it.
   * An expired deadline rejects with code ETIMEDOUT: a store that does not answer is away, not a bug.
   */
  private async call<T>(operation: string, run: (signal: AbortSignal) => Promise<T>, external?: AbortSignal, timeoutMs = this.timeoutMs): Promise<T> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    try {
      return await run(external ? AbortSignal.any([external, deadline.signal]) : deadline.signal);
    } catch (error) {
      if (deadline.signal.aborted && !external?.aborted) {
        throw Object.assign(new Error(`The S3 store did not answer ${operation} on bucket ${this.name} within ${timeoutMs} ms.`, { cause: error }), { code: 'ETIMEDOUT' });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The object's size, or null when it does not exist. */
  async size(key: string): Promise<number | null> {
    try {
      const head = await this.call('HeadObject', (abortSignal) => this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }), { abortSignal }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isMissingObject(error)) return null;
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== null;
  }

  /**
   * Streams an object or an inclusive byte range of it; null when it does not exist. A
   * server that answers a range with more than was asked (s3rver does for `bytes=0-0`) is cut
   * back to the range here.
   */
  async get(key: string, range?: ByteRange): Promise<ObjectBody | null> {
    let response;
    try {
      const input = { Bucket: this.name, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) };
      response = await this.call('GetObject', (abortSignal) => this.client.send(new GetObjectCommand(input), { abortSignal }));
    } catch (error) {
      if (isMissingObject(error)) return null;
      throw error;
    }
    const body = (response.Body as Readable | undefined) ?? Readable.from([]);
    const length = response.ContentLength ?? 0;
    if (!range) return { body, length };
    const wanted = range.end - range.start + 1;
    const served = /^bytes (\d+)-(\d+)\/\d+$/.exec(response.ContentRange ?? '');
    if (served && Number(served[1]) !== range.start) {
      body.destroy();
      throw new Error(`The S3 store answered bytes ${served[1]}-${served[2]} of ${key} for a request of ${range.start}-${range.end}.`);
    }
    // A store that ignored the Range (no Content-Range) sent the whole object: cut the range out of it.
    if (length > wanted) return { body: bytesOf(body, served ? 0 : range.start, wanted), length: wanted };
    return { body, length };
  }

  /** The whole object (or range) in memory: only for objects known to be small. */
  async read(key: string, range?: ByteRange): Promise<Buffer | null> {
    const object = await this.get(key, range);
    if (!object) return null;
    const pieces: Buffer[] = [];
    for await (const piece of object.body) pieces.push(piece as Buffer);
    return Buffer.concat(pieces);
  }

  async putBuffer(key: string, data: Buffer, signal?: AbortSignal): Promise<void> {
    const input = { Bucket: this.name, Key: key, Body: data, ContentLength: data.length, ContentType: 'application/octet-stream' };
    await this.call('PutObject', (abortSignal) => this.client.send(new PutObjectCommand(input), { abortSignal }), signal);
  }

  /**
   * Uploads `length` bytes streamed from `body` (known length: one request, nothing
   * buffered). `signal` aborts the request; the caller must abort it when `body` fails.
   */
  async putStream(key: string, body: Readable, length: number, signal: AbortSignal): Promise<void> {
    const input = { Bucket: this.name, Key: key, Body: body, ContentLength: length, ContentType: 'application/octet-stream' };
    // Untimed while the body flows; once it has ended, the answer must come within the deadline.
    const answered = new AbortController();
    const sent = new Promise<void>((resolve) => body.once('end', resolve));
    const request = this.client.send(new PutObjectCommand(input), { abortSignal: AbortSignal.any([signal, answered.signal]) });
    request.catch(() => undefined);
    await Promise.race([request, sent]);
    await this.call('PutObject', async (deadline) => {
      const expire = (): void => answered.abort();
      deadline.addEventListener('abort', expire, { once: true });
      try {
        return await request;
      } finally {
        deadline.removeEventListener('abort', expire);
      }
    }, signal);
  }

  /** `putStream` that aborts the request itself when `body` fails, and rejects with that failure. */
  async putReadable(key: string, body: Readable, length: number): Promise<void> {
    const controller = new AbortController();
    let failure: unknown = null;
    const onError = (error: unknown): void => {
      failure ??= error;
      controller.abort(error);
    };
    body.once('error', onError);
    try {
      await this.putStream(key, body, length, controller.signal);
    } catch (error) {
      throw failure ?? error;
    } finally {
      body.off('error', onError);
      body.on('error', () => {});
      body.destroy();
    }
  }

  /** Server-side copy: no byte passes through this process. */
  async copy(sourceKey: string, targetKey: string): Promise<void> {
    const source = `${this.name}/${sourceKey}`.split('/').map(encodeURIComponent).join('/');
    await this.call('CopyObject', (abortSignal) => this.client.send(new CopyObjectCommand({ Bucket: this.name, Key: targetKey, CopySource: source }), { abortSignal }));
  }

  /** Deletes one object; a missing one is not an error (S3 answers 204 either way). */
  async delete(key: string): Promise<void> {
    await this.call('DeleteObject', (abortSignal) => this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key }), { abortSignal }));
  }

  /** Deletes objects one request each, a few at a time (every S3-compatible store has DeleteObject). */
  async deleteAll(keys: readonly string[], concurrency = 8): Promise<void> {
    const queue = [...keys];
    const failures: unknown[] = [];
    await Promise.all(
      Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
          await this.delete(key).catch((error: unknown) => failures.push(error));
        }
      }),
    );
    if (failures.length > 0) throw failures[0];
  }

  /** Pages of the keys under `prefix` (1000 at most each, in key order); with `delimiter`, the common prefixes too. */
  async *list(prefix: string, delimiter?: string): AsyncIterable<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const input = { Bucket: this.name, Prefix: prefix, ...(delimiter ? { Delimiter: delimiter } : {}), ...(token ? { ContinuationToken: token } : {}) };
      const page = await this.call('ListObjectsV2', (abortSignal) => this.client.send(new ListObjectsV2Command(input), { abortSignal }));
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Every key under `prefix`. */
  async keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of this.list(prefix)) for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    return keys;
  }

  async createMultipart(key: string, signal: AbortSignal): Promise<string> {
    const input = { Bucket: this.name, Key: key, ContentType: 'application/octet-stream' };
    const created = await this.call('CreateMultipartUpload', (abortSignal) => this.client.send(new CreateMultipartUploadCommand(input), { abortSignal }), signal);
    if (!created.UploadId) throw new Error(`The S3 store started a multipart upload of ${key} without an upload id.`);
    return created.UploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, data: Buffer, signal: AbortSignal): Promise<CompletedPart> {
    const input = { Bucket: this.name, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length };
    const part = await this.call('UploadPart', (abortSignal) => this.client.send(new UploadPartCommand(input), { abortSignal }), signal);
    return { PartNumber: partNumber, ETag: part.ETag };
  }

  async completeMultipart(key: string, uploadId: string, parts: CompletedPart[], signal: AbortSignal): Promise<void> {
    const input = { Bucket: this.name, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } };
    await this.call('CompleteMultipartUpload', (abortSignal) => this.client.send(new CompleteMultipartUploadCommand(input), { abortSignal }), signal);
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.call('AbortMultipartUpload', (abortSignal) => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId }), { abortSignal }));
  }

  /** Throws when the bucket cannot be reached, does not exist, or may not be used with these credentials. */
  async ping(timeoutMs: number): Promise<void> {
    await this.call('HeadBucket', (abortSignal) => this.client.send(new HeadBucketCommand({ Bucket: this.name }), { abortSignal }), undefined, timeoutMs);
  }
}

/** The first `length` bytes of `source`, which is then destroyed (its connection released). */
/** `length` bytes of `source` after skipping its first `skip` bytes. */
function bytesOf(source: Readable, skip: number, length: number): Readable {
  return Readable.from(
    (async function* () {
      let toSkip = skip;
      let left = length;
      // Leaving the loop early destroys the source.
      for await (const piece of source) {
        let bytes = piece as Buffer;
        if (toSkip > 0) {
          const dropped = Math.min(toSkip, bytes.length);
          toSkip -= dropped;
          bytes = bytes.subarray(dropped);
          if (bytes.length === 0) continue;
        }
        if (bytes.length >= left) {
          yield bytes.subarray(0, left);
          return;
        }
        left -= bytes.length;
        yield bytes;
      }
    })(),
    { objectMode: false },
  );
}
