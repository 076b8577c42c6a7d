import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { dropDatabase } from './migrate';

/** Runs the CLI from source, as an operator would run its compiled twin. */
function runCli(databaseUrl: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const cli = path.join(__dirname, 'migrate-cli.ts');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=@tessera/source', '--import', 'tsx', cli],
      { env: { ...process.env, DATABASE_URL: databaseUrl }, cwd: path.join(__dirname, '..', '..') },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('migrate-cli', () => {
  it('creates and migrates a database, one line per step, and exits 0', async () => {
    const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
    url.pathname = `/tessera_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    try {
      const run = await runCli(url.href);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain(`Created database "${url.pathname.slice(1)}"`);
      expect(run.stdout).toContain('Applied Migration20260301000000InitialSchema');
      expect(run.stdout.trim().split('\n').every((line) => line.startsWith('[migrate] '))).toBe(true);
    } finally {
      await dropDatabase(url.href);
    }
  }, 30_000);

  it('exits 1 saying which server it could not reach and what to do', async () => {
    const run = await runCli('postgres://postgres:hunter2@127.0.0.1:1/tessera');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Cannot connect to PostgreSQL at 127.0.0.1:1');
    expect(run.stderr).toContain('Start PostgreSQL, or point DATABASE_URL at a running server');
    expect(run.stdout + run.stderr).not.toContain('hunter2');
  }, 30_000);
});
