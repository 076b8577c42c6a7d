import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Files under `dir`, recursively, as paths relative to it (none if `dir` does not exist). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** The staging folder of one upload: `<blobDir>/staging/<uploadId>`. */
export const stagingDir = (blobDir: string, uploadId: string) => join(blobDir, 'staging', uploadId);

/** Where a committed blob lives: `<blobDir>/blobs/sha256/<aa>/<bb>/<hash>`. */
export const blobPath = (blobDir: string, sha256: string) => join(blobDir, 'blobs', 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
