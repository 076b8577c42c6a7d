import { TesseraClient } from '../index';
import { loadCliConfig, type CliConfig } from './config';

/** What a command may touch: the environment, the streams, and the interrupt signal. */
export interface Io {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /**
   * Handles the first Ctrl-C (SIGINT) itself; a second one exits with 130 at once. Without a
   * handler, the first one does.
   */
  onInterrupt(handler: (() => void) | null): void;
}

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export interface Command {
  name: string;
  /** `upload <files…>`: the synopsis after `tessera`. */
  synopsis: string;
  /** One line for the command list. */
  summary: string;
  /** The whole `--help` text. */
  help: string;
  run(args: string[], io: Io): Promise<number>;
}

export interface Connection {
  config: CliConfig;
  client: TesseraClient;
}

/**
 * The client for TESSERA_URL / TESSERA_TOKEN. `retries`: a quick command (status, ls…) gives
 * up sooner than an upload, so a wrong URL is reported in seconds rather than a minute.
 */
export function connect(io: Io, options: { retries?: number } = {}): Connection {
  const config = loadCliConfig(io.env);
  const client = new TesseraClient({
    baseUrl: config.baseUrl,
    ...(config.notifierUrl ? { notifierUrl: config.notifierUrl } : {}),
    token: config.token,
    ...(options.retries !== undefined ? { retry: { retries: options.retries } } : {}),
  });
  return { config, client };
}

/** Writes `value` as indented JSON on stdout. */
export function printJson(io: Io, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
