const EMPTY = Buffer.alloc(0);
const FIRST_SIZE = 64 * 1024;

/**
 * Bytes gathered in one buffer that grows (doubling, from 64 KiB) up to a fixed capacity and
 * never past it: a store that holds many small pieces costs what they weigh, never more than
 * `capacity`. `clear` keeps the memory for reuse; `release` drops it.
 */
export class ByteBuffer {
  private data: Buffer = EMPTY;
  private used = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`Buffer capacity ${capacity} is not a positive integer.`);
  }

  get length(): number {
    return this.used;
  }

  get full(): boolean {
    return this.used >= this.capacity;
  }

  /** Copies as much of `piece` as fits; answers how many bytes it took. */
  append(piece: Buffer): number {
    const take = Math.min(piece.length, this.capacity - this.used);
    if (take === 0) return 0;
    this.reserve(this.used + take);
    piece.copy(this.data, this.used, 0, take);
    this.used += take;
    return take;
  }

  /** The bytes held, without a copy: valid until the next `append`, `clear` or `release`. */
  view(): Buffer {
    return this.data.subarray(0, this.used);
  }

  clear(): void {
    this.used = 0;
  }

  release(): void {
    this.data = EMPTY;
    this.used = 0;
  }

  private reserve(size: number): void {
    if (size <= this.data.length) return;
    let next = Math.max(FIRST_SIZE, this.data.length * 2);
    while (next < size) next *= 2;
    const grown = Buffer.allocUnsafe(Math.min(next, this.capacity));
    this.data.copy(grown, 0, 0, this.used);
    this.data = grown;
  }
}
