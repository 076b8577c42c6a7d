import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { isUuid, type BlobStore, type ByteRange, type PartialChunk, type PartialKey, type StageOptions, type StagedBytes, type StagingKey } from '@tessera/domain';
import { DurableFileSink } from './durable-file-sink';
import { FsPartialChunk } from './fs-partial-chunk';
import { copyWithLimits } from './limited-copy';

const MiB = 1024 * 1024;
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const SHA256 = /^[0-9a-f]{64}$/;

const hasCode = (error: unknown, code: string): boolean => (error as NodeJS.ErrnoException | null)?.code === code;

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error;
  }
}

/** Makes a folder's entries (a rename, a link, a new sub-folder) survive a crash. */
async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `mkdir -p` that also makes the new folders durable: `mkdir` returns the first folder it
 * created, and each created folder's parent holds an entry that must reach the disk.
 */
async function ensureDir(path: string): Promise<void> {
  const created = await mkdir(path, { recursive: true });
  if (!created) return;
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    await syncDir(dir);
    if (dir === dirname(created)) return;
  }
}

/**
 * BlobStore on a local or shared (ReadWriteMany) filesystem. Layout under `rootDir`:
 * `staging/<uploadId>/<index>-<token>` for staged attempts, `staging/<uploadId>/<index>.partial`
 * for a chunk still being filled by several requests, and `blobs/sha256/<aa>/<bb>/<hash>`
 * for committed content. Every path segment is validated before a path is built.
 * The folder must support hard links: a commit links the staged file, it never copies it.
 */
export class FsBlobStore implements BlobStore {
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = resolve(rootDir);
  }

  /** Creates the store's folders; call once before use. */
  async init(): Promise<void> {
    await mkdir(join(this.root, 'staging'), { recursive: true });
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
  }

  /**
   * Writes to a `.part` file next to the target, fdatasyncs it, renames it into place and
   * fsyncs the folder, so a resolved promise means the bytes survive a crash and a reader
   * never sees a partial file. Any failure removes what was written.
   */
  async stage(key: StagingKey, source: Readable, options: StageOptions): Promise<StagedBytes> {
    const file = this.stagedPath(key);
    const partial = `${file}.part`;
    let renamed = false;
    // Until the copy watches it, a failing source must not crash the process for want of a listener.
    const ignore = (): void => {};
    source.on('error', ignore);
    try {
      await ensureDir(dirname(file));
      const staged = await this.writeDurably(partial, source, options);
      await rename(partial, file);
      renamed = true;
      await syncDir(dirname(file));
      return staged;
    } catch (error) {
      await Promise.allSettled([unlinkIfPresent(partial), renamed ? unlinkIfPresent(file) : undefined]);
      throw error;
    } finally {
      source.off('error', ignore);
    }
  }

  async readStaged(key: StagingKey): Promise<Readable | null> {
    try {
      // Opened now, so the bytes stay readable even if the file is unlinked while streaming.
      const handle = await open(this.stagedPath(key), 'r');
      return handle.createReadStream({ highWaterMark: MiB });
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return null;
      throw error;
    }
  }

  async stagedSize(key: StagingKey): Promise<number | null> {
    try {
      return (await stat(this.stagedPath(key))).size;
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return null;
      throw error;
    }
  }

  /**
   * Hard-links the staged file as the blob: no byte is copied, and `link` is atomic and
   * never replaces an existing name, so a concurrent commit of the same content is harmless
   * and no temp name is needed. The staged file was fsync'd when staged; the blob's folder
   * is fsync'd here so the new name is durable too.
   */
  async commitStaged(key: StagingKey, sha256: string): Promise<void> {
    const staged = this.stagedPath(key);
    const blob = this.blobPath(sha256);
    if (await this.exists(blob)) return;
    await ensureDir(dirname(blob));
    try {
      await link(staged, blob);
    } catch (error) {
      if (hasCode(error, 'EEXIST')) return;
      if (hasCode(error, 'ENOENT')) {
        throw new Error(`Cannot commit chunk ${key.index} of upload ${key.uploadId} as blob ${sha256}: its staged file is gone. Stage the chunk again.`, { cause: error });
      }
      throw error;
    }
    await syncDir(dirname(blob));
  }

  async deleteStaged(key: StagingKey): Promise<void> {
    await unlinkIfPresent(this.stagedPath(key));
  }

  /** `staging/<uploadId>/<index>.partial`, beside the upload's staged attempts. */
  async openPartial(key: PartialKey, length: number): Promise<PartialChunk | null> {
    const path = this.partialPath(key);
    if (length === 0) await ensureDir(dirname(path));
    return FsPartialChunk.open(path, length, () => syncDir(dirname(path)), (target) => this.stagedPath(target));
  }

  async deletePartial(key: PartialKey): Promise<void> {
    await unlinkIfPresent(this.partialPath(key));
  }

  async deleteStagingOf(uploadId: string): Promise<void> {
    // A chunk still being staged can add an entry mid-removal (ENOTEMPTY): rm retries that.
    await rm(this.stagingDir(uploadId), { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }

  async stagingUploadIds(): Promise<string[]> {
    const entries = await readdir(join(this.root, 'staging'), { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory() && isUuid(entry.name)).map((entry) => entry.name).sort();
  }

  /**
   * Walks `blobs/sha256/<aa>/<bb>/` folder by folder (never the whole listing at once). The
   * inode change time is what counts: `link` sets it, so a blob committed from an old staged
   * file still looks new.
   */
  async *blobsChangedBefore(cutoff: Date): AsyncIterable<string> {
    const top = join(this.root, 'blobs', 'sha256');
    for (const first of await subfolders(top)) {
      for (const second of await subfolders(join(top, first))) {
        const folder = join(top, first, second);
        for (const name of await readdir(folder).catch(() => [] as string[])) {
          if (!SHA256.test(name) || !name.startsWith(first + second)) continue;
          const info = await lstat(join(folder, name)).catch(() => null);
          if (info?.isFile() && info.ctime.getTime() < cutoff.getTime()) yield name;
        }
      }
    }
  }

  async readBlob(sha256: string, range?: ByteRange): Promise<Readable> {
    const path = this.blobPath(sha256);
    if (range) checkRange(range);
    const handle = await open(path, 'r').catch((error: unknown) => {
      if (hasCode(error, 'ENOENT')) throw new Error(`Blob ${sha256} is missing from the blob store at ${this.root}.`, { cause: error });
      throw error;
    });
    return handle.createReadStream({ highWaterMark: MiB, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async deleteBlob(sha256: string): Promise<void> {
    await unlinkIfPresent(this.blobPath(sha256));
  }

  /** Writes and removes a probe file: proves the folder is mounted and writable. */
  async ping(): Promise<void> {
    const probe = join(this.root, `.ping-${process.pid}-${randomBytes(6).toString('hex')}`);
    await writeFile(probe, 'ping');
    await unlink(probe);
  }

  private async writeDurably(path: string, source: Readable, options: StageOptions): Promise<StagedBytes> {
    // 'wx': tokens are unique per attempt, so an existing file means a bug, never a file to overwrite.
    const handle = await open(path, 'wx');
    try {
      return await copyWithLimits(source, new DurableFileSink(handle, MiB), options);
    } finally {
      await handle.close();
    }
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return false;
      throw error;
    }
  }

  private stagingDir(uploadId: string): string {
    if (!isUuid(uploadId)) throw new TypeError('Refusing to build a staging path: uploadId is not a UUID.');
    return join(this.root, 'staging', uploadId);
  }

  private stagedPath(key: StagingKey): string {
    if (!Number.isSafeInteger(key.index) || key.index < 0) throw new TypeError('Refusing to build a staging path: index is not a non-negative integer.');
    if (!TOKEN.test(key.token)) throw new TypeError('Refusing to build a staging path: token must be 1..64 characters of [A-Za-z0-9_-].');
    return join(this.stagingDir(key.uploadId), `${key.index}-${key.token}`);
  }

  private partialPath(key: PartialKey): string {
    if (!Number.isSafeInteger(key.index) || key.index < 0) throw new TypeError('Refusing to build a partial path: index is not a non-negative integer.');
    return join(this.stagingDir(key.uploadId), `${key.index}.partial`);
  }

  private blobPath(sha256: string): string {
    if (!SHA256.test(sha256)) throw new TypeError('Refusing to build a blob path: sha256 must be 64 lowercase hex digits.');
    return join(this.root, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }
}

/** Names of the two-hex-digit sub-folders of `path` (none if it vanished meanwhile). */
async function subfolders(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isDirectory() && /^[0-9a-f]{2}$/.test(entry.name)).map((entry) => entry.name).sort();
}

function checkRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`Byte range ${start}-${end} is invalid: expected integers with 0 <= start <= end.`);
  }
}
