import { createHash, type Hash } from 'node:crypto';
import { copyFile, link, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { digestStream, EMPTY_SHA256, type PartialChunk, type StagedBytes, type StagingKey } from '@tessera/domain';

/**
 * A partial chunk file open for appending. When it was opened empty, every byte passes
 * through a running SHA-256, so staging it needs no read-back; a partial reopened part-way
 * (its start came in an earlier request) is hashed from the file when staged.
 */
export class FsPartialChunk implements PartialChunk {
  private hash: Hash | null;
  private digest: string | null = null;

  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private size: number,
    private readonly syncFolder: () => Promise<void>,
    private readonly stagedPath: (key: StagingKey) => string,
  ) {
    this.hash = size === 0 ? createHash('sha256') : null;
  }

  /** Opens `path` cut back to `length` bytes, or null if it holds fewer. */
  static async open(
    path: string,
    length: number,
    syncFolder: () => Promise<void>,
    stagedPath: (key: StagingKey) => string,
  ): Promise<FsPartialChunk | null> {
    await detachFromStagedCopies(path, syncFolder);
    const handle = await open(path, length === 0 ? 'w' : 'r+').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (!handle) return null;
    try {
      if ((await handle.stat()).size < length) {
        await handle.close();
        return null;
      }
      await handle.truncate(length);
      // A new file's name must reach the disk with its bytes.
      if (length === 0) await syncFolder();
      return new FsPartialChunk(path, handle, length, syncFolder, stagedPath);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  get length(): number {
    return this.size;
  }

  async write(data: Buffer): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.handle.write(data, written, data.length - written, this.size + written);
      if (bytesWritten === 0) throw new Error('The file system accepted no bytes; check free space and quotas.');
      written += bytesWritten;
    }
    this.size += data.length;
    this.hash?.update(data);
    // Bytes added after a digest was taken: the next one is read from the file.
    this.digest = null;
  }

  async sync(): Promise<void> {
    await this.handle.datasync();
  }

  /** Links the file under the attempt's name (no copy); the caller synced it first. */
  async stageAs(key: StagingKey): Promise<StagedBytes> {
    await link(this.path, this.stagedPath(key));
    await this.syncFolder();
    return { bytes: this.size, sha256: await this.sha256() };
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private async sha256(): Promise<string> {
    if (this.hash) {
      this.digest = this.hash.digest('hex');
      this.hash = null;
    }
    if (this.digest) return this.digest;
    if (this.size === 0) return EMPTY_SHA256;
    const reader = await open(this.path, 'r');
    try {
      return (await digestStream(reader.createReadStream({ start: 0, end: this.size - 1, autoClose: false, highWaterMark: 1024 * 1024 }))).sha256;
    } finally {
      await reader.close();
    }
  }
}

/**
 * A partial that was already staged shares its inode with the staged attempt, and through
 * it perhaps with a committed blob (a crash came before the partial was deleted). Its bytes
 * must never change in place: the partial gets a copy of its own first.
 */
async function detachFromStagedCopies(path: string, syncFolder: () => Promise<void>): Promise<void> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!info || info.nlink <= 1) return;
  const copy = `${path}.copy`;
  await copyFile(path, copy);
  const handle = await open(copy, 'r+');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(copy, path);
  await syncFolder();
}
