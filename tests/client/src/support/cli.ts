import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');
/** The built CLI, run as users run it (the package's bin). */
export const CLI = join(ROOT, 'libs', 'client', 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The CLI's whole TESSERA_* environment: nothing is inherited from the test's own. */
  env: Record<string, string>;
  cwd: string;
}

/** A running CLI: its output so far, a way to wait for a line, and its end. */
export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in the stream's output (checked as it arrives). */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<CliResult>;
}

function environment(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TESSERA_')));
  return { ...base, ...env };
}

export function startCli(args: string[], options: CliOptions): CliProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -b libs/client)`);
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: environment(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters: Array<{ stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = out[waiter.stream].match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => ((out.stdout += d), check()));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => ((out.stderr += d), check()));
  const exited = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, ...out })));
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    waitFor(stream, pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} on ${stream} within ${timeoutMs} ms:\n${out.stdout}\n${out.stderr}`)), timeoutMs);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`the CLI exited before printing ${pattern} on ${stream}:\n${out.stdout}\n${out.stderr}`));
        });
        waiters.push({
          stream,
          pattern,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
        check();
      });
    },
    exited,
  };
}

/** Runs the CLI to its end. */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return startCli(args, options).exited;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** The rows of a table the CLI printed (columns are separated by two or more spaces), by header. */
export function parseTable(text: string, firstHeader: string): Array<Record<string, string>> {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${firstHeader} `));
  if (start < 0) throw new Error(`no table with a ${firstHeader} column in:\n${text}`);
  const headers = lines[start]!.trim().split(/\s{2,}/);
  const rows: Array<Record<string, string>> = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const cells = line.trim().split(/\s{2,}/);
    rows.push(Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
}
