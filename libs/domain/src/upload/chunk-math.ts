/** Number of chunks of `chunkSize` bytes needed for `size` bytes (0 for an empty upload). */
export function chunkCountFor(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

/** Exact byte length of chunk `index`: every chunk is full except possibly the last. */
export function expectedChunkLength(size: number, chunkSize: number, index: number): number {
  const count = chunkCountFor(size, chunkSize);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`chunk index ${index} outside 0..${count - 1}`);
  }
  return index < count - 1 ? chunkSize : size - chunkSize * (count - 1);
}

/** Whole-number percentage that reaches 100 only when every chunk is stored. */
export function progressPercent(bytesStored: number, size: number | null, chunksStored: number, chunkCount: number | null): number {
  if (size === null || chunkCount === null) return 0;
  if (chunksStored >= chunkCount) return 100;
  return Math.min(99, Math.floor((bytesStored * 100) / size));
}
