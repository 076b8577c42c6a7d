import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '../../e2e/src/support/stack';
import { parseTable, runCli, sha256File, startCli, type CliOptions } from './support/cli';

const MiB = 1024 * 1024;

interface UploadJson {
  id: string;
  filename: string;
  size: number;
  state: string;
  sha256?: string;
  bytesReceived: number;
  chunkSize: number;
  chunkCount: number;
  chunksStored: number;
}

interface UploadReport {
  interrupted: boolean;
  stateFile: string;
  uploads: Array<{ file: string; id: string | null; state: string; sha256: string | null; resumed: boolean; bytesSent: number; size: number }>;
}

describe('tessera CLI', () => {
  let stack: Stack;
  let dir: string;
  let stateDir: string;
  let options: CliOptions;
  /** Two files uploaded by the first test, used by the next ones. */
  const uploaded: Array<{ name: string; path: string; id: string; sha256: string }> = [];

  const api = async (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${stack.gatewayUrl}${path}`, { ...init, headers: { authorization: `Bearer ${options.env.TESSERA_TOKEN}`, ...(init.headers ?? {}) } });
  const getUpload = async (id: string): Promise<UploadJson> => {
    const response = await api(`/v1/uploads/${id}`);
    expect(response.status).toBe(200);
    return (await response.json()) as UploadJson;
  };
  const writeRandom = (name: string, size: number): string => {
    const path = join(dir, name);
    writeFileSync(path, randomBytes(size));
    return path;
  };

  beforeAll(async () => {
    stack = await startStack({ DEFAULT_CHUNK_SIZE: String(MiB), LOG_LEVEL: 'warn' });
    dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
    stateDir = join(dir, 'state');
    options = {
      cwd: dir,
      env: {
        TESSERA_URL: stack.gatewayUrl,
        TESSERA_NOTIFIER_URL: stack.notifierUrl,
        TESSERA_TOKEN: await stack.token('cli-user'),
        TESSERA_STATE_DIR: stateDir,
        // Progress lines (the output is a pipe, not a terminal) often enough to watch them.
        TESSERA_PROGRESS_INTERVAL_MS: '50',
      },
    };
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('uploads two files and ends with a table of ids and SHA-256s that match the files and the API', async () => {
    const files = [
      { name: 'photos.tar', path: writeRandom('photos.tar', 3 * MiB + 123) },
      { name: 'notes.txt', path: writeRandom('notes.txt', 200 * 1024) },
    ];
    const result = await runCli(['upload', 'photos.tar', 'notes.txt', '--chunk-size', '1MiB', '--parallel', '2'], options);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    // Progress as lines, since stdout is a pipe.
    expect(result.stdout).toMatch(/photos\.tar: sent [\d.]+ \w+ of 3\.0 MiB/);
    expect(result.stdout).toMatch(/photos\.tar: completed, 3\.0 MiB/);

    const rows = parseTable(result.stdout, 'FILE');
    expect(rows.map((r) => r.FILE)).toEqual(['photos.tar', 'notes.txt']);
    for (const [i, file] of files.entries()) {
      const row = rows[i]!;
      const sha256 = sha256File(file.path);
      expect(row['SHA-256']).toBe(sha256);
      const upload = await getUpload(row.ID!);
      expect(upload).toMatchObject({ id: row.ID, filename: file.name, size: statSync(file.path).size, state: 'completed', sha256 });
      uploaded.push({ ...file, id: row.ID!, sha256 });
    }
    expect(rows[0]!.SIZE).toBe('3.0 MiB');
    expect((await getUpload(uploaded[0]!.id)).chunkCount).toBe(4);
    // Completed uploads are not remembered for resuming.
    expect(JSON.parse(readFileSync(join(stateDir, 'uploads.json'), 'utf8')).uploads).toEqual({});

    // --json: a report on stdout only; a completed file uploaded again is a new upload.
    const json = await runCli(['upload', 'notes.txt', '--json', '--chunk-size', '64KiB'], options);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as UploadReport;
    expect(report.uploads).toEqual([expect.objectContaining({ file: 'notes.txt', state: 'completed', sha256: uploaded[1]!.sha256, bytesSent: 200 * 1024, resumed: false })]);
    expect(report.uploads[0]!.id).not.toBe(uploaded[1]!.id);
    expect(await getUpload(report.uploads[0]!.id!)).toMatchObject({ chunkSize: 64 * 1024, chunkCount: 4 });
  }, 30_000);

  it('shows an upload with status, and lists uploads with ls, as text and as JSON', async () => {
    const [photos, notes] = uploaded;
    const status = await runCli(['status', photos!.id], options);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^id +${photos!.id}$`, 'm'));
    expect(status.stdout).toMatch(/^state +completed$/m);
    expect(status.stdout).toMatch(/^stored +3\.0 MiB \(100%\), 4 of 4 chunks of 1\.0 MiB$/m);
    expect(status.stdout).toMatch(new RegExp(`^sha256 +${photos!.sha256}$`, 'm'));

    const statusJson = await runCli(['status', photos!.id, '--json'], options);
    expect(JSON.parse(statusJson.stdout)).toEqual(await getUpload(photos!.id));

    const ls = await runCli(['ls'], options);
    expect(ls.code).toBe(0);
    const rows = parseTable(ls.stdout, 'ID');
    expect(rows.length).toBe(3); // the two files, and notes.txt once more
    expect(rows.find((r) => r.ID === photos!.id)).toMatchObject({ STATE: 'completed', SIZE: '3.0 MiB', STORED: '100%', FILENAME: 'photos.tar' });
    expect(rows.find((r) => r.ID === notes!.id)).toMatchObject({ STATE: 'completed', FILENAME: 'notes.txt' });

    const page = await runCli(['ls', '--json', '--limit', '2', '--state', 'completed'], options);
    const listed = JSON.parse(page.stdout) as { items: UploadJson[]; nextCursor: string | null };
    expect(listed.items).toHaveLength(2);
    expect(listed.nextCursor).toEqual(expect.any(String));
    expect(listed.items.every((u) => u.state === 'completed')).toBe(true);

    const none = await runCli(['ls', '--state', 'failed'], options);
    expect(none).toMatchObject({ code: 0, stdout: 'No uploads in state failed.\n' });
    const bad = await runCli(['ls', '--state', 'done'], options);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--state must be one of pending, receiving, finalizing, completed, failed, aborted, expired');
  }, 30_000);

  it('downloads byte for byte, and never overwrites a file without --force', async () => {
    const photos = uploaded[0]!;
    const target = join(dir, 'copy.tar');
    const first = await runCli(['download', photos.id, '-o', 'copy.tar'], options);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`SHA-256 verified: ${photos.sha256}`);
    expect(readFileSync(target).equals(readFileSync(photos.path))).toBe(true);

    writeFileSync(target, 'keep me');
    const refused = await runCli(['download', photos.id, '-o', 'copy.tar'], options);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${target} already exists; it was left as it is.`);
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(target, 'utf8')).toBe('keep me');

    const forced = await runCli(['download', photos.id, '-o', 'copy.tar', '--force'], options);
    expect(forced.code).toBe(0);
    expect(readFileSync(target).equals(readFileSync(photos.path))).toBe(true);

    // Without -o: the upload's file name, in the current directory.
    const elsewhere = join(dir, 'downloads');
    mkdirSync(elsewhere);
    const named = await runCli(['download', photos.id, '--json'], { ...options, cwd: elsewhere });
    expect(JSON.parse(named.stdout)).toEqual({ id: photos.id, path: join(elsewhere, 'photos.tar'), size: 3 * MiB + 123, sha256: photos.sha256 });
    expect(sha256File(join(elsewhere, 'photos.tar'))).toBe(photos.sha256);
  }, 30_000);

  it('deletes an upload with rm, after which status says it is not found (exit 1)', async () => {
    const notes = uploaded[1]!;
    const rm = await runCli(['rm', notes.id], options);
    expect(rm).toMatchObject({ code: 0, stdout: `Deleted upload ${notes.id}.\n` });
    expect((await api(`/v1/uploads/${notes.id}`)).status).toBe(404);

    const status = await runCli(['status', notes.id], options);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(`No upload ${notes.id} is visible to you`);
    const again = await runCli(['rm', notes.id], options);
    expect(again.code).toBe(1);
  }, 30_000);

  it('explains what is missing from the environment, and usage errors, with exit code 2', async () => {
    const { TESSERA_TOKEN: _token, ...withoutToken } = options.env;
    const missing = await runCli(['ls'], { ...options, env: withoutToken });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('set TESSERA_TOKEN to a bearer token');
    expect(missing.stderr).toContain('with `npm start` in development, use the development token it prints');
    expect(missing.stdout).toBe('');

    const badToken = await runCli(['ls'], { ...options, env: { ...options.env, TESSERA_TOKEN: 'not-a-jwt' } });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toContain('The gateway refused the token');

    for (const args of [['upload'], ['upload', 'x', '--chunk-size', 'lots'], ['status', 'not-an-id'], ['frobnicate'], ['ls', '--bogus']]) {
      const usage = await runCli(args, options);
      expect({ args, code: usage.code }).toEqual({ args, code: 2 });
      expect(usage.stderr).not.toBe('');
    }
    const help = await runCli(['download', '--help'], { ...options, env: {} });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: tessera download <id> [-o file] [--force]');

    const absent = await runCli(['upload', 'no-such-file.bin'], options);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain('no-such-file.bin: no such file.');
  }, 30_000);

  it('pauses on Ctrl-C, then the same command resumes the same upload and sends only what was missing', async () => {
    const path = writeRandom('big.iso', 48 * MiB);
    const args = ['upload', 'big.iso', '--chunk-size', '1MiB', '--parallel', '2', '--json'];
    const first = startCli(args, options);
    // With --json, progress goes to stderr as plain lines. Interrupt once some chunks are sent.
    await first.waitFor('stderr', /big\.iso: sent [1-9][\d.]* MiB of/);
    first.child.kill('SIGINT');
    const paused = await first.exited;
    expect(paused.code).toBe(130);
    expect(paused.stderr).toContain('To resume, run the same command again:\n  tessera upload big.iso --parallel 2 --chunk-size 1MiB --json');
    const report = JSON.parse(paused.stdout) as UploadReport;
    expect(report.interrupted).toBe(true);
    expect(report.uploads[0]).toMatchObject({ file: 'big.iso', state: 'paused' });
    const id = report.uploads[0]!.id!;

    const saved = JSON.parse(readFileSync(join(stateDir, 'uploads.json'), 'utf8')) as { uploads: Record<string, { uploadId: string; path: string }> };
    expect(Object.values(saved.uploads)).toEqual([expect.objectContaining({ uploadId: id, path, size: 48 * MiB })]);
    const before = await getUpload(id);
    expect(before.state).toBe('receiving');
    expect(before.bytesReceived).toBeGreaterThan(0);
    expect(before.bytesReceived).toBeLessThan(48 * MiB);

    const second = await runCli(args, options);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`big.iso: resuming upload ${id}`);
    const resumed = (JSON.parse(second.stdout) as UploadReport).uploads[0]!;
    expect(resumed).toMatchObject({ id, state: 'completed', resumed: true, sha256: sha256File(path) });
    // Only the chunks the server had not received were sent again (a chunk whose request was
    // cut by the pause may still have been staged after `before` was read: at most --parallel).
    expect(resumed.bytesSent).toBeLessThanOrEqual(48 * MiB - before.bytesReceived);
    expect(resumed.bytesSent).toBeGreaterThanOrEqual(48 * MiB - before.bytesReceived - 2 * MiB);
    expect(await getUpload(id)).toMatchObject({ state: 'completed', sha256: sha256File(path), chunksStored: 48 });
    expect(JSON.parse(readFileSync(join(stateDir, 'uploads.json'), 'utf8')).uploads).toEqual({});
    expect(existsSync(path)).toBe(true);
  }, 60_000);
});
