import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Drops the first `count` bytes of `buffers`. */
function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

/**
 * A Writable over an open file whose `finish` means the bytes are on disk: `_final`
 * fdatasyncs. It never closes the handle (the owner does, which a FileHandle's own
 * write stream does not allow without closing it before the sync).
 */
export class DurableFileSink extends Writable {
  constructor(
    private readonly handle: FileHandle,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.writeFully(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.handle.datasync().then(() => callback(), callback);
  }

  private async writeFully(buffers: Buffer[]): Promise<void> {
    let pending = buffers.filter((b) => b.length > 0);
    while (pending.length > 0) {
      const { bytesWritten } = await this.handle.writev(pending);
      if (bytesWritten === 0) throw new Error('The file system accepted no bytes; check free space and quotas.');
      pending = skipBytes(pending, bytesWritten);
    }
  }
}
