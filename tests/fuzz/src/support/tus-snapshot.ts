import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { differences, snapshotStore, type StoreSnapshot } from './store-snapshot';

const run = promisify(execFile);

/** The store snapshot plus the tus record of every upload (concatenation, metadata header, partial chunk length, lock). */
export interface TusSnapshot {
  store: StoreSnapshot;
  tus: string[];
}

type Db = { databaseUrl: string; blobDir: string };

async function tusRows(databaseUrl: string): Promise<string[]> {
  const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', databaseUrl, '-c', 'select t::text from tus_uploads t order by t.upload_id'], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout.split('\n').filter((line) => line.length > 0);
}

export async function snapshotTus(stack: Db): Promise<TusSnapshot> {
  const [store, tus] = await Promise.all([snapshotStore(stack), tusRows(stack.databaseUrl)]);
  return { store, tus };
}

export function tusDifferences(before: TusSnapshot, after: TusSnapshot): string[] {
  const lines = differences(before.store, after.store);
  const was = new Set(before.tus);
  const now = new Set(after.tus);
  for (const row of before.tus) if (!now.has(row)) lines.push(`tus_uploads - ${row}`);
  for (const row of after.tus) if (!was.has(row)) lines.push(`tus_uploads + ${row}`);
  return lines;
}

/** What still differs from `before` once the store has had `timeoutMs` to settle (a cut request is cleaned up after it is gone). */
export async function settledTusDifferences(
  stack: Db,
  before: TusSnapshot,
  { timeoutMs = 5_000, only = (_line: string): boolean => true }: { timeoutMs?: number; only?: (line: string) => boolean } = {},
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const diff = tusDifferences(before, await snapshotTus(stack)).filter(only);
    if (diff.length === 0 || Date.now() > deadline) return diff;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A snapshot taken once the store is quiet: two readings 200 ms apart agree (the worker has
 * finished what earlier tests queued), so a later difference is the test's own doing.
 */
export async function quietSnapshot(stack: Db, { timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<TusSnapshot> {
  const deadline = Date.now() + timeoutMs;
  let previous = await snapshotTus(stack);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const current = await snapshotTus(stack);
    if (tusDifferences(previous, current).length === 0 || Date.now() > deadline) return current;
    previous = current;
  }
}
