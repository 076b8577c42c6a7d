/** Random access to the bytes of what is being uploaded; `read` may be called again for a retry. */
export interface ChunkSource {
  size: number;
  name?: string;
  type?: string;
  /** Bytes `start` (inclusive) to `end` (exclusive). */
  read(start: number, end: number): Promise<Uint8Array>;
}

export type UploadSource = Blob | Uint8Array | ChunkSource;

function isBlob(source: unknown): source is Blob {
  return typeof Blob !== 'undefined' && source instanceof Blob;
}

/** Turns any accepted source into a ChunkSource. */
export function toChunkSource(source: UploadSource): ChunkSource {
  if (isBlob(source)) {
    const file = source as Blob & { name?: string };
    return {
      size: file.size,
      ...(file.name ? { name: file.name } : {}),
      ...(file.type ? { type: file.type } : {}),
      read: async (start, end) => new Uint8Array(await file.slice(start, end).arrayBuffer()),
    };
  }
  if (source instanceof Uint8Array) {
    return { size: source.length, read: async (start, end) => source.subarray(start, end) };
  }
  return source;
}
