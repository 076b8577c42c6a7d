import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { initOrm } from '@tessera/adapters';
import type { Stack } from '../../../e2e/src/support/stack';
import type { Api } from './api';
import { listFiles } from './files';
import { sleep } from './processes';
import { sha256Hex, type TestFile } from './test-file';
import type { UploadWatcher } from './watcher';

/** An upload the scenario made, with the bytes its client sent. */
export interface Sent {
  id: string;
  file: TestFile;
}

const FINISHED = new Set(['finalizing', 'completed', 'failed', 'aborted', 'expired']);
const CLOSED = new Set(['aborted', 'expired']);

type Sql = <T>(query: string, params?: unknown[]) => Promise<T[]>;

async function withDatabase<T>(databaseUrl: string, work: (sql: Sql) => Promise<T>): Promise<T> {
  const orm = await initOrm({ databaseUrl, poolMax: 1 });
  try {
    const em = orm.em.fork();
    return await work((query, params = []) => em.execute(query, params, 'all'));
  } finally {
    await orm.close(true);
  }
}

function fileSha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/** Rows: no duplicate chunk, every upload's counters equal to its chunk rows, every blob's ref_count to its references. */
async function databaseProblems(sql: Sql): Promise<string[]> {
  const problems: string[] = [];
  const duplicates = await sql<{ upload_id: string; index: number; n: number }>(
    'select upload_id, "index", count(*)::int as n from chunks group by upload_id, "index" having count(*) > 1',
  );
  for (const d of duplicates) problems.push(`chunk ${d.index} of ${d.upload_id} has ${d.n} rows`);

  const counters = await sql<Record<string, string | number | null>>(
    `select u.id, u.state, u.size::text, u.chunk_count, u.bytes_stored::text, u.chunks_stored, u.bytes_received::text,
       coalesce(sum(c.size) filter (where c.state = 'stored'), 0)::text as stored_bytes,
       (count(c.*) filter (where c.state = 'stored'))::int as stored_chunks,
       count(c.upload_id)::int as chunk_rows,
       coalesce(sum(c.size) filter (where c.state in ('received', 'stored')), 0)::text as received_bytes
     from uploads u left join chunks c on c.upload_id = u.id group by u.id`,
  );
  for (const u of counters) {
    const where = `upload ${u.id} (${u.state})`;
    if (CLOSED.has(String(u.state))) {
      // Closing releases the bytes and deletes the chunk rows; the counters stay as a record of what was sent.
      if (u.chunk_rows !== 0) problems.push(`${where}: still has ${u.chunk_rows} chunk rows`);
      continue;
    }
    if (u.bytes_stored !== u.stored_bytes) problems.push(`${where}: bytes_stored ${u.bytes_stored}, its stored chunks hold ${u.stored_bytes}`);
    if (u.chunks_stored !== u.stored_chunks) problems.push(`${where}: chunks_stored ${u.chunks_stored}, ${u.stored_chunks} chunk rows are stored`);
    if (u.bytes_received !== u.received_bytes) problems.push(`${where}: bytes_received ${u.bytes_received}, its received and stored chunks hold ${u.received_bytes}`);
    if (u.state === 'completed' && (u.chunks_stored !== u.chunk_count || u.bytes_stored !== u.size)) {
      problems.push(`${where}: completed with ${u.chunks_stored}/${u.chunk_count} chunks and ${u.bytes_stored}/${u.size} bytes stored`);
    }
  }

  // Once everything has settled, every chunk row is stored (or rejected, waiting for the
  // client): one still receiving or received has nothing left that will ever store it.
  const stranded = await sql<{ upload_id: string; index: number; state: string }>(
    `select upload_id, "index", state from chunks where state in ('receiving', 'received') order by upload_id, "index"`,
  );
  for (const c of stranded) problems.push(`chunk ${c.index} of upload ${c.upload_id} is stranded "${c.state}": no job or request will store it`);

  const blobs = await sql<{ sha256: string; ref_count: number | null; refs: number }>(
    `select coalesce(b.sha256, r.sha256) as sha256, b.ref_count, coalesce(r.n, 0)::int as refs
     from blobs b full join (select sha256, count(*)::int as n from chunks where state = 'stored' group by sha256) r on r.sha256 = b.sha256
     where b.sha256 is null or r.sha256 is null or b.ref_count <> r.n`,
  );
  for (const b of blobs) {
    problems.push(b.ref_count === null ? `blob ${b.sha256} is referenced by ${b.refs} stored chunks but has no row` : `blob ${b.sha256}: ref_count ${b.ref_count}, ${b.refs} stored chunks reference it`);
  }
  return problems;
}

/** Files: blobs/ and the blob rows are the same set, each blob holds the bytes its name says; staging holds only live attempts. */
async function fileProblems(sql: Sql, blobDir: string): Promise<string[]> {
  const problems: string[] = [];
  const rows = new Map((await sql<{ sha256: string; size: string }>('select sha256, size::text from blobs')).map((b) => [b.sha256, Number(b.size)]));
  const blobRoot = join(blobDir, 'blobs', 'sha256');
  const seen = new Set<string>();
  for (const file of await listFiles(blobRoot)) {
    const path = join(blobRoot, file);
    const [aa, bb, name, ...rest] = file.split(sep);
    if (!name || rest.length > 0 || aa !== name.slice(0, 2) || bb !== name.slice(2, 4)) {
      problems.push(`stray file in the blob store: ${relative(blobDir, path)}`);
      continue;
    }
    seen.add(name);
    if (!rows.has(name)) problems.push(`blob file ${name} has no row (unreferenced)`);
    const { size } = await stat(path);
    if (rows.has(name) && rows.get(name) !== size) problems.push(`blob file ${name} holds ${size} bytes, its row says ${rows.get(name)}`);
    const actual = await fileSha256(path);
    if (actual !== name) problems.push(`blob file ${name} holds bytes whose SHA-256 is ${actual} (half-written or wrong bytes committed)`);
  }
  for (const sha256 of rows.keys()) if (!seen.has(sha256)) problems.push(`blob row ${sha256} has no file`);

  const uploads = new Map((await sql<{ id: string; state: string }>('select id, state from uploads')).map((u) => [u.id, u.state]));
  const live = new Set(
    (await sql<{ upload_id: string; index: number; token: string }>(`select upload_id, "index", token from chunks where state in ('receiving', 'received')`)).map(
      (c) => `${c.upload_id}/${c.index}-${c.token}`,
    ),
  );
  const stagingRoot = join(blobDir, 'staging');
  for (const name of await listFiles(stagingRoot)) {
    const state = uploads.get(name.split(sep)[0] ?? '');
    if (state === undefined || FINISHED.has(state)) problems.push(`staging file ${name} left behind by a ${state ?? 'deleted'} upload`);
    else if (!live.has(name)) problems.push(`staging file ${name} belongs to no chunk attempt in progress`);
  }
  return problems;
}

/** What the user sees: each upload completed with its SHA-256, its download byte for byte, and one upload.completed. */
async function clientProblems(api: Api, watcher: UploadWatcher | null, sent: Sent[]): Promise<string[]> {
  const problems: string[] = [];
  for (const { id, file } of sent) {
    const view = await api.get(id);
    if (view.state !== 'completed' || view.sha256 !== file.sha256 || view.bytesStored !== file.data.length || view.missing.length > 0) {
      problems.push(`upload ${id} (${file.name}): ${view.state}, sha256 ${view.sha256 ?? '-'}, ${view.bytesStored}/${file.data.length} bytes stored, missing [${view.missing.join(',')}]`);
      continue;
    }
    const downloaded = sha256Hex(await api.content(id));
    if (downloaded !== file.sha256) problems.push(`upload ${id} (${file.name}): download's SHA-256 is ${downloaded}, sent ${file.sha256}`);
    if (!watcher) continue;
    const completions = watcher.completions(id);
    if (completions.length !== 1) problems.push(`upload ${id} (${file.name}): the client saw ${completions.length} upload.completed events (distinct seq)`);
    for (const c of completions) {
      if (c.type === 'upload.completed' && (c.sha256 !== file.sha256 || c.size !== file.data.length)) {
        problems.push(`upload ${id}: upload.completed says ${c.sha256}/${c.size}, sent ${file.sha256}/${file.data.length}`);
      }
    }
  }
  return problems;
}

/**
 * Everything that must hold once a fault is over and the work has settled, as a list of
 * violations (empty when all hold), so one failed check does not hide the others. What a
 * crash leaves on disk is the periodic sweep's to remove, so the stored state is given
 * `sweepGraceMs` (a few sweep periods) to become clean.
 */
export async function invariantProblems(stack: Stack, api: Api, watcher: UploadWatcher | null, sent: Sent[], sweepGraceMs = 5000): Promise<string[]> {
  const deadline = Date.now() + sweepGraceMs;
  const stored = await withDatabase(stack.databaseUrl, async (sql) => {
    for (;;) {
      const found = [...(await databaseProblems(sql)), ...(await fileProblems(sql, stack.blobDir))];
      if (found.length === 0 || Date.now() > deadline) return found;
      await sleep(250);
    }
  });
  return [...stored, ...(await clientProblems(api, watcher, sent))];
}
