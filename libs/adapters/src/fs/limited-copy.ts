import { finished, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChunkIncompleteError, type StageOptions } from '@tessera/domain';

/** Counts bytes on their way through and fails as soon as they break the stage limits. */
class ByteLimit extends Transform {
  bytes = 0;
  private readonly limit: number;

  constructor(private readonly expectedBytes: number | undefined, maxBytes: number | undefined) {
    super();
    this.limit = Math.min(expectedBytes ?? Infinity, maxBytes ?? Infinity);
  }

  override _transform(piece: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += piece.length;
    if (this.bytes > this.limit) callback(new ChunkIncompleteError(`The chunk is longer than ${this.limit} bytes.`));
    else callback(null, piece);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedBytes !== undefined && this.bytes < this.expectedBytes) {
      callback(new ChunkIncompleteError(`The chunk ended after ${this.bytes} of ${this.expectedBytes} bytes.`));
    } else {
      callback();
    }
  }
}

/**
 * Copies `source` into `sink` under the limits and signal of `options`, with back-pressure,
 * and resolves with the byte count once `sink` has finished. `source` is read but never
 * destroyed: it belongs to the caller, who may still have to answer the request it is.
 */
export async function copyWithLimits(source: Readable, sink: Writable, options: StageOptions): Promise<number> {
  const limit = new ByteLimit(options.expectedBytes, options.maxBytes);
  // pipe() does not forward a source's failure or early close; without this the copy would hang.
  const stopWatching = finished(source, { writable: false }, (error) => {
    if (error) limit.destroy(error);
  });
  source.pipe(limit);
  try {
    await pipeline(limit, sink, options.signal ? { signal: options.signal } : {});
    return limit.bytes;
  } finally {
    stopWatching();
    source.unpipe(limit);
  }
}
