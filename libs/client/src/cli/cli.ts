import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args';
import { downloadCommand } from './commands/download';
import { lsCommand } from './commands/ls';
import { rmCommand } from './commands/rm';
import { statusCommand } from './commands/status';
import { uploadCommand } from './commands/upload';
import { ConfigError } from './config';
import { EXIT, type Command, type Io } from './context';

export const COMMANDS: Command[] = [uploadCommand, statusCommand, lsCommand, downloadCommand, rmCommand];

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.synopsis.length));
  return `tessera: upload, inspect and download files on a Tessera service

Usage: tessera <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.synopsis.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     this help; \`tessera <command> --help\` for a command's
  --version      the version of tessera

Environment:
  TESSERA_URL            the gateway, e.g. http://localhost:3000 (required)
  TESSERA_TOKEN          a bearer token (required; \`npm start\` prints a development one)
  TESSERA_NOTIFIER_URL   the progress socket (notifier), e.g. http://localhost:3001
                         (default: TESSERA_URL, as behind an Ingress that routes /socket.io)
  TESSERA_STATE_DIR      where interrupted uploads are remembered
                         (default \${XDG_STATE_HOME:-~/.local/state}/tessera)

Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 130 interrupted.
`;
}

/** Runs one command line; resolves with the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || (first === 'help' && rest.length === 0)) {
    // Without a command it is a usage error: the help goes to stderr, exit code 2.
    (first === undefined ? io.stderr : io.stdout).write(mainHelp());
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '--version' || first === '-v') {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  // `tessera help upload` is `tessera upload --help`.
  const [name, args] = first === 'help' ? [rest[0]!, ['--help']] : [first, rest];
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`tessera: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(', ')}.\nRun \`tessera --help\` for more.\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`tessera ${command.name}: ${error.message}\nUsage: tessera ${command.synopsis}\nRun \`tessera ${command.name} --help\` for more.\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`tessera: ${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }
}
