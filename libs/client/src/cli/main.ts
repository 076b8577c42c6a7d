#!/usr/bin/env node
// The `tessera` command: see `tessera --help`, and cli.ts for the commands.
import { runCli } from './cli';
import { EXIT, type Io } from './context';

let interruptHandler: (() => void) | null = null;
let interrupted = false;

function onSignal(signal: NodeJS.Signals): void {
  // A second Ctrl-C, or one no command asked to handle, quits at once.
  if (interrupted || !interruptHandler) {
    process.stderr.write(interrupted ? '\nQuit.\n' : '\n');
    process.exit(signal === 'SIGTERM' ? 143 : EXIT.interrupted);
  }
  interrupted = true;
  interruptHandler();
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const io: Io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  onInterrupt(handler) {
    interruptHandler = handler;
  },
};

/** Exits once what was written has reached the pipe or terminal (the socket would keep the process alive). */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

runCli(process.argv.slice(2), io).then(exit, (error: unknown) => {
  process.stderr.write(`tessera: unexpected error: ${(error as Error)?.stack ?? String(error)}\nPlease report it with the command you ran.\n`);
  exit(EXIT.failure);
});
