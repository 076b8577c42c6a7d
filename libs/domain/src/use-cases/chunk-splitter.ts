import { PassThrough, Writable } from 'node:stream';

/** Receives one piece of at most `chunkSize` bytes, as a stream, and resolves when it is safe. */
export type PieceHandler = (index: number, piece: PassThrough) => Promise<void>;

/**
 * A sink that cuts whatever is written to it into consecutive pieces of `chunkSize`
 * bytes (the last may be shorter) and hands each to `onPiece` as a stream. Only one piece
 * is open at a time and writes wait on its back-pressure, so memory stays at a few buffers
 * however large the input is. `finish` waits for the last piece's handler.
 */
export class ChunkSplitter extends Writable {
  private current: { stream: PassThrough; done: Promise<void>; bytes: number } | null = null;
  private nextIndex = 0;
  private total = 0;

  constructor(
    private readonly chunkSize: number,
    private readonly onPiece: PieceHandler,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.total;
  }

  override _write(data: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll(data).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.closePiece().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.current?.stream.destroy(error ?? new Error('the upload stream was closed early'));
    callback(error);
  }

  private async writeAll(data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const piece = this.current ?? this.openPiece();
      const take = Math.min(this.chunkSize - piece.bytes, data.length - offset);
      const slice = data.subarray(offset, offset + take);
      piece.bytes += take;
      offset += take;
      this.total += take;
      if (!piece.stream.write(slice)) await this.drained(piece);
      if (piece.bytes === this.chunkSize) await this.closePiece();
    }
  }

  private openPiece(): NonNullable<ChunkSplitter['current']> {
    const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
    const done = this.onPiece(this.nextIndex++, stream);
    // Surfaced when the piece is closed; until then, keep an early failure from going unhandled.
    done.catch(() => undefined);
    this.current = { stream, done, bytes: 0 };
    return this.current;
  }

  private async closePiece(): Promise<void> {
    const piece = this.current;
    if (!piece) return;
    this.current = null;
    piece.stream.end();
    await piece.done;
  }

  /** Waits for the consumer to drain the piece, or for its handler to fail. */
  private drained(piece: NonNullable<ChunkSplitter['current']>): Promise<void> {
    return new Promise((resolve, reject) => {
      piece.stream.once('drain', resolve);
      piece.done.then(() => resolve(), reject);
    });
  }
}
