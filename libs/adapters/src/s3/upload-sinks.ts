import { PassThrough, Writable } from 'node:stream';
import type { CompletedPart } from '@aws-sdk/client-s3';
import { ByteBuffer } from './byte-buffer';
import type { S3Bucket } from './s3-bucket';

/** A Writable whose bytes become one object; `stage` pipes a metered source into it. */
export interface UploadSink extends Writable {
  /** Resolves once no request of this upload is in flight any more (and a failed multipart upload is aborted). */
  settled(): Promise<void>;
}

/**
 * Streams a body of known length into one PutObject request: nothing is buffered beyond the
 * stream's high-water marks, and the sink finishes only once the store acknowledged the
 * object. Destroying the sink (a failed source, an abort, a length mismatch) aborts the request.
 */
export class StreamingPutSink extends Writable implements UploadSink {
  private readonly body = new PassThrough({ highWaterMark: 256 * 1024 });
  private readonly controller = new AbortController();
  private readonly request: Promise<void>;
  private written = 0;

  constructor(
    bucket: S3Bucket,
    key: string,
    private readonly length: number,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.request = bucket.putStream(key, this.body, length, this.controller.signal);
    // A refusal or a lost connection ends the copy at once, even while it waits for `drain`.
    this.request.catch((error: unknown) => this.destroy(error as Error));
  }

  override _write(piece: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.written += piece.length;
    if (this.body.write(piece)) callback();
    else this.body.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.body.end();
    this.request.then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A request whose body was sent whole may still create the object: it is left to finish
    // (`settled` waits for its answer) so that the caller's delete comes after it, not before.
    if (error && this.written < this.length) {
      this.controller.abort(error);
      this.body.destroy();
    } else if (error) {
      this.body.end();
    }
    callback(error);
  }

  async settled(): Promise<void> {
    await this.request.catch(() => undefined);
  }
}

/**
 * Uploads a body of unknown length holding at most `partBytes` in memory: a body that fits is
 * sent as one PutObject when it ends; a longer one becomes a multipart upload of `partBytes`
 * parts (S3 wants at least 5 MiB for every part but the last). A part is sent only once
 * more bytes follow it, so a body of exactly `partBytes` is still a single PutObject.
 */
export class BufferedUploadSink extends Writable implements UploadSink {
  private readonly buffer: ByteBuffer;
  private readonly controller = new AbortController();
  private readonly parts: CompletedPart[] = [];
  private uploadId: Promise<string> | null = null;
  private inFlight: Promise<unknown> = Promise.resolve();
  private finishing = false;
  private completed = false;

  constructor(
    private readonly bucket: S3Bucket,
    private readonly key: string,
    partBytes: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.buffer = new ByteBuffer(partBytes);
  }

  override _write(piece: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.track(this.take(piece)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.track(this.finish()).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Once the last request is on its way the object may be created: it is left to finish
    // (`settled` waits for it) so that the caller's delete comes after it.
    if (error && !this.finishing) {
      this.controller.abort(error);
      this.buffer.release();
    }
    callback(error);
  }

  async settled(): Promise<void> {
    await this.inFlight.catch(() => undefined);
    if (this.uploadId && !this.completed) {
      const uploadId = await this.uploadId.catch(() => null);
      // Best effort (s3rver has no AbortMultipartUpload); a bucket lifecycle rule catches the rest.
      if (uploadId) await this.bucket.abortMultipart(this.key, uploadId).catch(() => undefined);
    }
  }

  private async take(piece: Buffer): Promise<void> {
    let at = 0;
    while (at < piece.length) {
      if (this.buffer.full) await this.sendPart();
      at += this.buffer.append(piece.subarray(at));
    }
  }

  private async finish(): Promise<void> {
    this.finishing = true;
    const signal = this.controller.signal;
    if (this.uploadId === null) {
      await this.bucket.putBuffer(this.key, this.buffer.view(), signal);
    } else {
      if (this.buffer.length > 0) await this.sendPart();
      await this.bucket.completeMultipart(this.key, await this.uploadId, this.parts, signal);
    }
    this.completed = true;
    this.buffer.release();
  }

  private async sendPart(): Promise<void> {
    const signal = this.controller.signal;
    this.uploadId ??= this.bucket.createMultipart(this.key, signal);
    const uploadId = await this.uploadId;
    this.parts.push(await this.bucket.uploadPart(this.key, uploadId, this.parts.length + 1, this.buffer.view(), signal));
    this.buffer.clear();
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight = work.catch(() => undefined);
    return work;
  }
}
