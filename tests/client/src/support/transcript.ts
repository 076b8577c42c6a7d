// Records a real CLI session against a local stack, for the README:
//   npm run build && node --import tsx tests/client/src/support/transcript.ts [docs/cli-session.txt]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startStack } from '../../../e2e/src/support/stack';
import { CLI } from './cli';

const ROOT = join(__dirname, '..', '..', '..', '..');
const MiB = 1024 * 1024;
const DEMO = '/tmp/tessera-demo';

async function main(): Promise<void> {
  const out = process.argv[2] ?? join(ROOT, 'docs', 'cli-session.txt');
  const stack = await startStack({ LOG_LEVEL: 'warn' });
  rmSync(DEMO, { recursive: true, force: true });
  mkdirSync(DEMO, { recursive: true });
  writeFileSync(join(DEMO, 'holiday.mp4'), randomBytes(12 * MiB));
  writeFileSync(join(DEMO, 'notes.pdf'), randomBytes(300 * 1024));
  writeFileSync(join(DEMO, 'dataset.tar'), randomBytes(40 * MiB));
  const token = await stack.token('dev-user');
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TESSERA_'))),
    HOME: DEMO, // the state file goes to $HOME/.local/state/tessera/uploads.json
    XDG_STATE_HOME: '',
    TESSERA_URL: stack.gatewayUrl,
    TESSERA_NOTIFIER_URL: stack.notifierUrl,
    TESSERA_TOKEN: token,
    TESSERA_PROGRESS_INTERVAL_MS: '250',
  };
  const lines: string[] = [
    '# A real `tessera` session against a local stack (tests/client/src/support/transcript.ts).',
    '# stdout is not a terminal here, so progress comes as lines (every 250 ms); on a terminal',
    '# each file gets a bar redrawn in place: █ stored and verified, ▒ sent, speed and ETA.',
    `$ export TESSERA_URL=${stack.gatewayUrl}`,
    `$ export TESSERA_NOTIFIER_URL=${stack.notifierUrl}`,
    `$ export TESSERA_TOKEN=${token.slice(0, 16)}…   # npm start prints a development token`,
  ];
  let lastId = '';

  /** Runs one command (stderr merged into stdout), optionally pressing Ctrl-C once `interruptAt` shows. */
  const run = (args: string[], interruptAt?: RegExp) =>
    new Promise<void>((resolve) => {
      lines.push(`$ tessera ${args.join(' ')}`);
      const child = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, CLI, ...args], { cwd: DEMO, env, stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      let interrupted = false;
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        if (interruptAt && !interrupted && interruptAt.test(text)) {
          interrupted = true;
          text += '^C\n';
          child.kill('SIGINT');
        }
      });
      child.on('close', (code) => {
        lines.push(...text.trimEnd().split('\n'));
        if (code !== 0) lines.push(`$ echo $?`, String(code));
        const ids = text.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g);
        if (ids) lastId = ids[0]!;
        resolve();
      });
    });

  await run(['upload', 'holiday.mp4', 'notes.pdf']);
  const holiday = lastId;
  await run(['upload', 'dataset.tar', '--chunk-size', '1MiB', '--parallel', '2'], /dataset\.tar: sent [1-9]\d\.\d MiB/);
  await run(['upload', 'dataset.tar', '--chunk-size', '1MiB', '--parallel', '2']);
  const dataset = lastId;
  await run(['ls']);
  await run(['status', holiday]);
  await run(['download', holiday, '-o', 'holiday-copy.mp4']);
  await run(['download', holiday, '-o', 'holiday-copy.mp4']);
  await run(['rm', dataset]);
  await run(['status', dataset]);
  writeFileSync(out, `${lines.join('\n')}\n`);
  await stack.stop();
  rmSync(DEMO, { recursive: true, force: true });
  console.log(`wrote ${out}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
