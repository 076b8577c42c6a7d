import { createHash } from 'node:crypto';
import { finished, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BodyTimeoutError, ChunkIncompleteError, type StageOptions, type StagedBytes } from '@tessera/domain';

/**
 * Counts and hashes bytes on their way through and fails as soon as they break the stage
 * limits. Hashing here, while the bytes are in memory anyway, spares the worker a second
 * read of every staged chunk.
 */
class ByteMeter extends Transform {
  bytes = 0;
  /** Set once every byte has passed. */
  sha256 = '';
  private readonly hash = createHash('sha256');
  private readonly limit: number;

  constructor(private readonly expectedBytes: number | undefined, maxBytes: number | undefined) {
    super();
    this.limit = Math.min(expectedBytes ?? Infinity, maxBytes ?? Infinity);
  }

  override _transform(piece: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += piece.length;
    if (this.bytes > this.limit) return callback(new ChunkIncompleteError(`The chunk is longer than ${this.limit} bytes.`));
    this.hash.update(piece);
    callback(null, piece);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedBytes !== undefined && this.bytes < this.expectedBytes) {
      callback(new ChunkIncompleteError(`The chunk ended after ${this.bytes} of ${this.expectedBytes} bytes.`));
    } else {
      this.sha256 = this.hash.digest('hex');
      callback();
    }
  }
}

/**
 * Copies `source` into `sink` under the limits and signal of `options`, with back-pressure,
 * and resolves with the byte count and SHA-256 once `sink` has finished. `source` is read
 * but never destroyed: it belongs to the caller, who may still have to answer the request it is.
 */
export async function copyWithLimits(source: Readable, sink: Writable, options: StageOptions): Promise<StagedBytes> {
  const meter = new ByteMeter(options.expectedBytes, options.maxBytes);
  // pipe() does not forward a source's failure or early close; without this the copy would hang.
  const stopWatching = finished(source, { writable: false }, (error) => {
    if (error) meter.destroy(error);
  });
  const stopTimer = options.idleTimeoutMs === undefined ? () => {} : watchIdle(source, meter, options.idleTimeoutMs);
  source.pipe(meter);
  try {
    await pipeline(meter, sink, options.signal ? { signal: options.signal } : {});
    return { bytes: meter.bytes, sha256: meter.sha256 };
  } finally {
    stopTimer();
    stopWatching();
    source.unpipe(meter);
  }
}

/** Fails `meter` once `source` has yielded nothing for `idleMs`; returns the stop switch. */
function watchIdle(source: Readable, meter: Transform, idleMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => meter.destroy(new BodyTimeoutError(idleMs)), idleMs);
  };
  const stop = () => {
    clearTimeout(timer);
    source.off('data', arm);
    source.off('end', stop);
  };
  arm();
  source.on('data', arm);
  source.once('end', stop);
  return stop;
}
