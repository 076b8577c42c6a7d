import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Everything a refused request must leave alone: every row, every staged and stored file. */
export interface StoreSnapshot {
  rows: Record<'uploads' | 'chunks' | 'blobs', string[]>;
  /** `<path under the blob folder> <bytes>` of every file in staging/ and blobs/. */
  files: string[];
}

const TABLES = {
  uploads: 'select t::text from uploads t order by t.id',
  chunks: 'select t::text from chunks t order by t.upload_id, t."index"',
  blobs: 'select t::text from blobs t order by t.sha256',
} as const;

async function rowsOf(databaseUrl: string, query: string): Promise<string[]> {
  // psql rather than a driver: the rows are compared as PostgreSQL prints them, every column included.
  const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', databaseUrl, '-c', query], { maxBuffer: 256 * 1024 * 1024 });
  return stdout.split('\n').filter((line) => line.length > 0);
}

async function filesUnder(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const top of ['staging', 'blobs']) {
    const dir = join(root, top);
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const { size } = await stat(path).catch(() => ({ size: -1 }));
      found.push(`${relative(root, path)} ${size}`);
    }
  }
  return found.sort();
}

export async function snapshotStore(stack: { databaseUrl: string; blobDir: string }): Promise<StoreSnapshot> {
  const [uploads, chunks, blobs, files] = await Promise.all([
    rowsOf(stack.databaseUrl, TABLES.uploads),
    rowsOf(stack.databaseUrl, TABLES.chunks),
    rowsOf(stack.databaseUrl, TABLES.blobs),
    filesUnder(stack.blobDir),
  ]);
  return { rows: { uploads, chunks, blobs }, files };
}

/** What differs between two snapshots, one line per added or removed row or file; empty when equal. */
export function differences(before: StoreSnapshot, after: StoreSnapshot): string[] {
  const lines: string[] = [];
  const compare = (what: string, a: string[], b: string[]) => {
    const was = new Set(a);
    const now = new Set(b);
    for (const item of a) if (!now.has(item)) lines.push(`${what} - ${item}`);
    for (const item of b) if (!was.has(item)) lines.push(`${what} + ${item}`);
  };
  for (const table of Object.keys(TABLES) as (keyof typeof TABLES)[]) compare(table, before.rows[table], after.rows[table]);
  compare('file', before.files, after.files);
  return lines;
}

/**
 * Waits until the store looks as it did in `before` (a client that vanished mid-request is
 * cleaned up after it is gone, not before), and returns what still differs at the deadline.
 * `only` narrows the comparison to the lines that matter.
 */
export async function settledDifferences(
  stack: { databaseUrl: string; blobDir: string },
  before: StoreSnapshot,
  { timeoutMs = 5_000, only = () => true }: { timeoutMs?: number; only?: (line: string) => boolean } = {},
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const diff = differences(before, await snapshotStore(stack)).filter(only);
    if (diff.length === 0 || Date.now() > deadline) return diff;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
